"""Speed of the schedule world at the PPO seed's scale (152 machines, 500 orders).

Prints medians and, for each figure, a baseline measured in the same run (absolute
times wander on a shared machine; the ratios are what to compare):

- full timing (Kahn order, one pass) vs a naive relaxation to a fixed point;
- one repair operator with incremental re-timing vs the same operator re-timed in full;
- the EDD schedule (list scheduling, O(1) append checks) vs a naive EDD that re-times the
  whole partial schedule for every candidate resource.

Run: python benchmarks/bench_domain.py [--repeats N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from rrl.dispatching import dispatch
from rrl.domain import Plan, Problem, Schedule, compute_times
from rrl.domain.generate import generate_scenario
from rrl.domain.timing import clear_downtime
from rrl.errors import NotApplicable
from rrl.operators import apply
from rrl.operators.repair import _enumerate, changes_of


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        work()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def naive_times(problem: Problem, schedule: Schedule) -> dict[str, float]:
    """Relax every order's start until nothing moves (no topological order)."""
    plant, orders = problem.plant, problem.orders
    placed = [(r, o, seq[i - 1] if i else None) for r, seq in schedule.sequences.items() for i, o in enumerate(seq)]
    end = dict.fromkeys(schedule.orders(), 0.0)
    changed = True
    while changed:
        changed = False
        for resource, order, previous in placed:
            spec = orders[order]
            before = orders[previous].product if previous else plant.resources[resource].initial_product
            gap = plant.setup(before, spec.product)
            t = max((end[previous] if previous else 0.0) + gap, spec.release, *(end[k] for k in spec.after))
            dur = problem.durations[order][resource]
            t = clear_downtime(t, gap, dur, plant.resources[resource].downtime)
            if abs(t + dur - end[order]) > 1e-12:
                end[order] = t + dur
                changed = True
    return end


def naive_edd(problem: Problem) -> Schedule:
    """EDD that tries each eligible resource by re-timing the whole partial schedule."""
    orders = problem.orders
    sequences: dict[str, list[str]] = {r: [] for r in problem.plant.resources}
    placed: set[str] = set()
    todo = sorted(orders, key=lambda o: (not orders[o].important, orders[o].due))
    while todo:
        order = next(o for o in todo if all(a in placed for a in orders[o].after))
        todo.remove(order)
        best, best_end = "", float("inf")
        for resource in problem.durations[order]:
            trial = {**sequences, resource: [*sequences[resource], order]}
            end = compute_times(problem, Schedule(trial)).end[order]
            if end < best_end:
                best, best_end = resource, end
        sequences[best].append(order)
        placed.add(order)
    return Schedule(sequences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    scenario = generate_scenario(machines=152, types=42, orders=500, family_steps=5, breaks=True, seed=0)
    problem = scenario.problem
    schedule = dispatch(problem, "edd")
    plan = Plan.build(problem, schedule)

    rows = []
    full = median_seconds(lambda: compute_times(problem, schedule), args.repeats * 3)
    naive = median_seconds(lambda: naive_times(problem, schedule), max(3, args.repeats // 3))
    rows.append(("recompute times, 500 orders / 152 machines", full, "naive fixed-point relaxation", naive, "<= 2 ms"))

    rng = random.Random(0)
    actions = []
    orders = list(schedule.orders())
    while len(actions) < 200:
        focal = rng.choice(orders)
        candidates = list(_enumerate(plan, focal))
        if candidates:
            actions.append(rng.choice(candidates))
    applicable = []
    for action in actions:
        try:
            apply(plan, action)
            applicable.append(action)
        except NotApplicable:
            continue

    def incremental() -> None:
        for action in applicable:
            apply(plan, action)

    def from_scratch() -> None:
        for action in applicable:
            changes = changes_of(plan, action)
            Plan.build(problem, schedule.replace(changes))

    per = len(applicable)
    inc = median_seconds(incremental, max(3, args.repeats // 5)) / per
    scratch = median_seconds(from_scratch, max(3, args.repeats // 5)) / per
    rows.append((f"apply one operator + re-time (mean of {per} operators)", inc, "same operator, full re-timing", scratch, "<= 1 ms"))

    edd = median_seconds(lambda: dispatch(problem, "edd"), max(3, args.repeats // 3))
    naive_build = median_seconds(lambda: naive_edd(problem), 3)
    rows.append(("build the EDD schedule, 500 orders / 152 machines", edd, "naive EDD (full re-timing per candidate)", naive_build, "<= 0.5 s"))

    print("| measure | median | baseline (same run) | baseline median | speed-up | target |")
    print("|---|---|---|---|---|---|")
    for name, value, base_name, base, target in rows:
        print(f"| {name} | {_fmt(value)} | {base_name} | {_fmt(base)} | {base / value:.1f}x | {target} |")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
