"""Speed of the repair search's step evaluation: steps priced from their sequences
against every step re-timed into a plan, in the same run on the same cases.

A converged steepest descent over the moving-focus steps (the first pass of consult's
search) on held-out cases of 10-20 orders, each case run both ways, alternately: on the
extruder plant (no ``after``: every step can be priced) or on bench_repair's generated
plant (families chained by ``after``: nothing is priced, both ways re-time every step,
which shows what the check costs). Both ways must end at the same plans; the figure is the median milliseconds
per case. On the extruder plant, ``--walk-tries N`` then times consult's ruin-and-recreate
walk (rrl.learning.recreate) from each converged plan, N tries per case (a fixed count:
the plan found depends on the code's speed only through the budget, so two versions of
the code must print the same mean tardiness).

Run: python benchmarks/bench_search.py [--plant extruders|generated] [--cases 30] [--repeats 3] [--walk-tries 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from rrl.domain import load_scenario
from rrl.domain.generate import generate_scenario
from rrl.events import Disruption
from rrl.learning import RepairAgent
from rrl.learning.evaluate import draw_cases
from rrl.learning.recreate import RuinAndRecreate
from rrl.learning.search import Neighbourhood, Node, SearchOutcome, steepest_descent


def descend(agent: RepairAgent, hit: Disruption, priced: bool) -> tuple[float, SearchOutcome, Neighbourhood]:
    """Seconds, outcome and neighbourhood of a converged descent."""
    ctx = agent.goal.context(hit.before, hit.plan)
    hood = Neighbourhood(hit, ctx, agent.q_function, focus_width=agent.focus_width,
                         moves_per_focus=agent.moves_per_focus, reach=agent.reach, price_steps=priced)
    began = time.perf_counter()
    outcome = steepest_descent(hood, budget_s=60.0)
    return time.perf_counter() - began, outcome, hood


def walk(hood: Neighbourhood, node: Node, tries: int, seed: int) -> tuple[float, float]:
    """Seconds and total tardiness of ``tries`` tries of the walk from ``node`` (at most
    10 placements: consult's step limit until 2026-12-03, kept so that runs compare)."""
    count = [0]

    def done() -> bool:
        count[0] += 1
        return count[0] > tries

    began = time.perf_counter()
    found = hood.recreate(hood.root(), node, RuinAndRecreate(), room=10, rng=random.Random(seed), done=done,
                          progress=lambda: min(1.0, count[0] / tries))
    return time.perf_counter() - began, (found or node).plan.total_tardiness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plant", choices=("extruders", "generated"), default="extruders")
    parser.add_argument("--walk-tries", type=int, default=0, help="then time N walk tries per case (extruders)")
    args = parser.parse_args()
    if args.plant == "extruders":
        plant, steps = load_scenario("scenarios/extruders.yaml").plant, 1
    else:  # bench_repair's generated plant and cases
        plant, steps = generate_scenario(machines=5, types=3, orders=1, family_steps=3, breaks=True, seed=7).plant, 3
    agent = RepairAgent(plant)  # the foci come from the background; no value is read
    cases = draw_cases(plant, args.cases, args.seed, (10, 20), ("new_order", "rush_order"), family_steps=steps)
    times: dict[bool, list[float]] = {True: [], False: []}
    ends: list[tuple[Neighbourhood, Node]] = []
    for _ in range(args.repeats):
        ends.clear()
        for hit in cases:
            found = []
            for priced in (False, True):
                seconds, outcome, hood = descend(agent, hit, priced)
                times[priced].append(seconds)
                found.append(outcome.best.plan.schedule)
            if found[0] != found[1]:
                raise SystemExit("the two ways ended at different plans")
            ends.append((hood, outcome.best))
    kept, full = statistics.median(times[True]), statistics.median(times[False])
    print(f"Converged steepest descent, {args.cases} cases of 10-20 orders ({args.plant}, new and rush orders), "
          f"{args.repeats} repeats, alternated per case; the same plans both ways.\n")
    print("| evaluation | median ms per case | baseline (same run) | baseline median ms | speed-up |")
    print("|---|---|---|---|---|")
    print(f"| steps priced from their sequences, re-timed when read | {1000 * kept:.1f} | every step re-timed "
          f"into a plan | {1000 * full:.1f} | {full / kept:.2f}x |")
    if args.walk_tries > 0 and args.plant == "extruders":
        per_try, tardiness = [], []
        for repeat in range(args.repeats):
            for hood, node in ends:
                seconds, walked = walk(hood, node, args.walk_tries, repeat)
                per_try.append(seconds / args.walk_tries)
                tardiness.append(walked)
        descended = statistics.mean(node.plan.total_tardiness for _, node in ends)
        print(f"\nThe walk from each converged plan, {args.walk_tries} tries per case, {args.repeats} seeds: median "
              f"{1e6 * statistics.median(per_try):.0f} us per try; mean total tardiness {descended:.4f} h after the "
              f"descent, {statistics.mean(tardiness):.4f} h after the walk.")


if __name__ == "__main__":
    main()
