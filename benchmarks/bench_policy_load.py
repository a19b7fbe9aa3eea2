"""Cost of reading policies as data (issue 12): loading, scoring and consulting.

    python3 benchmarks/bench_policy_load.py [--episodes 450] [--seed 0] [--repeats 5]

Trains the tardiness policy of benchmarks/bench_repair.py (extruders, 450 episodes,
seed 0), saves it, then measures (medians):
1. loading the policy directory (metadata, and the Prolog files read and checked);
2. Q-values of every candidate action of one state (one Prolog call per focal task);
3. consult latency on the cases of bench_repair.py's latency table (20 orders on the
   extruders; 500 orders on 152 machines).
It imports rrl from the tree it lives in, so running a copy of it in an older checkout
gives the baseline of the same machine and run (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import rrl  # noqa: E402
from bench_repair import _needs_repair  # noqa: E402
from rrl.dispatching import dispatch  # noqa: E402
from rrl.domain import Plan, load_scenario  # noqa: E402
from rrl.domain.generate import generate_scenario  # noqa: E402
from rrl.events import Disruption, draw_event  # noqa: E402
from rrl.learning import RepairAgent  # noqa: E402
from rrl.learning.evaluate import draw_cases  # noqa: E402


def _median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def _consult(agent: RepairAgent, cases: list[Disruption], repeats: int) -> tuple[float, float]:
    """Median and max over cases of each case's best-of-``repeats`` consult time (ms)."""
    per_case = []
    for hit in cases:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            agent.repair(hit)
            times.append(time.perf_counter() - started)
        per_case.append(min(times))
    return statistics.median(per_case) * 1000, max(per_case) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=450)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"rrl from {Path(rrl.__file__).parent}")
    plant = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "extruders.yaml").plant
    started = time.perf_counter()
    agent = RepairAgent(plant, "tardiness", seed=args.seed).learn(args.episodes)
    print(f"training: {time.perf_counter() - started:.1f} s, {agent.n_leaves} abstract states")
    directory = Path(tempfile.mkdtemp(prefix="bench_policy_")) / "policy"
    agent.save(directory)

    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        loaded = RepairAgent.load(directory)
        times.append(time.perf_counter() - started)
    print(f"load the policy directory: {_median_ms(times):.1f} ms")

    small = [h for h in draw_cases(plant, 60, args.seed + 3, (20, 20), ("new_order", "rush_order", "breakdown",
                                                                          "material_delay")) if _needs_repair(agent, h)]
    small = small[:30]
    moves = [loaded._moves(hit.plan, hit.focal) for hit in small]
    moves = [m for m in moves if m]
    times = []
    for _ in range(args.repeats):
        for candidate in moves:
            started = time.perf_counter()
            loaded.q_values(candidate)
            times.append(time.perf_counter() - started)
    print(f"Q-values of one state's candidate actions (mean {statistics.mean(len(m) for m in moves):.0f} actions, "
          f"20 orders): {_median_ms(times):.2f} ms")

    median, worst = _consult(loaded, small, args.repeats)
    print(f"consult, 20 orders, 3 extruders ({len(small)} cases): median {median:.1f} ms, max {worst:.1f} ms")
    scenario = generate_scenario(machines=152, types=42, orders=500, family_steps=5, breaks=True, seed=args.seed)
    plan = Plan.build(scenario.problem, dispatch(scenario.problem, "edd"))
    rng = random.Random(args.seed)
    large: list[Disruption] = []
    while len(large) < 12:
        hit = draw_event(rng.choice(("rush_order", "breakdown", "material_delay")), plan, rng)
        if hit.focal and _needs_repair(loaded, hit):
            large.append(hit)
    median, worst = _consult(loaded, large, max(1, args.repeats // 2))
    print(f"consult, 500 orders, 152 machines ({len(large)} cases): median {median:.1f} ms, max {worst:.1f} ms")


if __name__ == "__main__":
    main()
