"""Cost of reading policies as data (issue 12): loading, scoring and consulting.

    python3 benchmarks/bench_policy_load.py [--episodes 450] [--seed 0] [--repeats 5]

Trains the tardiness policy of benchmarks/bench_repair.py on the extruders (all four
events, seed 0), saves it, then measures, on 30 held-out cases of 10-20 orders (new and
rush orders; medians):
1. loading the policy directory (metadata, and the Prolog files read and checked);
2. scoring: the Q-values of every candidate step of the first search node;
3. a consult with a fixed amount of search (40 nodes, no time budget): the work a
   budget buys;
4. a consult at the default budget, as bench_repair.py times it.
It imports rrl from the tree it lives in: a copy run in an older checkout gives the
baseline on the same machine in the same run (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rrl  # noqa: E402
from rrl.domain import load_scenario  # noqa: E402
from rrl.events import EVENTS  # noqa: E402
from rrl.learning import RepairAgent  # noqa: E402
from rrl.learning.evaluate import draw_cases  # noqa: E402


def _best_of(repeats: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=450)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=40)
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    print(f"rrl from {Path(rrl.__file__).parent}")
    plant = load_scenario(root / "scenarios" / "extruders.yaml").plant
    started = time.perf_counter()
    agent = RepairAgent(plant, "tardiness", events=EVENTS, seed=args.seed).learn(args.episodes)
    print(f"training: {time.perf_counter() - started:.1f} s, {agent.n_leaves} abstract states")
    directory = Path(tempfile.mkdtemp(prefix="bench_policy_")) / "policy"
    agent.save(directory)
    load = _best_of(args.repeats, partial(RepairAgent.load, directory))
    print(f"load the policy directory: {load * 1000:.1f} ms")

    loaded = RepairAgent.load(directory)
    cases = draw_cases(plant, 30, args.seed + 1, (10, 20), ("new_order", "rush_order"))
    q = loaded.q_function
    scoring, actions = [], []
    for hit in cases:
        hood = loaded.neighbourhood(hit)
        root_node = hood.root()
        candidates = hood.expand(root_node)
        groups: dict[str, list[list[str]]] = {}
        for candidate in candidates:
            groups.setdefault(candidate.focus.task, []).append(candidate.facts)
        batch = [(root_node.focus_facts[task], steps) for task, steps in groups.items()]
        q.set_state(hood.state_of(root_node))
        scoring.append(_best_of(args.repeats, partial(q.group_values, batch)))
        actions.append(len(candidates))
    print(f"Q-values of the first node's candidate steps, one Prolog call (mean {statistics.mean(actions):.0f} "
          f"steps): median {statistics.median(scoring) * 1000:.2f} ms, "
          f"{sum(actions) / sum(scoring):,.0f} Q-values/s")
    fixed = [_best_of(args.repeats, partial(loaded.repair, hit, node_limit=args.nodes, budget_ms=600_000))
             for hit in cases]
    print(f"consult, {args.nodes} search nodes: median {statistics.median(fixed) * 1000:.1f} ms, "
          f"max {max(fixed) * 1000:.1f} ms")
    default = [loaded.repair(hit).seconds for hit in cases]
    print(f"consult, default budget: median {statistics.median(default) * 1000:.1f} ms, "
          f"max {max(default) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
