"""Helpers shared by the CLI commands: options, JSON output, error wrapping."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from rrl.bounds import MAX_BUDGET_MS, MAX_HOURS, MAX_NODE_LIMIT
from rrl.domain.plan import Plan
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
#: Seeds every command takes: what numpy, torch and optuna accept.
SEED = click.IntRange(0, 2**32 - 1)
seed_option = click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed (reproducible runs).")


class FiniteFloat(click.ParamType):
    """A finite number (no nan or inf), optionally bounded below, and at most ``maximum``
    in size (hours: rrl.bounds.MAX_HOURS, beyond which times lose precision)."""

    name = "number"

    def __init__(self, minimum: float | None = None, strict: bool = False, maximum: float = MAX_HOURS,
                 upper: float | None = None) -> None:
        self.minimum = minimum
        self.strict = strict
        self.maximum = maximum
        self.upper = upper  # (a bound of the value itself, not of its size)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.minimum is not None and (number < self.minimum or (self.strict and number == self.minimum)):
            self.fail(f"{value!r} must be {'>' if self.strict else '>='} {self.minimum:g}", param, ctx)
        if self.upper is not None and number > self.upper:
            self.fail(f"{value!r} must be <= {self.upper:g}", param, ctx)
        if abs(number) > self.maximum:
            self.fail(f"{value!r} must be at most {self.maximum:g} in size (docs/security.md)", param, ctx)
        return number


FINITE = FiniteFloat()
NON_NEGATIVE = FiniteFloat(0.0)
POSITIVE = FiniteFloat(0.0, strict=True)
#: A search budget in milliseconds.
BUDGET_MS = FiniteFloat(1.0, upper=MAX_BUDGET_MS)

#: A search budget counted in node expansions (the same repair on any machine).
NODE_LIMIT = click.IntRange(1, MAX_NODE_LIMIT)

IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")


def scenario_path(value: Path, flag: str = "--out") -> Path:
    """Check an output scenario file's suffix (it says YAML or JSON) before any work is done."""
    if value.suffix.lower() not in SCENARIO_SUFFIXES:
        raise RRLError(f"{flag} {value}: a scenario file ends in .yaml, .yml or .json")
    return value


def image_path(value: Path | None, flag: str) -> Path | None:
    """Check an output picture's suffix before any work is done."""
    if value is not None and value.suffix.lower() not in IMAGE_SUFFIXES:
        raise RRLError(f"{flag} {value}: use one of {', '.join(IMAGE_SUFFIXES)}")
    return value


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON object on stdout."""
    click.echo(json.dumps(data, indent=None, separators=(",", ": ")))


def checked(plan: Plan, what: str, reference: Plan | None = None) -> Plan:
    """Refuse to output a plan that the validator rejects (a bug, reported as one line).

    With ``reference`` (the plan before an event), frozen orders must also stay in place.
    """
    ref = (reference.schedule, reference.times) if reference is not None else None
    problems = validate(plan.problem, plan.schedule, plan.times, reference=ref)
    if problems:
        raise RRLError(f"internal error: the {what} schedule is invalid ({problems[0]}; {len(problems)} violations)")
    return plan


def progress_enabled(as_json: bool) -> bool:
    """Progress bars go to stderr, only for people: not with --json, not when stderr is no TTY."""
    return not as_json and sys.stderr.isatty()
