"""Repair policies on the extruder plant: training time, quality against baselines on
held-out cases, transfer to larger order books, and consult latency.

Every figure is compared with a baseline measured in the same run:
- training: the relational (TG) learner against the propositional (scikit-learn) one;
- quality: the policy against random walk, best insertion, hill climbing, the
  propositional Q-tree and a CP-SAT full reschedule on the same 100 held-out cases;
- transfer: the same policy, not retrained, on 50-order cases against best insertion;
- latency: one consult against best insertion at 20 orders and at 500 orders on 152
  machines (medians).

Run: python benchmarks/bench_repair.py [--episodes 450] [--cases 100] [--curves docs/img/learning_curves.png]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from rrl.dispatching import dispatch
from rrl.domain import Plan, load_scenario
from rrl.domain.generate import generate_scenario
from rrl.domain.plant import Plant
from rrl.events import Disruption, draw_event
from rrl.learning import RepairAgent
from rrl.learning.baselines import best_insertion
from rrl.learning.evaluate import Evaluation, draw_cases, evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=450)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpsat-seconds", type=float, default=3.0)
    parser.add_argument("--curves", default=None, help="also train stability and balancing; plot all three curves here")
    args = parser.parse_args()
    plant = load_scenario("scenarios/extruders.yaml").plant

    started = time.perf_counter()
    agent = RepairAgent(plant, "tardiness", seed=args.seed).learn(args.episodes)
    tg_seconds = time.perf_counter() - started
    started = time.perf_counter()
    propositional = RepairAgent(plant, "tardiness", learner="propositional", seed=args.seed).learn(args.episodes)
    prop_seconds = time.perf_counter() - started
    last = agent.curve[-100:]
    print(f"## Training ({args.episodes} episodes, tardiness goal, 10-20 orders, new_order)\n")
    print("| learner | seconds | abstract states | mean steps, last 100 episodes | goal reached, last 100 |")
    print("|---|---|---|---|---|")
    print(f"| relational (TG) | {tg_seconds:.1f} | {agent.n_leaves} | {statistics.mean(r.steps for r in last):.2f} | "
          f"{statistics.mean(r.reached for r in last):.0%} |")
    prop_last = propositional.curve[-100:]
    print(f"| propositional (scikit-learn) | {prop_seconds:.1f} | - | {statistics.mean(r.steps for r in prop_last):.2f} | "
          f"{statistics.mean(r.reached for r in prop_last):.0%} |\n")

    cases = draw_cases(plant, args.cases, args.seed + 1, (10, 20), ("new_order",))
    report = evaluate(agent, cases, propositional=propositional, cpsat_seconds=args.cpsat_seconds,
                      methods=["policy", "random_walk", "best_insertion", "hill_climbing", "propositional", "cpsat"])
    print(f"## Quality on {args.cases} held-out cases (10-20 orders, new_order)\n")
    print(f"Mean total tardiness before the event {report.before_tardiness:.2f} h, after it "
          f"{report.disrupted_tardiness:.2f} h.\n")
    _add_variants(report, agent, plant, cases)
    print(report.table() + "\n")
    ratio = report.methods["policy"].total_tardiness / report.methods["best_insertion"].total_tardiness
    print(f"policy / best insertion = {ratio:.3f} (target <= 1)\n")

    big = draw_cases(plant, max(10, args.cases // 2), args.seed + 2, (50, 50), ("new_order",))
    transfer = evaluate(agent, big, propositional=propositional,
                        methods=["policy", "best_insertion", "hill_climbing", "random_walk", "propositional"])
    print(f"## Transfer: the same policy on {len(big)} cases of 50 orders\n")
    _add_variants(transfer, agent, plant, big)
    print(transfer.table() + "\n")
    ratio = transfer.methods["policy"].total_tardiness / transfer.methods["best_insertion"].total_tardiness
    print(f"policy / best insertion = {ratio:.3f} (target <= 1.05)\n")

    print("## Consult latency\n")
    print("Only cases that need a repair (the disrupted plan is not a goal state) are timed.\n")
    print("| size | cases | mean steps | consult median | consult max | best insertion median (same cases) | target |")
    print("|---|---|---|---|---|---|---|")
    small = [h for h in draw_cases(plant, 60, args.seed + 3, (20, 20), ("new_order", "rush_order", "breakdown",
                                                                          "material_delay")) if _needs_repair(agent, h)]
    print(_latency_row("20 orders, 3 extruders", agent, small[:30], "<= 50 ms"))
    scenario = generate_scenario(machines=152, types=42, orders=500, family_steps=5, breaks=True, seed=args.seed)
    plan = Plan.build(scenario.problem, dispatch(scenario.problem, "edd"))
    rng = random.Random(args.seed)
    large = []
    while len(large) < 12:
        hit = draw_event(rng.choice(("rush_order", "breakdown", "material_delay")), plan, rng)
        if hit.focal and _needs_repair(agent, hit):
            large.append(hit)
    print(_latency_row("500 orders, 152 machines", agent, large, "<= 1 s") + "\n")

    if args.curves:
        from rrl.viz import learning_curves

        curves = {}
        for goal in ("tardiness", "stability", "balancing"):
            other = RepairAgent(plant, goal, seed=args.seed).learn(args.episodes, eval_every=25)
            curves[goal] = other.evaluations
        learning_curves(curves, args.curves, window=1,
                        title="Greedy policy on 20 validation cases every 25 episodes (new_order, extruders)")
        print(f"learning curves written to {args.curves}")


def _add_variants(report: Evaluation, agent: RepairAgent, plant: Plant, cases: list[Disruption]) -> None:
    """Rows that show what learning adds: the same policy with ties broken by the
    simulator's cost, and an untrained agent (one leaf: every action ties)."""
    agent.tie_break = "cost"
    report.methods["policy, ties by cost"] = evaluate(agent, cases, methods=["policy"]).methods["policy"]
    agent.tie_break = "first"
    untrained = RepairAgent(plant, "tardiness")
    report.methods["untrained (0 episodes)"] = evaluate(untrained, cases, methods=["policy"]).methods["policy"]
    for name in ("policy, ties by cost", "untrained (0 episodes)"):
        report.methods[name].method = name


def _needs_repair(agent: RepairAgent, hit: Disruption) -> bool:
    return not agent.goal.context(hit.before, hit.plan).reached(hit.plan)


def _latency_row(label: str, agent: RepairAgent, cases: list[Disruption], target: str) -> str:
    times, steps, insertion = [], [], []
    for hit in cases:
        started = time.perf_counter()
        result = agent.repair(hit)
        times.append(time.perf_counter() - started)
        steps.append(result.explored)
        insertion.append(best_insertion(hit, agent.goal.context(hit.before, hit.plan)).seconds)
    return (f"| {label} | {len(cases)} | {statistics.mean(steps):.1f} | {statistics.median(times) * 1000:.1f} ms | "
            f"{max(times) * 1000:.1f} ms | {statistics.median(insertion) * 1000:.1f} ms | {target} |")


if __name__ == "__main__":
    main()
