"""Schedule construction against the field: every rule, PPO and CP-SAT on the standard
instances (makespan gap to the best known), every rule and PPO on held-out generated
look-alikes of them (makespan against mwkr's) and on held-out generated plants
(tardiness), and the rules' speed at 500 orders on 152 machines.

- Standard instances: every ``*/*.yaml`` of the benchmark folder (Brandimarte mk01-mk10,
  Fisher-Thompson / Lawrence job shops) with ``references.json`` beside it, and with
  ``--unseen DIR`` a folder of other ``.fjs`` / ``.jsp`` files with a ``references.json``
  (``{"name": {"best_known": ...}}``; e.g. Hurink or Dauzere-Peres/Paulli instances, read
  from where they lie, never copied into the project). Each rule in each mode, the old
  append-only EDD (the baseline), every PPO model given with ``--ppo`` for the makespan
  objective (default: the shipped makespan model; the safety wrapper's fallbacks are
  counted), and CP-SAT (makespan) within ``--time-limit`` seconds on ``--workers``
  threads, hinted with the best rule's plan. Gap = makespan / best known - 1; means per
  family.
- Look-alikes (makespan): ``--lookalikes`` held-out generated instances per standard
  family (the makespan model's training shapes, seeds training never draws), every rule
  (nondelay) and PPO model as mean makespan against ``mwkr``'s: where rules and models
  are compared without reading a published instance.
- Held-out generated plants (tardiness): ``--instances`` plants of the PPO curriculum's
  distribution at 10, 40 and 152 machines (seeds training never draws); mean total
  tardiness per rule and mode, PPO (the tardiness model), and CP-SAT (tardiness) at
  ``--generated-cpsat`` sizes; PPO against the best rule (of every rule and mode).
- Speed: median seconds to build (and time) one 500-order / 152-machine schedule per rule
  in the default mode and with the PPO tardiness model (in process, model loaded), against
  the old append-only EDD (a heap of ready orders on the append builder) measured in the
  same run, and the whole ``rrl schedule`` process with a rule and with PPO.

Run: python benchmarks/bench_schedule.py [--folder ../shared/benchmarks] [--unseen DIR] [--time-limit 10]
     [--workers 2] [--instances 5] [--lookalikes 100] [--ppo NAME=MODEL.zip ...]
     [--ppo-tardiness NAME=MODEL.zip ...] [--sections standard,lookalikes,generated,speed] [--json out.json]
Prints the Markdown tables of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rrl.dispatching import MODES, RULES, ScheduleBuilder, dispatch
from rrl.domain import Plan, Problem, Schedule, load_scenario, validate
from rrl.domain.generate import generate_scenario

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = Path(os.environ.get("RRL_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))
SIZES = (10, 40, 152)


def old_edd(problem: Problem) -> Schedule:
    """EDD as rrl built it before the active builder: a heap of ready orders by
    (important first, due, file position), each appended to its resource of earliest
    completion. The speed baseline; ``dispatch(.., mode="append")`` gives the same plan."""
    builder = ScheduleBuilder(problem, None)
    orders = problem.orders
    position = {o: i for i, o in enumerate(orders)}

    def priority(o: str) -> tuple[float, float, int]:
        return (0.0 if orders[o].important else 1.0, orders[o].due, position[o])

    heap = [(priority(o), o) for o in builder.initially_ready()]
    heapq.heapify(heap)
    while heap:
        _, order = heapq.heappop(heap)
        for nxt in builder.place(order, builder.best_resource(order, lambda s, e: e)):
            heapq.heappush(heap, (priority(nxt), nxt))
    return builder.schedule()


def checked(problem: Problem, schedule: Schedule, what: str) -> Plan:
    plan = Plan.build(problem, schedule)
    problems = validate(problem, schedule, plan.times)
    if problems or sorted(schedule.orders()) != sorted(problem.orders):
        raise SystemExit(f"{what}: invalid schedule ({problems[:1]})")
    return plan


def makespan(plan: Plan) -> float:
    return max(plan.times.end.values(), default=0.0)


def ppo_runner(name: str, path: Path | None, objective: str) -> Any:
    """A function problem -> (plan, source) for a PPO model (None: the shipped model of
    ``objective``)."""
    from rrl.generative.models import models_dir
    from rrl.generative.policy import load_model
    from rrl.generative.safety import ppo_schedule

    model = load_model(path if path is not None else models_dir() / f"{objective}.zip")

    def run(problem: Problem) -> tuple[Plan, str]:
        result = ppo_schedule(problem, model, objective=objective)
        return result.plan, result.source

    return run


def ppo_runners(specs: list[str] | None, objective: str) -> dict[str, Any]:
    """``NAME=MODEL`` specs (default: ``ppo=shipped``; ``none``: no PPO) as runners."""
    runners: dict[str, Any] = {}
    for spec in specs if specs is not None else ["ppo=shipped"]:
        if spec == "none":
            continue
        name, _, model = spec.partition("=")
        runners[name] = ppo_runner(name, None if model in ("", "shipped") else Path(model), objective)
    return runners


def families(folder: Path, unseen: Path | None) -> list[tuple[str, Path]]:
    """(family name, folder) of every instance family to measure."""
    found = [(p.name, p) for p in sorted(folder.iterdir()) if (p / "references.json").is_file()]
    if unseen is not None:
        found.append((f"unseen:{unseen.name}", unseen))
    return found


def instances(family_dir: Path) -> list[tuple[str, Problem]]:
    """The family's instances: its rrl scenarios (``*.yaml``), else its raw files read by
    the project's importer."""
    from rrl.domain.formats import read_instance

    paths = sorted(family_dir.glob("*.yaml"))
    if paths:
        return [(p.stem, load_scenario(p).problem) for p in paths]
    raw = sorted([*family_dir.glob("*.fjs"), *family_dir.glob("*.jsp")])
    return [(p.stem, read_instance(p).problem) for p in raw]


