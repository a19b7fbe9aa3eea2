"""``rrl schedule``: build (or take) a schedule, print its metrics, draw its Gantt chart."""

from __future__ import annotations

from pathlib import Path

import click

from rrl.cli.common import (
    POSITIVE,
    checked,
    image_path,
    json_option,
    print_json,
    scenario_option,
    seed_option,
)
from rrl.dispatching import DEFAULT_RULE, MODES, OBJECTIVES, RULES, dispatch
from rrl.domain.plan import Plan
from rrl.domain.scenario import load_scenario

#: Rules that build the plan a repair starts from (consult, train, db import, the service).
PLAN_RULES = [*RULES, "ppo"]
#: Rules of ``rrl schedule``: those and CP-SAT on the whole problem.
RULE_CHOICES = [*PLAN_RULES, "cpsat"]


@click.command()
@scenario_option
@click.option("--rule", type=click.Choice(RULE_CHOICES), default=None,
              help=f"How to build the schedule: a dispatching rule ({' '.join(RULES)}), ppo, or cpsat (OR-Tools CP-SAT on the whole problem). Default: the scenario's own schedule when it has one, else "
                   f"the objective's rule ({', '.join(f'{o}: {r}' for o, r in DEFAULT_RULE.items())}).")
@click.option("--objective", type=click.Choice(OBJECTIVES), default="tardiness", show_default=True,
              help="What the schedule should be good at: total tardiness or makespan. Picks the default rule "
                   "and, with --rule ppo, the shipped model.")
@click.option("--mode", type=click.Choice(MODES), default="nondelay", show_default=True,
              help="Candidates of the dispatching rules: nondelay (what can start first on each resource), "
                   "active (Giffler-Thompson: what can start before the earliest completion there), or append "
                   "(every ready order, appended at the end: the old list scheduling). nondelay and active use "
                   "idle gaps where an order fits.")
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PPO model (.zip) for --rule ppo; default: the model shipped for --objective.")
@click.option("--samples", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="With --rule ppo: also build this many schedules drawing each decision at random, "
                   "weighted by the policy's scores (a softmax at --temperature; seeded by --seed), and keep "
                   "the best on --objective; each takes about as long as the greedy one (0: the greedy "
                   "schedule alone).")
@click.option("--temperature", type=POSITIVE, default=None,
              help="Softmax temperature of --samples (the scores are divided by it): higher draws farther "
                   "from the greedy schedule. Default: 0.25, chosen for the shipped tardiness model.")
@click.option("--time-limit", type=POSITIVE, default=10.0, show_default=True,
              help="Seconds CP-SAT may search (--rule cpsat).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="CP-SAT search threads (--rule cpsat).")
@seed_option
@json_option
@click.option("--gantt", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the Gantt chart to this file (PNG, SVG or PDF by suffix).")
def schedule(scenario_path: Path, rule: str | None, objective: str, mode: str, model: Path | None,
             samples: int, temperature: float | None, time_limit: float, workers: int, seed: int, as_json: bool,
             gantt: Path | None) -> None:
    """Build a schedule for a scenario and print its metrics.

    Dispatching rules place one order at a time, each in the earliest idle gap of its
    resource where it fits, else at the end (see docs/schedule.md for each rule's
    priority and machine choice). Times follow DESIGN section 3 (semi-active: each order
    as early as its resource, cleanout, release, `after` orders and downtime allow). The
    schedule is validated before it is printed. Frozen orders (started before the
    scenario's `now`) stay put.

    --rule cpsat solves the whole problem with OR-Tools CP-SAT for --objective within
    --time-limit, starting from the best rule's plan (never returning worse), and also
    reports the solver's status and lower bound (JSON: "bound", "cpsat").
    """
    image_path(gantt, "--gantt")
    if samples and rule != "ppo":
        raise click.UsageError("--samples applies to --rule ppo only")
    if temperature is not None and not samples:
        raise click.UsageError("--temperature applies to --samples only")
    scenario = load_scenario(scenario_path)
    problem = scenario.problem
    extra: dict[str, object] = {}
    if rule is None and scenario.schedule is not None:
        plan = scenario.plan()
        source = "scenario"
    elif rule == "ppo":
        from rrl.generative.safety import (  # optional extra: torch, sb3
            SAMPLE_TEMPERATURE,
            ppo_schedule,
        )

        result = ppo_schedule(problem, model, keep=scenario.schedule, objective=objective, samples=samples,
                              seed=seed, temperature=SAMPLE_TEMPERATURE if temperature is None else temperature)
        plan, source = result.plan, result.source
        if samples and not result.fallback:
            source += f", best of {result.rollouts}: " + \
                ("greedy" if result.sample is None else f"sample {result.sample + 1}") + \
                (f", {result.dropped} dropped as invalid" if result.dropped else "")
        if result.fallback:  # never silent: the plan printed is a rule's, say so on stderr
            click.echo(f"rrl: warning: PPO schedule rejected ({result.reason}); using {source}", err=True)
    elif rule == "cpsat":
        from rrl.learning.cpsat import cpsat_schedule  # optional extra: ortools

        solved = cpsat_schedule(problem, objective=objective, time_limit=time_limit, workers=workers,
                                keep=scenario.schedule, seed=seed)
        plan, source = solved.plan, "cpsat" if not solved.from_hint else f"cpsat, kept the {solved.hint_source} hint"
        extra = {"bound": solved.bound, "cpsat": solved.to_dict()}
        if not as_json:
            gap = (solved.value - solved.bound) / solved.value if solved.value > 0 else 0.0
            click.echo(f"cpsat: {solved.status}, {objective} {solved.value:.2f} h, lower bound {solved.bound:.2f} h "
                       f"(gap {gap:.1%}); hint {solved.hint_source} {solved.hint_value:.2f} h; "
                       f"{solved.seconds:.1f} s on {solved.workers} workers")
    else:
        rule = rule or DEFAULT_RULE[objective]
        plan = Plan.build(problem, dispatch(problem, rule, seed=seed, keep=scenario.schedule, mode=mode))
        source = rule if mode == "nondelay" else f"{rule}, {mode}"
    checked(plan, source)
    if gantt is not None:
        from rrl.viz import save_gantt

        save_gantt(plan, gantt, title=f"{scenario.name} ({source})")
    if as_json:
        print_json({"metrics": plan.metrics.to_dict(), "schedule": plan.rows(), **extra})
        return
    _print_table(plan, scenario.name, source)
    if gantt is not None:
        click.echo(f"Gantt chart written to {gantt}")


def _print_table(plan: Plan, name: str, source: str) -> None:
    m = plan.metrics
    click.echo(f"{name}: {len(plan.problem.orders)} orders on {len(plan.problem.plant.resources)} resources ({source})")
    click.echo(f"  total tardiness {m.total_tardiness:.2f} h   weighted {m.weighted_tardiness:.2f} h   "
               f"max {m.max_tardiness:.2f} h   tardy orders {m.tardy_orders}")
    click.echo(f"  makespan {m.makespan:.2f} h   total cleanout {m.total_cleanout:.2f} h")
    if len(plan.problem.plant.resources) > 12:
        return
    for resource, seq in plan.schedule.sequences.items():
        cells = [f"{o}[{plan.times.start[o]:.1f}-{plan.times.end[o]:.1f}]" + ("*" if plan.tardiness(o) > 1e-9 else "")
                 for o in seq]
        click.echo(f"  {resource:>6} load {m.load[resource]:.0%}: " + " ".join(cells))
    click.echo("  (* tardy)")
