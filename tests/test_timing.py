"""Timing (DESIGN section 3) against an independent computation, full and incremental."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rrl.cli.main import cli
from rrl.domain import Plan, Schedule, compute_times, frozen_orders, scenario_from_dict
from rrl.domain.timing import clear_downtime
from rrl.errors import CycleError
from rrl.operators import successors
from tests.conftest import SCENARIOS, plans
from tests.reference_timing import reference_times


def _scenario_data(plan: Plan) -> dict:
    from rrl.domain.scenario import Scenario

    return Scenario("t", plan.problem, plan.schedule).to_dict()


@settings(max_examples=60, deadline=None)
@given(plans())
def test_times_equal_independent_computation(plan: Plan) -> None:
    expected = reference_times(_scenario_data(plan))
    for order, (start, end) in expected.items():
        assert plan.times.start[order] == pytest.approx(start, abs=1e-6)
        assert plan.times.end[order] == pytest.approx(end, abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(plans())
def test_metrics_as_a_dict_hold_every_field_as_written(plan: Plan) -> None:
    metrics = plan.metrics
    data = metrics.to_dict()
    assert data == dataclasses.asdict(metrics)
    assert list(data) == [f.name for f in dataclasses.fields(metrics)]  # the order --json prints
    assert data["load"] is not metrics.load and data["tardiness"] is not metrics.tardiness  # copies


@settings(max_examples=15, deadline=None)
@given(plan=plans(max_orders=12))
def test_cli_json_times_equal_independent_computation(plan: Plan, tmp_path_factory) -> None:
    data = _scenario_data(plan)
    path = tmp_path_factory.mktemp("s") / "s.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(cli, ["schedule", "--scenario", str(path), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert set(printed) == {"metrics", "schedule"}
    expected = reference_times(data)
    assert len(printed["schedule"]) == len(expected)
    for row in printed["schedule"]:
        assert set(row) == {"order", "resource", "start", "end", "tardiness"}
        start, end = expected[row["order"]]
        assert row["start"] == pytest.approx(start, abs=1e-6)
        assert row["end"] == pytest.approx(end, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(plans(), st.integers(0, 10_000))
def test_incremental_retiming_equals_full(plan: Plan, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(4):
        focal = rng.choice(list(plan.schedule.orders()))
        moves = list(successors(plan, focal))
        if not moves:
            continue
        _, plan = rng.choice(moves)
        full = compute_times(plan.problem, plan.schedule)
        for order in full.start:
            assert plan.times.start[order] == pytest.approx(full.start[order], abs=1e-9)
            assert plan.times.end[order] == pytest.approx(full.end[order], abs=1e-9)
            assert plan.times.setup[order] == pytest.approx(full.setup[order], abs=1e-9)
        # the sums carried over from the parent plan (re-timing may stop early)
        assert plan.total_tardiness == pytest.approx(Plan.build(plan.problem, plan.schedule).total_tardiness, abs=1e-6)


def _fixed_point(plan: Plan) -> dict[str, tuple[float, float, float]]:
    """(start, end, cleanout) of every order by relaxing DESIGN section 3's rule until
    nothing moves: started orders at their frozen starts, the others not before the clock."""
    problem, plant = plan.problem, plan.problem.plant
    placed = [(r, o, seq[i - 1] if i else None) for r, seq in plan.schedule.sequences.items() for i, o in enumerate(seq)]
    times = dict.fromkeys(plan.schedule.orders(), (0.0, 0.0, 0.0))
    changed = True
    while changed:
        changed = False
        for resource, order, previous in placed:
            spec = problem.orders[order]
            before = problem.orders[previous].product if previous else plant.resources[resource].initial_product
            gap = plant.setup(before, spec.product) if before is not None else 0.0
            duration = problem.durations[order][resource]
            if order in problem.frozen:
                t = problem.frozen[order]
            else:
                t = max((times[previous][1] if previous else 0.0) + gap, spec.release, problem.now,
                        *(times[a][1] for a in spec.after))
                t = clear_downtime(t, gap, duration, plant.resources[resource].downtime)
            if times[order] != (t, t + duration, gap):
                times[order] = (t, t + duration, gap)
                changed = True
    return times


@settings(max_examples=40, deadline=None)
@given(plans(), st.floats(0.0, 40.0), st.integers(0, 10_000))
def test_times_with_a_clock_equal_a_fixed_point_full_and_incremental(plan: Plan, now: float, seed: int) -> None:
    # (a repair's plans have a clock and started orders: those keep their starts, the
    # others start after the clock; incremental re-timing must agree with both)
    problem = plan.problem.with_clock(now, frozen_orders(plan.problem.with_clock(now, {}), plan.schedule))
    plan = Plan.build(problem, plan.schedule)
    rng = random.Random(seed)
    for step in range(4):
        expected = _fixed_point(plan)
        for order, (start, end, gap) in expected.items():
            assert plan.times.start[order] == pytest.approx(start, abs=1e-9), (step, order)
            assert plan.times.end[order] == pytest.approx(end, abs=1e-9), (step, order)
            assert plan.times.setup[order] == pytest.approx(gap, abs=1e-9), (step, order)
        assert plan.total_tardiness == pytest.approx(Plan.build(problem, plan.schedule).total_tardiness, abs=1e-6)
        unstarted = [o for o in plan.schedule.orders() if o not in problem.frozen]
        moves = list(successors(plan, rng.choice(unstarted))) if unstarted else []
        if not moves:
            break
        _, plan = rng.choice(moves)


def test_downtime_pushes_block_including_cleanout() -> None:
    data = {
        "products": ["A", "B"],
        "resources": [{"id": "r", "rates": {"A": 10, "B": 10}, "initial_product": "A", "downtime": [[1.5, 3.0]]}],
        "cleanout": {"A": {"B": 1.0}},
        "orders": [{"id": "a", "product": "A", "size": 10, "due": 5}, {"id": "b", "product": "B", "size": 5, "due": 5}],
        "schedule": {"r": ["a", "b"]},
    }
    plan = scenario_from_dict(data).plan()
    assert plan.times.start["a"] == 0.0 and plan.times.end["a"] == 1.0
    # b needs [1.0, 2.0) cleanout + [2.0, 2.5) run: it meets [1.5, 3.0), so cleanout starts at 3.0
    assert plan.times.setup["b"] == 1.0
    assert plan.times.start["b"] == 4.0 and plan.times.end["b"] == 4.5


def test_release_and_after_across_resources() -> None:
    data = {
        "products": ["A"],
        "resources": [{"id": "r1", "rates": {"A": 100}}, {"id": "r2", "rates": {"A": 100}}],
        "orders": [
            {"id": "x", "product": "A", "size": 300, "due": 1},
            {"id": "y", "product": "A", "size": 100, "due": 1, "after": ["x"]},
            {"id": "z", "product": "A", "size": 100, "due": 1, "release": 7.5},
        ],
        "schedule": {"r1": ["x"], "r2": ["y", "z"]},
    }
    plan = scenario_from_dict(data).plan()
    assert plan.times.start["y"] == 3.0
    assert plan.times.start["z"] == 7.5
    assert plan.metrics.total_tardiness == pytest.approx(2.0 + 3.0 + 7.5)


def test_cycle_is_detected() -> None:
    data = {
        "products": ["A"],
        "resources": [{"id": "r1", "rates": {"A": 100}}],
        "orders": [
            {"id": "x", "product": "A", "size": 100, "due": 1, "after": ["y"]},
            {"id": "y", "product": "A", "size": 100, "due": 1},
        ],
    }
    problem = scenario_from_dict(data).problem
    with pytest.raises(CycleError):
        compute_times(problem, Schedule({"r1": ["x", "y"]}))


def test_shipped_scenarios_time_like_the_reference() -> None:
    import yaml

    for path in sorted(SCENARIOS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if "schedule" not in data:
            continue
        plan = scenario_from_dict(data).plan()
        for order, (start, _) in reference_times(data).items():
            assert plan.times.start[order] == pytest.approx(start, abs=1e-6), (path.name, order)