def standard(folder: Path, args: argparse.Namespace, ppo: dict[str, Any]) -> dict[str, Any]:
    """Every method on every standard instance: makespans, gaps, CP-SAT figures."""
    from rrl.learning.cpsat import cpsat_schedule

    rows: dict[str, dict[str, Any]] = {}
    for family, family_dir in families(folder, args.unseen):
        references = json.loads((family_dir / "references.json").read_text())
        for name, problem in instances(family_dir):
            if name not in references:
                continue
            best = float(references[name]["best_known"])
            row: dict[str, Any] = {"family": family, "best_known": best, "makespan": {}, "notes": {}}
            for mode in MODES:
                for rule in RULES:
                    plan = checked(problem, dispatch(problem, rule, mode=mode), f"{name} {rule} {mode}")
                    row["makespan"][f"{rule}/{mode}"] = makespan(plan)
            row["makespan"]["edd/old"] = makespan(checked(problem, old_edd(problem), f"{name} old edd"))
            for label, run in ppo.items():
                plan, source = run(problem)
                checked(problem, plan.schedule, f"{name} {label}")
                row["makespan"][label] = makespan(plan)
                row["notes"][label] = source
            if args.time_limit > 0 and (args.unseen_cpsat or not family.startswith("unseen:")):
                result = cpsat_schedule(problem, objective="makespan", time_limit=args.time_limit,
                                        workers=args.workers, seed=args.seed)
                checked(problem, result.plan.schedule, f"{name} cpsat")
                row["makespan"]["cpsat"] = result.value
                row["cpsat"] = result.to_dict()
            row["gap"] = {m: v / best - 1.0 for m, v in row["makespan"].items()}
            # an unseen family may reuse a standard name (Hurink's la01..): keep both
            rows[name if name not in rows else f"{family.removeprefix('unseen:')}/{name}"] = row
            print(f"# {name}: best {best:g}, " + ", ".join(
                f"{m} {row['makespan'][m]:g}" for m in ("mwkr/nondelay", "edd/old", *ppo, "cpsat")
                if m in row["makespan"]), file=sys.stderr, flush=True)
    return rows


