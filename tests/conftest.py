"""Shared fixtures and hypothesis strategies for the schedule world."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from rrl.dispatching import dispatch
from rrl.domain import Plan, Scenario, load_scenario
from rrl.domain.generate import generate_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(autouse=True)
def _unforked(monkeypatch) -> None:
    """Each test starts as a process that has not forked (rrl._fork times every fork and
    turns down those it finds costly: a rate left by another test must not decide)."""
    from rrl import _fork

    monkeypatch.setattr(_fork, "_fork_rate", None)
    monkeypatch.setattr(_fork, "_declined", 0)


@pytest.fixture
def extruders() -> Scenario:
    return load_scenario(SCENARIOS / "extruders.yaml")


@st.composite
def plans(draw: st.DrawFn, max_orders: int = 25, min_orders: int = 1) -> Plan:
    """A random plan: a generated plant (downtime, families, releases) and a random schedule."""
    machines = draw(st.integers(1, 6))
    scenario = generate_scenario(
        machines=machines,
        types=draw(st.integers(1, machines)),
        orders=draw(st.integers(min_orders, max_orders)),
        family_steps=draw(st.integers(1, 4)),
        breaks=draw(st.booleans()),
        seed=draw(st.integers(0, 10_000)),
    )
    rule = draw(st.sampled_from(["random", "edd", "atcs", "spt", "first_fit"]))
    schedule = dispatch(scenario.problem, rule, seed=draw(st.integers(0, 1000)))
    return Plan.build(scenario.problem, schedule)


def rng_from(seed: int) -> random.Random:
    return random.Random(seed)


#: The standard instances (DESIGN section 10), never copied into the project:
#: $RRL_BENCHMARKS, else ../shared/benchmarks next to the checkout.
BENCHMARKS = Path(os.environ.get("RRL_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))


def benchmark_yamls(names: list[str] | None) -> list[Any]:
    """Pytest parameters ``fjsp/mk01.yaml``, ... for the named instances (None: all),
    each skipped with a visible reason when the benchmark folder is absent."""
    if not BENCHMARKS.is_dir():
        return [pytest.param("-", marks=pytest.mark.skip(reason=f"benchmark folder {BENCHMARKS} is absent"))]
    found = sorted(p.relative_to(BENCHMARKS).as_posix() for p in BENCHMARKS.glob("*/*.yaml"))
    if names is not None:
        found = [f for f in found if Path(f).stem in names]
    return found
