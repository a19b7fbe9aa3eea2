"""PPO scheduler: speed at full scale and tardiness against the rules on held-out instances.

- Speed: median wall time of one full PPO schedule (500 orders, 152 machines, network
  inference, validation and the safety checks included, model loading excluded) against
  the EDD rule's schedule timed in the same run. Target <= 5 s.
- Quality: on held-out generated instances of the training distribution (seeds that
  training never draws, see rrl.generative.instances), mean tardiness per order of PPO
  against EDD (target >= 20 % below) and ATCS (target: not worse), at 40 and 152 machines.

Run: python benchmarks/bench_ppo.py [--model models/generated.zip] [--instances 20] [--repeats 5]
Prints Markdown tables (the ones in docs/benchmarks.md) and, with --json, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rrl.dispatching import dispatch
from rrl.domain.plan import Plan
from rrl.generative.env import DispatchEnv
from rrl.generative.evaluate import evaluate, format_table
from rrl.generative.instances import held_out, stage_source
from rrl.generative.policy import load_model
from rrl.generative.safety import ppo_schedule

ROOT = Path(__file__).resolve().parent.parent


def speed(model: object, repeats: int) -> dict[str, float]:
    """Median seconds of a full 500-order / 152-machine schedule: PPO and EDD."""
    problems = held_out(stage_source(152), repeats, fixed_orders=500)
    ppo, edd, sources = [], [], []
    for problem in problems:
        began = time.perf_counter()
        result = ppo_schedule(problem, model)
        ppo.append(time.perf_counter() - began)
        sources.append(result.source)
        began = time.perf_counter()
        Plan.build(problem, dispatch(problem, "edd"))
        edd.append(time.perf_counter() - began)
    return {"ppo_s": statistics.median(ppo), "edd_s": statistics.median(edd),
            "fallbacks": sum(s != "ppo" for s in sources), "instances": len(problems)}


def due_date_only(problems: list) -> float:
    """Mean tardiness of plain earliest-due-date dispatching (importance ignored): the PPO
    environment with slot 1 chosen every time. A reference, not a target."""
    values = []
    for problem in problems:
        env = DispatchEnv(problem)
        env.reset()
        done = False
        while not done:
            _, _, done, _, _ = env.step(1)
        assert env.state is not None
        values.append(env.state.total_tardiness / max(1, env.state.n))
    return statistics.fmean(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "generated.zip")
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = load_model(args.model)

    timing = speed(model, args.repeats)
    quality = {}
    reference = {}
    for machines in (40, 152):
        problems = held_out(stage_source(machines), args.instances)
        quality[machines] = evaluate(problems, model)
        reference[machines] = due_date_only(problems)
    if args.json:
        print(json.dumps({"speed": timing, "due_date_only": reference,
                          "quality": {m: [r.to_dict() for r in rows] for m, rows in quality.items()}}))
        return
    print(f"model: {args.model}")
    print("| measure | PPO median | EDD median (same run) | target |")
    print("|---|---|---|---|")
    print(f"| full schedule, 500 orders / 152 machines ({timing['instances']} instances) "
          f"| {timing['ppo_s']:.3f} s | {timing['edd_s']:.3f} s | <= 5 s |")
    for machines, rows in quality.items():
        by = {r.method: r for r in rows}
        ppo, edd, atcs = by["ppo"], by["edd"], by["atcs"]
        gain_edd = 1.0 - ppo.mean_tardiness_h / edd.mean_tardiness_h if edd.mean_tardiness_h else 0.0
        gain_atcs = 1.0 - ppo.mean_tardiness_h / atcs.mean_tardiness_h if atcs.mean_tardiness_h else 0.0
        print()
        print(format_table(rows, f"{args.instances} held-out instances, generated {machines}-machine plants"))
        print(f"PPO mean tardiness vs EDD: {gain_edd:+.1%} below (target >= 20 %); "
              f"vs ATCS: {gain_atcs:+.1%} below (target >= 0 %)")
        ref = reference[machines]
        gain_ref = 1.0 - ppo.mean_tardiness_h / ref if ref else 0.0
        print(f"reference, earliest due date ignoring importance: {ref:.2f} h "
              f"(PPO {gain_ref:+.1%} below it; not a target)")


if __name__ == "__main__":
    main()
