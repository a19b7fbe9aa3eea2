"""CP-SAT on the whole problem: optimal on small cases (checked by brute force), never
worse than its hint, validator-clean with cleanouts, downtime and frozen orders, and the
repair yardstick keeps its signature."""

from __future__ import annotations

import itertools
import json

import pytest
from click.testing import CliRunner

pytest.importorskip("ortools")

from rrl.cli.main import cli  # noqa: E402
from rrl.dispatching import RULES, dispatch  # noqa: E402
from rrl.domain import Order, Plan, Plant, Problem, Resource, Schedule, load_scenario, validate  # noqa: E402
from rrl.domain.generate import generate_scenario  # noqa: E402
from rrl.events import breakdown, clock  # noqa: E402
from rrl.learning.cpsat import CpsatModel, cpsat_reschedule, cpsat_schedule, objective_value  # noqa: E402
from tests.conftest import BENCHMARKS, SCENARIOS, benchmark_yamls  # noqa: E402


def _one_machine_with_cleanouts() -> Problem:
    plant = Plant(("A", "B", "C"), {"m": Resource("m", "x", {"A": 1.0, "B": 2.0, "C": 1.0}, initial_product="C")},
                  {"A": {"B": 2.0, "C": 0.5}, "B": {"A": 0.25, "C": 3.0}, "C": {"A": 1.5, "B": 0.5}})
    orders = [Order("o1", "A", 3.0, due=4.0), Order("o2", "B", 4.0, due=3.0, release=1.0),
              Order("o3", "C", 2.0, due=6.0), Order("o4", "A", 1.0, due=9.0, weight=2.0)]
    return Problem(plant, {o.id: o for o in orders})


@pytest.mark.parametrize("objective", ["tardiness", "makespan"])
def test_optimal_on_a_small_case_by_brute_force(objective) -> None:
    problem = _one_machine_with_cleanouts()
    best = min(objective_value(Plan.build(problem, Schedule({"m": perm})), objective)
               for perm in itertools.permutations(problem.orders))
    result = cpsat_schedule(problem, objective=objective, time_limit=10)
    assert result.status == "optimal"
    assert result.value == pytest.approx(best)
    assert result.bound == pytest.approx(best)
    assert validate(problem, result.plan.schedule) == []


@pytest.mark.parametrize("name", benchmark_yamls(["ft06"]))
def test_ft06_optimum_and_bound(name) -> None:
    problem = load_scenario(BENCHMARKS / name).problem
    result = cpsat_schedule(problem, objective="makespan", time_limit=20)
    assert result.value == 55.0 and result.bound == 55.0 and result.status == "optimal"
    assert result.hint_value >= 55.0 and result.hint_source in RULES


def test_cleanouts_downtime_and_frozen_orders_stay_valid() -> None:
    scenario = generate_scenario(machines=3, types=2, orders=14, family_steps=3, breaks=True, seed=4)
    plan = Plan.build(scenario.problem, dispatch(scenario.problem, "edd"))
    hit = breakdown(clock(plan, 3.0), sorted(scenario.plant.resources)[0], 4.0, 2.0).plan
    assert hit.problem.frozen
    for objective in ("tardiness", "makespan"):
        result = cpsat_schedule(hit.problem, objective=objective, time_limit=3, keep=hit.schedule)
        assert validate(hit.problem, result.plan.schedule, reference=(hit.schedule, hit.times)) == []
        assert result.value <= result.hint_value + 1e-9
        assert result.bound <= result.value + 1e-9
    repaired = cpsat_reschedule(hit.problem, hit, time_limit=2.0, workers=1)
    assert repaired.total_tardiness <= hit.total_tardiness + 1e-9
    assert validate(hit.problem, repaired.schedule, reference=(hit.schedule, hit.times)) == []


def test_model_exposes_sequence_arcs_for_extra_constraints() -> None:
    problem = generate_scenario(machines=2, types=1, orders=5, seed=1).problem
    plain = CpsatModel(problem, "makespan", sequence_arcs=False)
    assert not plain.arcs
    full = CpsatModel(problem, "makespan", sequence_arcs=True)
    assert all((r, "", o) in full.arcs for (o, r) in full.present)
    with pytest.raises(Exception, match="keep="):
        CpsatModel(clock(Plan.build(problem, dispatch(problem, "edd")), 2.0).problem)


def test_cli_cpsat_json_reports_the_bound() -> None:
    result = CliRunner().invoke(cli, ["schedule", "--scenario", str(SCENARIOS / "extruders.yaml"), "--rule", "cpsat",
                                      "--objective", "makespan", "--time-limit", "2", "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"metrics", "schedule", "bound", "cpsat"}
    assert data["bound"] <= data["metrics"]["makespan"] + 1e-9
    assert data["cpsat"]["objective"] == "makespan" and data["cpsat"]["workers"] == 1
    assert data["cpsat"]["value"] == pytest.approx(data["metrics"]["makespan"])


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_reschedule_moves_at_most_max_moved_orders(limit) -> None:
    """Even below what the disrupted plan moves (the rush order, inserted first, moves the
    order it displaced): the reference never breaks its own limit."""
    from rrl.domain.metrics import compute_stability
    from rrl.events import new_order

    scenario = generate_scenario(machines=3, types=2, orders=12, seed=7)
    before = Plan.build(scenario.problem, dispatch(scenario.problem, "edd"))
    product = next(iter(scenario.plant.products))
    hit = new_order(before, Order("rush", product, 400.0, due=1.0), position=(scenario.plant.eligible(product)[0], 0))
    bounded = cpsat_reschedule(hit.plan.problem, hit.plan, time_limit=3.0, workers=1, reference=hit.before,
                               max_moved=limit)
    def moved(plan: Plan) -> int:
        return compute_stability(plan.schedule, plan.times, hit.before.schedule, hit.before.times).moved_orders

    assert moved(hit.plan) == 1
    assert moved(bounded) <= limit
    if limit >= moved(hit.plan):
        assert bounded.total_tardiness <= hit.plan.total_tardiness + 1e-9
    assert validate(hit.plan.problem, bounded.schedule) == []
