"""Evaluation of a repair policy against baselines on the same held-out cases.

Methods: the policy (its search within its budget); plain steepest descent over the same
moving-focus steps, given the wall time the policy took on the same case; a random
operator walk and hill climbing on the event's focal task(s) with the same step budget;
best insertion of the focal task(s); the propositional (scikit-learn) Q-tree trained the
same way; a CP-SAT full reschedule within a time limit, and CP-SAT minimising tardiness
while moving at most as many orders as the policy did on that case (``cpsat_k``; both
need OR-Tools). Every final plan is validated; the report gives per method the mean
total tardiness, steps, moved orders, start shift, seconds and goal rate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rrl.domain.metrics import compute_stability
from rrl.domain.plan import Plan
from rrl.domain.plant import Plant
from rrl.domain.validator import validate
from rrl.errors import RRLError
from rrl.events import Disruption
from rrl.learning.agent import RepairAgent
from rrl.learning.baselines import best_insertion, hill_climbing, random_walk
from rrl.learning.cases import draw_case
from rrl.learning.goals import RepairContext

METHODS = ("policy", "untrained", "steepest_descent", "random_walk", "best_insertion", "hill_climbing",
           "propositional", "cpsat", "cpsat_k")


@dataclass
class MethodSummary:
    """Mean figures of one method over the cases."""

    method: str
    total_tardiness: float
    steps: float
    moved_orders: float
    start_shift: float
    seconds: float
    goal_rate: float
    per_case: list[float] = field(default_factory=list, repr=False)
    per_case_moved: list[int] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.pop("per_case")
        data.pop("per_case_moved")
        return data


@dataclass
class Evaluation:
    """The outcome of :func:`evaluate`."""

    cases: int
    disrupted_tardiness: float
    before_tardiness: float
    methods: dict[str, MethodSummary]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "before_tardiness": self.before_tardiness,
            "disrupted_tardiness": self.disrupted_tardiness,
            "methods": {name: m.to_dict() for name, m in self.methods.items()},
        }

    def table(self) -> str:
        """A Markdown table of the summary."""
        lines = [
            "| method | mean total tardiness (h) | mean steps | mean moved orders | mean start shift (h) "
            "| mean seconds | goal reached |",
            "|---|---|---|---|---|---|---|",
        ]
        for m in self.methods.values():
            lines.append(f"| {m.method} | {m.total_tardiness:.2f} | {m.steps:.2f} | {m.moved_orders:.2f} | "
                         f"{m.start_shift:.1f} | {m.seconds:.4f} | {m.goal_rate:.0%} |")
        return "\n".join(lines)


def draw_cases(plant: Plant, count: int, seed: int, orders: tuple[int, int], events: Sequence[str],
               family_steps: int = 1) -> list[Disruption]:
    """``count`` held-out cases (drawn from ``seed``, not the training stream)."""
    rng = random.Random(10_000_019 * (seed + 1))
    return [draw_case(plant, rng, orders=orders, events=events, family_steps=family_steps) for _ in range(count)]


def evaluate(
    agent: RepairAgent,
    cases: Sequence[Disruption],
    *,
    methods: Sequence[str] = METHODS,
    propositional: RepairAgent | None = None,
    cpsat_seconds: float = 5.0,
    budget_ms: float | None = None,
    node_limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Run ``methods`` on ``cases`` and summarise.

    ``steepest_descent`` gets the wall time the policy's search took on each case (or the
    policy's budget when the policy is not run, or when its search ended early at a plan
    that costs nothing): both searches get the same clock (the
    policy's row still reports its whole repair, explanations included, as a consult
    would take); ``cpsat_k`` may move as many orders as the policy moved (the policy
    runs first); ``untrained`` is the policy's search with no learned values
    (:meth:`RepairAgent.untrained`: Q is the step's reward), with the same budget: what the
    learned rules add. ``node_limit`` bounds the policy's (and the untrained and the
    propositional agents') search by node expansions instead of ``budget_ms``
    (:meth:`RepairAgent.repair`): their repairs are then the same on any machine.

    Raises
    ------
    RRLError
        When a method returns a plan the validator rejects (a bug, never hidden).
    """
    results: dict[str, list[tuple[Plan, int, float, RepairContext]]] = {m: [] for m in methods}
    order = sorted(methods, key=lambda m: m != "policy")  # the policy sets the others' yardsticks
    untrained = agent.untrained() if "untrained" in methods else None
    for index, hit in enumerate(cases):
        ctx = agent.goal.context(hit.before, hit.plan)
        policy_run: tuple[Plan, int, float] | None = None  # its plan, steps and search seconds
        for method in order:
            who = untrained if method == "untrained" and untrained is not None else agent
            plan, steps, seconds, searched = _run(method, who, propositional, hit, ctx, index, cpsat_seconds,
                                                  budget_ms, node_limit, policy_run)
            if method == "policy":
                policy_run = (plan, steps, searched)
            problems = validate(plan.problem, plan.schedule, plan.times, reference=(hit.before.schedule, hit.before.times))
            if problems:
                raise RRLError(f"internal error: {method} produced an invalid plan on case {index}: {problems[0]}")
            results[method].append((plan, steps, seconds, ctx))
        if progress is not None:
            progress(index)
    summaries = {}
    for method in methods:
        rows = results[method]
        stability = [compute_stability(p.schedule, p.times, ctx.before.schedule, ctx.before.times) for p, _, _, ctx in rows]
        summaries[method] = MethodSummary(
            method=method,
            total_tardiness=float(np.mean([plan.total_tardiness for plan, _, _, _ in rows])),
            steps=float(np.mean([s for _, s, _, _ in rows])),
            moved_orders=float(np.mean([s.moved_orders for s in stability])),
            start_shift=float(np.mean([s.start_shift for s in stability])),
            seconds=float(np.mean([t for _, _, t, _ in rows])),
            goal_rate=float(np.mean([ctx.reached(plan) for plan, _, _, ctx in rows])),
            per_case=[plan.total_tardiness for plan, _, _, _ in rows],
            per_case_moved=[s.moved_orders for s in stability],
        )
    return Evaluation(
        cases=len(cases),
        disrupted_tardiness=float(np.mean([h.plan.total_tardiness for h in cases])),
        before_tardiness=float(np.mean([h.before.total_tardiness for h in cases])),
        methods=summaries,
    )


