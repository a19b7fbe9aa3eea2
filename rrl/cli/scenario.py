"""``rrl scenario``: generate scenario files, import standard instances, check them."""

from __future__ import annotations

from pathlib import Path

import click

from rrl.bounds import MAX_FAMILY_STEPS, MAX_MACHINES, MAX_ORDERS
from rrl.cli.common import POSITIVE, SEED, FiniteFloat, json_option, print_json, scenario_path
from rrl.dispatching import RULES, dispatch
from rrl.domain.formats import DUE_FACTOR, FORMATS, read_instance
from rrl.domain.generate import generate_scenario
from rrl.domain.scenario import load_scenario
from rrl.domain.validator import validate
from rrl.errors import RRLError


@click.group()
def scenario() -> None:
    """Generate scenario files, import standard instances, check them."""


@scenario.command()
@click.option("--machines", type=click.IntRange(1, MAX_MACHINES), default=10, show_default=True,
              help="Number of resources.")
@click.option("--types", type=click.IntRange(1, MAX_MACHINES), default=4, show_default=True,
              help="Machine types (one product per type; the PPO seed has 42 over 152 machines).")
@click.option("--orders", type=click.IntRange(1, MAX_ORDERS), default=50, show_default=True, help="Number of orders.")
@click.option("--family-steps", type=click.IntRange(1, MAX_FAMILY_STEPS), default=1, show_default=True,
              help="Longest order family: steps P1..Pn chained with `after` (1: independent orders).")
@click.option("--breaks/--no-breaks", default=False, show_default=True,
              help="A daily break window 12:00-13:00 on every machine.")
@click.option("--important", "important_rate", type=FiniteFloat(0.0, upper=1.0), default=0.2, show_default=True,
              help="Share of important orders.")
@click.option("--rule", type=click.Choice(RULES), default=None, help="Also write a schedule built by this rule.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file (.yaml or .json).")
def generate(machines: int, types: int, orders: int, family_steps: int, breaks: bool, important_rate: float,
             rule: str | None, seed: int, out: Path) -> None:
    """Write a random scenario: a plant and its orders, up to 152 machines and 500+ orders."""
    scenario_path(out)
    if types > machines:
        raise RRLError(f"--types: {types} machine types need at least as many machines (got {machines})")
    made = generate_scenario(machines=machines, types=types, orders=orders, family_steps=family_steps,
                             breaks=breaks, important_rate=important_rate, seed=seed)
    if rule is not None:
        made = made.with_schedule(dispatch(made.problem, rule, seed=seed))
    made.save(out)
    click.echo(f"wrote {out}: {orders} orders on {machines} machines of {types} types")


@scenario.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="fjs: flexible job shop (FJSPLib, Brandimarte; machines from 1). jsp: job shop (OR-Library / "
                   "JSPLib text; machines from 0). Default: the file's suffix.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output scenario file (.yaml or .json).")
@click.option("--due-factor", type=POSITIVE, default=DUE_FACTOR, show_default=True,
              help="Due date of operation o of a job: this factor times the job's least processing times of "
                   "operations 1..o (the formats have no due dates).")
def import_command(path: Path, fmt: str | None, out: Path, due_factor: float) -> None:
    """Read a standard job-shop instance (.fjs or .jsp) into a scenario file.

    Operation o of job j becomes order JjOo (a product of its own), chained to the job's
    previous operation with `after`; machine k becomes resource Mk. Durations are exact
    (size = least common multiple of the operation's times, whole-number rates). A
    malformed file gets one line naming the file, the line and the problem.
    """
    scenario_path(out)
    made = read_instance(path, fmt, due_factor=due_factor)
    made.save(out)
    problem = made.problem
    jobs = sum(1 for order in problem.orders.values() if not order.after)
    click.echo(f"wrote {out}: {len(problem.orders)} operations of {jobs} jobs on {len(problem.plant.resources)} machines")


@scenario.command("validate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def validate_command(path: Path, as_json: bool) -> None:
    """Check a scenario file; with a schedule, also run the validator on it.

    Exits 0 when the file is valid, 2 with one line naming the key and problem when not.
    """
    loaded = load_scenario(path)
    problems: list[str] = []
    if loaded.schedule is not None:
        plan = loaded.plan()
        problems = [str(v) for v in validate(plan.problem, plan.schedule, plan.times)]
    summary = {
        "file": str(path), "valid": not problems, "orders": len(loaded.problem.orders),
        "resources": len(loaded.plant.resources), "schedule": loaded.schedule is not None, "violations": problems,
    }
    if as_json:
        print_json(summary)
    if problems:
        raise RRLError(f"{path}: schedule: {problems[0]} ({len(problems)} violations)")
    if not as_json:
        click.echo(f"{path}: ok, {summary['orders']} orders on {summary['resources']} resources"
                   + (", schedule valid" if loaded.schedule is not None else ""))
