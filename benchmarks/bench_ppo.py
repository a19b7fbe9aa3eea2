"""PPO scheduler: speed at full scale and the KPI table against the rules on held-out plants.

- Speed: median wall time of one full PPO schedule (500 orders, 152 machines, inference,
  validation and the safety checks included, model loading excluded) against the best
  tardiness rules' schedules timed in the same run. Target <= 1 s.
- KPIs: on held-out generated plants of the training distribution (seeds that training
  never draws, see rrl.generative.instances), the KPI table of ``rrl ppo evaluate`` (mean
  tardiness, on-time rate, makespan, utilisation spread, cleanouts, work in breaks, time)
  at 10, 40 and 152 machines, with PPO's total tardiness against the best rule of the
  table; with ``--samples K`` also the best of PPO's greedy schedule and K sampled ones.

Run: python benchmarks/bench_ppo.py [--model models/tardiness.zip] [--instances 20] [--repeats 5] [--samples K]
     [--first N] [--sizes 10,40,152]
Prints Markdown tables and, with --json, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rrl.dispatching import dispatch
from rrl.domain.plan import Plan
from rrl.generative.evaluate import evaluate, format_table
from rrl.generative.instances import held_out, stage_source
from rrl.generative.policy import load_model
from rrl.generative.safety import ppo_schedule

ROOT = Path(__file__).resolve().parent.parent
RULES = ("edd", "mdd", "slack")


def speed(model: object, repeats: int) -> dict[str, object]:
    """Median seconds of a full 500-order / 152-machine schedule: PPO and the rules."""
    problems = held_out(stage_source(152), repeats, fixed_orders=500)
    ppo: list[float] = []
    rules: dict[str, list[float]] = {r: [] for r in RULES}
    sources = []
    for problem in problems:
        began = time.perf_counter()
        result = ppo_schedule(problem, model)
        ppo.append(time.perf_counter() - began)
        sources.append(result.source)
        for rule in RULES:
            began = time.perf_counter()
            Plan.build(problem, dispatch(problem, rule))
            rules[rule].append(time.perf_counter() - began)
    return {"ppo_s": statistics.median(ppo), "rules_s": {r: statistics.median(v) for r, v in rules.items()},
            "fallbacks": sum(s != "ppo" for s in sources), "instances": len(problems)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "tardiness.zip")
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="10,40,152", help="plant sizes (machines) of the KPI tables")
    parser.add_argument("--samples", type=int, default=0,
                        help="also the best of the greedy schedule and this many sampled ones (a row per table)")
    parser.add_argument("--first", type=int, default=0,
                        help="skip this many held-out plants (a fresh sample: the tables' plants are 0..instances-1)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.first < 0:
        parser.error("--first: expected a count >= 0 (below the held-out plants lie the training seeds)")
    model = load_model(args.model)

    timing = speed(model, args.repeats)
    quality = {}
    for machines in (int(m) for m in args.sizes.split(",")):
        problems = held_out(stage_source(machines), args.instances, first=args.first)
        quality[machines] = evaluate(problems, model, samples=args.samples)
    if args.json:
        print(json.dumps({"speed": timing, "first": args.first,
                          "quality": {m: [r.to_dict() for r in rows] for m, rows in quality.items()}}))
        return
    rules_s = timing["rules_s"]
    assert isinstance(rules_s, dict)
    print(f"model: {args.model}")
    print("| measure | PPO median | rules (same run) | target |")
    print("|---|---|---|---|")
    print(f"| full schedule, 500 orders / 152 machines ({timing['instances']} instances, "
          f"{timing['fallbacks']} fallbacks) | {timing['ppo_s']:.3f} s | "
          + ", ".join(f"{r} {s:.3f} s" for r, s in rules_s.items()) + " | <= 1 s |")
    for machines, rows in quality.items():
        by = {r.method: r for r in rows}
        best = min((r for r in rows if not r.method.startswith("ppo")), key=lambda r: r.mean_tardiness_h)
        print()
        sample = f"held-out instances {args.first}-{args.first + args.instances - 1}" if args.first else \
            "held-out instances"
        print(format_table(rows, f"{args.instances} {sample}, generated {machines}-machine plants"))
        for method, label in (("ppo", "PPO"), ("ppo_best", f"PPO, best of {1 + args.samples}")):
            if method in by:
                ratio = by[method].mean_tardiness_h / best.mean_tardiness_h if best.mean_tardiness_h else float("nan")
                print(f"{label} mean tardiness / best rule of the table ({best.method}): {ratio:.3f}x")


if __name__ == "__main__":
    main()