def _run(method: str, agent: RepairAgent, propositional: RepairAgent | None, hit: Disruption, ctx: RepairContext,
         index: int, cpsat_seconds: float, budget_ms: float | None, node_limit: int | None,
         policy_run: tuple[Plan, int, float] | None) -> tuple[Plan, int, float, float]:
    """A method's plan, steps, seconds and (for a search) the seconds of its search."""
    budget = agent.steps_for(hit.plan)  # the baselines' steps: the policy's limit on this plan
    if method in ("policy", "untrained"):  # (``agent`` is the untrained twin for the latter)
        result = agent.repair(hit, budget_ms=budget_ms, node_limit=node_limit)
        return result.plan, len(result.steps), result.seconds, result.search_seconds
    if method == "propositional":
        if propositional is None:
            raise RRLError("the propositional baseline needs a trained propositional agent")
        result = propositional.repair(hit, budget_ms=budget_ms, node_limit=node_limit)
        return result.plan, len(result.steps), result.seconds, result.search_seconds
    if method == "steepest_descent":
        from rrl.learning.search import Neighbourhood, default_budget_ms, steepest_descent

        allowed = (budget_ms or agent.budget_ms or default_budget_ms(len(hit.plan.problem.orders))) / 1000.0
        seconds = allowed
        if policy_run is not None:
            # the policy's time; where its search ended early at a plan costing nothing
            # (none can cost less), the budget it was allowed: the descent gets as much
            seconds = policy_run[2] if ctx.cost(policy_run[0]) > 1e-9 else max(policy_run[2], allowed)
        # (the policy's trained focus width, not the wider one its repairs of large plans
        # take: at equal time the plain descent does better with the narrow one,
        # docs/benchmarks.md, "A wider focus on larger plans")
        hood = Neighbourhood(hit, ctx, agent.q_function, focus_width=agent.focus_width,
                             moves_per_focus=agent.moves_per_focus, reach=agent.reach,
                             longest_block=agent.longest_block, exchanges=agent.exchanges)
        outcome = steepest_descent(hood, budget_s=seconds)
        return outcome.best.plan, outcome.best.depth, outcome.seconds, outcome.seconds
    if method == "random_walk":
        found = random_walk(hit, ctx, budget, seed=index)
    elif method == "hill_climbing":
        found = hill_climbing(hit, ctx, budget)
    elif method == "best_insertion":
        found = best_insertion(hit, ctx)
    elif method in ("cpsat", "cpsat_k"):
        from rrl.learning.cpsat import cpsat_reschedule

        started = time.perf_counter()
        limit = None
        if method == "cpsat_k":
            if policy_run is None:
                raise RRLError("cpsat_k moves at most as many orders as the policy: run it with the policy")
            limit = ctx.moved(policy_run[0])
        plan = cpsat_reschedule(hit.plan.problem, hit.plan, time_limit=cpsat_seconds, reference=hit.before,
                                max_moved=limit)
        seconds = time.perf_counter() - started
        return plan, 0, seconds, seconds
    else:
        raise RRLError(f"unknown method '{method}' (expected one of {', '.join(METHODS)})")
    return found.plan, found.steps, found.seconds, found.seconds