def generated(args: argparse.Namespace, ppo: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Mean total tardiness per method on held-out generated plants."""
    from rrl.generative.instances import held_out, stage_source
    from rrl.learning.cpsat import cpsat_schedule

    out: dict[int, dict[str, Any]] = {}
    for machines in SIZES:
        problems = held_out(stage_source(machines), args.instances)
        totals: dict[str, list[float]] = {}
        notes: dict[str, list[str]] = {}
        for k, problem in enumerate(problems):
            for mode in MODES:
                for rule in RULES:
                    plan = checked(problem, dispatch(problem, rule, mode=mode, seed=k), f"{machines}m {rule}")
                    totals.setdefault(f"{rule}/{mode}", []).append(plan.total_tardiness)
            totals.setdefault("edd/old", []).append(checked(problem, old_edd(problem), "old edd").total_tardiness)
            for label, run in ppo.items():
                plan, source = run(problem)
                totals.setdefault(label, []).append(checked(problem, plan.schedule, label).total_tardiness)
                notes.setdefault(label, []).append(source)
            if args.time_limit > 0 and machines in args.generated_cpsat:
                result = cpsat_schedule(problem, objective="tardiness", time_limit=args.time_limit,
                                        workers=args.workers, seed=args.seed)
                totals.setdefault("cpsat", []).append(checked(problem, result.plan.schedule, "cpsat").total_tardiness)
                notes.setdefault("cpsat", []).append(result.status)
        out[machines] = {
            "instances": len(problems), "orders": statistics.fmean(len(p.orders) for p in problems),
            "mean_total_tardiness": {m: statistics.fmean(v) for m, v in totals.items()},
            "notes": notes,
        }
        print(f"# generated {machines} machines done", file=sys.stderr, flush=True)
    return out


def lookalikes(args: argparse.Namespace, ppo: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Mean makespan per method, against ``mwkr``'s, on held-out generated look-alikes of
    the standard families (the makespan model's training distribution, seeds it never
    draws): where a rule or model is compared before any published instance is read."""
    from rrl.generative.instances import HELD_OUT_SEED
    from rrl.generative.shapes import SHOPS

    out: dict[str, dict[str, Any]] = {}
    for shop, source_type in SHOPS.items():
        source = source_type()
        ratios: dict[str, list[float]] = {}
        fallbacks = dict.fromkeys(ppo, 0)
        for i in range(args.lookalikes):
            problem = source.problem(HELD_OUT_SEED + i)
            values = {f"{rule}/nondelay": makespan(checked(problem, dispatch(problem, rule), f"{shop} {i} {rule}"))
                      for rule in RULES}
            for label, run in ppo.items():
                plan, source_name = run(problem)
                values[label] = makespan(checked(problem, plan.schedule, f"{shop} {i} {label}"))
                fallbacks[label] += source_name != "ppo"
            for m, v in values.items():
                ratios.setdefault(m, []).append(v / values["mwkr/nondelay"])
        out[shop] = {"ratio": {m: statistics.fmean(v) for m, v in ratios.items()}, "fallbacks": fallbacks}
        print(f"# look-alikes {shop} done", file=sys.stderr, flush=True)
    return out


def speed(args: argparse.Namespace, ppo: dict[str, Any]) -> dict[str, Any]:
    """Median seconds per rule and PPO model at 500 orders / 152 machines, and the whole
    CLI process (with ``mdd`` and with the shipped PPO tardiness model)."""
    scenario = generate_scenario(machines=152, types=42, orders=500, family_steps=5, breaks=True, seed=0)
    problem = scenario.problem
    problem.durations, problem.dependents  # noqa: B018 - tables cached, as in a CLI run

    def median(fn: Any) -> float:
        times = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            fn()
            times.append(time.perf_counter() - began)
        return statistics.median(times)

    result: dict[str, Any] = {"old_edd_s": median(lambda: Plan.build(problem, old_edd(problem))), "rules_s": {}}
    for rule in RULES:
        result["rules_s"][rule] = median(lambda rule=rule: Plan.build(problem, dispatch(problem, rule)))
    result["edd_active_s"] = median(lambda: Plan.build(problem, dispatch(problem, "edd", mode="active")))
    for name, run in ppo.items():
        result.setdefault("ppo_s", {})[name] = median(lambda run=run: run(problem))
        result.setdefault("ppo_source", {})[name] = run(problem)[1]
    path = Path(args.scratch) / "bench_schedule_500.yaml"
    scenario.save(path)
    command = [str(Path(sys.executable).with_name("rrl")), "schedule", "--scenario", str(path), "--rule", "mdd",
               "--json"]
    result["cli_s"] = median(lambda: subprocess.run(command, check=True, capture_output=True))
    if ppo:
        ppo_command = command[:4] + ["--rule", "ppo", "--objective", "tardiness", "--json"]
        result["cli_ppo_s"] = median(lambda: subprocess.run(ppo_command, check=True, capture_output=True))
    # the same process with nothing to do: Python start-up and the CLI's imports
    result["cli_idle_s"] = median(lambda: subprocess.run([command[0], "--version"], check=True, capture_output=True))
    return result


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def report(std: dict[str, Any], look: dict[str, Any], gen: dict[int, Any], spd: dict[str, Any], ppo: list[str],
           ppo_tardiness: list[str], args: argparse.Namespace) -> None:
    if std:
        report_standard(std, ppo, args)
    if look:
        report_lookalikes(look, args)
    if gen:
        report_generated(gen, ppo_tardiness)
    if spd:
        report_speed(spd, args)


def report_standard(std: dict[str, Any], ppo: list[str], args: argparse.Namespace) -> None:
    families = sorted({r["family"] for r in std.values()})
    methods = [f"{r}/nondelay" for r in RULES] + ["edd/old", *ppo] + (["cpsat"] if args.time_limit > 0 else [])
    print("### Mean makespan gap to the best known, per family\n")
    print("| method | " + " | ".join(f"{f} ({sum(r['family'] == f for r in std.values())})" for f in families) + " |")
    print("|---|" + "---|" * len(families))
    for m in methods:
        cells = []
        for f in families:
            gaps = [r["gap"][m] for r in std.values() if r["family"] == f and m in r["gap"]]
            cells.append(pct(statistics.fmean(gaps)) if gaps else "-")
        print(f"| {m} | " + " | ".join(cells) + " |")
    print("\n### Mean makespan gap per mode (rules), per family\n")
    print("| rule | " + " | ".join(f"{f} {mode}" for f in families for mode in MODES) + " |")
    print("|---|" + "---|" * (len(families) * len(MODES)))
    for rule in RULES:
        cells = [pct(statistics.fmean(r["gap"][f"{rule}/{mode}"] for r in std.values() if r["family"] == f))
                 for f in families for mode in MODES]
        print(f"| {rule} | " + " | ".join(cells) + " |")
    print("\n### Per instance (makespan)\n")
    shown = ["fdd_mwkr/nondelay", "mwkr/nondelay", "mor/nondelay", "edd/nondelay", "edd/old", *ppo]
    head = "| instance | best known | " + " | ".join(shown)
    if args.time_limit > 0:
        head += " | cpsat | cpsat bound | cpsat status"
    print(head + " |")
    print("|---|---|" + "---|" * (len(shown) + (3 if args.time_limit > 0 else 0)))
    for name, r in std.items():
        cells = [f"{r['makespan'][m]:g}" + ("*" if m in ppo and r["notes"][m] != "ppo" else "") for m in shown]
        if args.time_limit > 0:
            c = r.get("cpsat")
            cells += [f"{c['value']:g}", f"{c['bound']:g}", c["status"]] if c else ["-", "-", "-"]
        print(f"| {name} | {r['best_known']:g} | " + " | ".join(cells) + " |")
    fallbacks = sum(r["notes"][m] != "ppo" for r in std.values() for m in ppo)
    if fallbacks:
        print(f"\n(* {fallbacks} PPO schedules were rejected by the safety wrapper and a rule's plan used)")


def report_lookalikes(look: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n### Held-out look-alikes ({args.lookalikes} per family): mean over instances of "
          "makespan / mwkr's makespan\n")
    print("| method | " + " | ".join(look) + " |")
    print("|---|" + "---|" * len(look))
    for m in next(iter(look.values()))["ratio"]:
        print(f"| {m} | " + " | ".join(f"{v['ratio'][m]:.3f}" for v in look.values()) + " |")
    fallbacks = [f"{label} {n} ({shop})" for shop, v in look.items() for label, n in v["fallbacks"].items() if n]
    if fallbacks:
        print("\n(PPO schedules rejected by the safety wrapper, a rule's plan used: " + ", ".join(fallbacks) + ")")


def report_generated(gen: dict[int, Any], ppo: list[str]) -> None:
    print("\n### Held-out generated plants: mean total tardiness (h)\n")
    print(f"| method ({' / '.join(MODES)}) | "
          + " | ".join(f"{m} machines (~{g['orders']:.0f} orders)" for m, g in gen.items()) + " |")
    print("|---|" + "---|" * len(gen))
    for rule in RULES:
        cells = [" / ".join(f"{g['mean_total_tardiness'][f'{rule}/{mode}']:.1f}" for mode in MODES)
                 for g in gen.values()]
        print(f"| {rule} | " + " | ".join(cells) + " |")
    for m in ["edd/old", *ppo, "cpsat"]:
        cells = [f"{g['mean_total_tardiness'][m]:.1f}" if m in g["mean_total_tardiness"] else "-" for g in gen.values()]
        if any(c != "-" for c in cells):
            print(f"| {m} | " + " | ".join(cells) + " |")
    best = {size: min(((v, m) for m, v in g["mean_total_tardiness"].items() if "/" in m and m != "edd/old"))
            for size, g in gen.items()}
    print("| best rule (of every rule and mode) | " + " | ".join(f"{m}: {v:.1f}" for v, m in best.values()) + " |")
    for m in ppo:
        print(f"| {m} / best rule | " + " | ".join(
            f"{g['mean_total_tardiness'][m] / best[size][0]:.2f}x" for size, g in gen.items()) + " |")
    for m in ["cpsat", *ppo]:
        for size, g in gen.items():
            if m in g["notes"]:
                print(f"\n{m}, {size} machines: " + ", ".join(g["notes"][m]))


def report_speed(spd: dict[str, Any], args: argparse.Namespace) -> None:
    print("\n### Speed, 500 orders / 152 machines (median of "
          f"{args.repeats}; schedule built and timed)\n")
    print("| method | seconds |")
    print("|---|---|")
    print(f"| old append-only EDD (baseline) | {spd['old_edd_s']:.4f} |")
    for rule, s in spd["rules_s"].items():
        print(f"| {rule} (nondelay) | {s:.4f} |")
    print(f"| edd (active) | {spd['edd_active_s']:.4f} |")
    for name, s in spd.get("ppo_s", {}).items():
        print(f"| {name} (PPO tardiness model, in process, model loaded; {spd['ppo_source'][name]}) | {s:.4f} |")
    print(f"| whole `rrl schedule --rule mdd --json` process | {spd['cli_s']:.2f} |")
    if "cli_ppo_s" in spd:
        print(f"| whole `rrl schedule --rule ppo --objective tardiness --json` process (shipped model) "
              f"| {spd['cli_ppo_s']:.2f} |")
    print(f"| `rrl --version` process (start-up and imports only) | {spd['cli_idle_s']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER,
                        help="benchmark folder with fjsp/ and jssp/ (default: $RRL_BENCHMARKS or ../shared/benchmarks)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="CP-SAT seconds per instance (0: skip CP-SAT)")
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instances", type=int, default=5, help="held-out generated plants per size")
    parser.add_argument("--generated-cpsat", type=lambda s: [int(x) for x in s.split(",") if x], default=[10, 40, 152],
                        help="plant sizes on which CP-SAT also runs (tardiness)")
    parser.add_argument("--ppo", action="append", default=None, metavar="NAME=MODEL",
                        help="a PPO model for the makespan objective (standard instances) as column NAME "
                             "(repeatable); default: ppo=the shipped makespan model; 'none' for no PPO")
    parser.add_argument("--ppo-tardiness", action="append", default=None, metavar="NAME=MODEL",
                        help="a PPO model for total tardiness (generated plants, speed) as column NAME "
                             "(repeatable); default: ppo=the shipped tardiness model; 'none' for no PPO")
    parser.add_argument("--unseen", type=Path, default=None,
                        help="a folder of other .fjs/.jsp instances with references.json, measured as one more "
                             "family (e.g. Hurink, Dauzere-Peres/Paulli)")
    parser.add_argument("--unseen-cpsat", action="store_true", help="run CP-SAT on the --unseen family too")
    parser.add_argument("--lookalikes", type=int, default=100,
                        help="held-out generated look-alikes per standard family (section lookalikes)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scratch", default="/tmp")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    parser.add_argument("--sections", default="standard,lookalikes,generated,speed",
                        help="comma-separated subset of standard, lookalikes, generated, speed")
    args = parser.parse_args()

    if not args.folder.is_dir():
        raise SystemExit(f"benchmark folder {args.folder} is absent (pass --folder or set RRL_BENCHMARKS)")
    if args.unseen is not None and not (args.unseen / "references.json").is_file():
        raise SystemExit(f"--unseen {args.unseen}: no references.json there")
    ppo = ppo_runners(args.ppo, "makespan")
    ppo_tardiness = ppo_runners(args.ppo_tardiness, "tardiness")
    sections = set(args.sections.split(","))
    began = time.perf_counter()
    std = standard(args.folder, args, ppo) if "standard" in sections else {}
    look = lookalikes(args, ppo) if "lookalikes" in sections else {}
    gen = generated(args, ppo_tardiness) if "generated" in sections else {}
    spd = speed(args, ppo_tardiness) if "speed" in sections else {}
    print(f"<!-- bench_schedule.py: {time.perf_counter() - began:.0f} s, CP-SAT {args.time_limit:g} s x "
          f"{args.workers} workers, {os.cpu_count()} CPUs -->\n")
    report(std, look, gen, spd, list(ppo), list(ppo_tardiness), args)
    if args.json is not None:
        args.json.write_text(json.dumps({"standard": std, "lookalikes": look, "generated": gen, "speed": spd,
                                         "time_limit": args.time_limit, "workers": args.workers}, indent=1))


if __name__ == "__main__":
    main()
