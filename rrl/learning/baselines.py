"""Baselines that repair the same disruptions as a policy, with the same step budget.

- ``random_walk``: a random applicable operator each step (keeping the best plan seen,
  like the policy);
- ``best_insertion``: each focal task taken out and put back at its best place (every
  position on every eligible resource), the classic insertion heuristic;
- ``hill_climbing``: steepest descent over the same operators, stopping at a local optimum.

Each returns a :class:`BaselineResult` judged by the goal's measure (``RepairContext``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from rrl.domain.plan import Plan
from rrl.errors import CycleError
from rrl.events import Disruption
from rrl.learning.goals import RepairContext
from rrl.operators.repair import successors


@dataclass
class BaselineResult:
    """Final plan of a repair method, the steps to reach it and the time it took."""

    plan: Plan
    steps: int
    seconds: float


def random_walk(hit: Disruption, ctx: RepairContext, budget: int, seed: int = 0) -> BaselineResult:
    """Random operators for ``budget`` steps; the best plan seen is kept."""
    started = time.perf_counter()
    rng = random.Random(seed)
    plan = best = hit.plan
    best_cost, best_step = ctx.cost(plan), 0
    for step in range(1, budget + 1):
        if ctx.reached(plan):
            break
        moves = [(a, p) for task in hit.focal for a, p in successors(plan, task)]
        if not moves:
            break
        plan = rng.choice(moves)[1]
        cost = ctx.cost(plan)
        if cost < best_cost - 1e-9:
            best, best_cost, best_step = plan, cost, step
    return BaselineResult(best, best_step, time.perf_counter() - started)


def hill_climbing(hit: Disruption, ctx: RepairContext, budget: int) -> BaselineResult:
    """Steepest descent on the goal's cost over every applicable operator."""
    started = time.perf_counter()
    plan, cost, steps = hit.plan, ctx.cost(hit.plan), 0
    while steps < budget and not ctx.reached(plan):
        candidates = [p for task in hit.focal for _, p in successors(plan, task)]
        if not candidates:
            break
        scored = min(candidates, key=ctx.cost)
        better = ctx.cost(scored)
        if better >= cost - 1e-9:
            break
        plan, cost, steps = scored, better, steps + 1
    return BaselineResult(plan, steps, time.perf_counter() - started)


def best_insertion(hit: Disruption, ctx: RepairContext) -> BaselineResult:
    """Re-insert each focal task (in order) where the goal's cost is lowest."""
    started = time.perf_counter()
    plan = hit.plan
    steps = 0
    for task in hit.focal:
        resource, index = plan.schedule.where[task]
        seq = plan.schedule.sequence(resource)
        without = plan.schedule.replace({resource: seq[:index] + seq[index + 1 :]})
        best, best_cost = plan, ctx.cost(plan)
        for target in plan.problem.durations[task]:
            line = without.sequence(target)
            floor = plan.frozen_prefix(target)
            for k in range(floor, len(line) + 1):
                candidate = without.replace({target: line[:k] + (task,) + line[k:]})
                try:
                    trial = Plan.build(plan.problem, candidate)
                except CycleError:  # a cycle through `after`: not a place for it
                    continue
                cost = ctx.cost(trial)
                if cost < best_cost - 1e-9:
                    best, best_cost = trial, cost
        if best is not plan:
            plan, steps = best, steps + 1
    return BaselineResult(plan, steps, time.perf_counter() - started)
