"""What a fork costs a consult: the second walk in processes that hold more memory.

Consult's walk runs a second walk in a forked process (``RepairAgent.walkers``); the fork
keeps the parent waiting while the kernel prepares every page of its resident memory for
copy-on-write. For memory held beside the library (Python objects, or one NumPy array,
as a notebook's data would be; the kernel maps a large array in huge pages, which a fork
handles at a small part of the cost), this prints the resident memory, the median fork
time, then the repair benchmark's quality-table cases of the extruders (30 held-out
cases of 10-20 orders, new and rush orders, walk seeds 0..N-1, the default budget)
repaired three ways in the same process:

- one walk (``walkers=1``);
- two walks whatever the fork costs (the rule before stop 38);
- the default: two walks only where the fork would take at most ``FORK_SHARE`` of the
  walk's time (:func:`rrl.learning.search.worth_forking`), starting as a process that
  has not forked yet; with the share of its consults that forked.

Run: python benchmarks/bench_fork.py [--held none:0,objects:0.5,objects:1,objects:2,array:2] [--seeds 4]
     [--episodes 450]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np

from rrl import _fork
from rrl.domain import load_scenario
from rrl.events import EVENTS
from rrl.learning import RepairAgent, recreate, search
from rrl.learning.evaluate import draw_cases

NEW = ("new_order", "rush_order")


def fork_ms(repeats: int = 15) -> float:
    """Median milliseconds of a fork of this process (the parent's wait)."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        with warnings.catch_warnings():  # (Python 3.12 warns of the Prolog engine's threads)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            os._exit(0)
        times.append(time.perf_counter() - began)
        os.waitpid(pid, 0)
    return statistics.median(times) * 1000.0


def mean_tardiness(agent: RepairAgent, cases: list, seeds: int) -> tuple[float, float]:
    """Mean repaired total tardiness over cases and walk seeds, and the median consult ms."""
    values, seconds = [], []
    for seed in range(seeds):
        for case in cases:
            result = agent.repair(case, seed=seed)
            values.append(result.plan.total_tardiness)
            seconds.append(result.seconds)
    return statistics.mean(values), statistics.median(seconds) * 1000.0


def _held(kind: str, gib: float) -> object:
    """About ``gib`` GiB held: small Python objects (about 460 bytes each, as a list of
    records would be), one NumPy array (written, so resident), or nothing."""
    if kind == "objects":
        return [{"a": [i, str(i)], "b": (i,)} for i in range(int(gib * 2**30 / 460))]
    if kind == "array":
        return np.ones(int(gib * 2**30), dtype=np.uint8)
    if kind == "none":
        return None
    raise SystemExit(f"--held: expected objects, array or none before ':' (got {kind!r})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held", default="none:0,objects:0.5,objects:1,objects:2,array:2",
                        help="what is held beside the library: comma list of objects|array|none:GiB")
    parser.add_argument("--seeds", type=int, default=4, help="walk seeds per case")
    parser.add_argument("--episodes", type=int, default=450)
    args = parser.parse_args()
    try:
        held_list = [(kind, float(size)) for kind, size in (item.split(":") for item in args.held.split(","))]
    except ValueError:
        parser.error(f"--held: expected a comma list of objects|array|none:GiB (got {args.held!r})")
    plant = load_scenario("scenarios/extruders.yaml").plant
    agent = RepairAgent(plant, "tardiness", events=EVENTS, seed=0).learn(args.episodes)
    cases = draw_cases(plant, 30, 1, (10, 20), NEW)
    default_rule, run_forked = search.worth_forking, recreate.run_forked
    forked: list[int] = []

    def counted(*args: object, **kwargs: object) -> object:
        forked.append(1)
        return run_forked(*args, **kwargs)

    print("| held beside | resident (MiB) | fork, median ms | one walk (h) | two walks always (h) "
          "| default (h) | default's consults that forked | default's consult median ms |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, size in held_list:
        held = _held(kind, size)
        resident = (_fork.resident_bytes() or 0) / 2**20
        forking = fork_ms()
        agent.walkers = 1
        one, _ = mean_tardiness(agent, cases, args.seeds)
        agent.walkers = 2
        search.worth_forking = lambda left, forks=1: left >= search.FORK_FROM_S
        try:
            two, _ = mean_tardiness(agent, cases, args.seeds)
        finally:
            search.worth_forking = default_rule
        agent.walkers = None
        _fork._fork_rate, _fork._declined = None, 0  # (as in a process that has not forked yet)
        forked.clear()
        recreate.run_forked = counted
        try:
            default, ms = mean_tardiness(agent, cases, args.seeds)
        finally:
            recreate.run_forked = run_forked
        share = len(forked) / (len(cases) * args.seeds)
        print(f"| {kind}, {size:g} GiB | {resident:.0f} | {forking:.1f} | {one:.2f} | {two:.2f} | {default:.2f} "
              f"| {share:.0%} | {ms:.1f} |", flush=True)
        del held


if __name__ == "__main__":
    main()
