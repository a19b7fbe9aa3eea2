"""Helpers shared by the CLI commands: options, JSON output, error wrapping."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from rrl.domain.plan import Plan
from rrl.domain.scenario import Scenario, load_scenario
from rrl.domain.validator import validate
from rrl.errors import RRLError

scenario_option = click.option(
    "--scenario",
    "scenario_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Scenario file (YAML or JSON, DESIGN section 2).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout, nothing else.")
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Random seed (reproducible runs).")


def read_scenario(path: Path) -> Scenario:
    """Load a scenario; a missing file becomes a one-line error like any other."""
    return load_scenario(path)


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON object on stdout."""
    click.echo(json.dumps(data, indent=None, separators=(",", ": ")))


def checked(plan: Plan, what: str) -> Plan:
    """Refuse to output a plan that the validator rejects (a bug, reported as one line)."""
    problems = validate(plan.problem, plan.schedule, plan.times)
    if problems:
        raise RRLError(f"internal error: the {what} schedule is invalid ({problems[0]}; {len(problems)} violations)")
    return plan


def progress_enabled(as_json: bool) -> bool:
    """Progress bars go to stderr, only for people: not with --json, not when stderr is no TTY."""
    return not as_json and sys.stderr.isatty()
