"""Dispatching rules build valid schedules that respect their own logic."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rrl.dispatching import RULES, dispatch
from rrl.dispatching.rules import Tables
from rrl.domain import Plan, validate
from rrl.domain.formats import read_instance
from rrl.domain.generate import generate_scenario
from rrl.domain.scenario import Scenario
from rrl.errors import RRLError
from rrl.events import clock


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(RULES), st.integers(1, 8), st.integers(1, 40), st.integers(1, 4), st.booleans(), st.integers(0, 999))
def test_rules_give_valid_schedules(rule, machines, orders, steps, breaks, seed) -> None:
    scenario = generate_scenario(machines=machines, types=min(machines, 3), orders=orders, family_steps=steps,
                                 breaks=breaks, seed=seed)
    schedule = dispatch(scenario.problem, rule, seed=seed)
    assert sorted(schedule.orders()) == sorted(scenario.problem.orders)
    assert validate(scenario.problem, schedule) == []


def test_edd_puts_important_orders_first(extruders: Scenario) -> None:
    plan = Plan.build(extruders.problem, dispatch(extruders.problem, "edd"))
    important = [o for o, spec in extruders.problem.orders.items() if spec.important]
    others = [o for o, spec in extruders.problem.orders.items() if not spec.important]
    # each resource starts with its important orders before any ordinary one
    for seq in plan.schedule.sequences.values():
        flags = [o in important for o in seq]
        assert flags == sorted(flags, reverse=True)
    assert important and others


def test_atcs_beats_random_on_average() -> None:
    total = {"atcs": 0.0, "random": 0.0}
    for seed in range(5):
        scenario = generate_scenario(machines=4, types=2, orders=30, seed=seed)
        for rule in total:
            total[rule] += Plan.build(scenario.problem, dispatch(scenario.problem, rule, seed=seed)).total_tardiness
    assert total["atcs"] < total["random"]


def test_frozen_prefix_is_kept(extruders: Scenario) -> None:
    plan = clock(Plan.build(extruders.problem, dispatch(extruders.problem, "spt")), 5.0)
    rebuilt = dispatch(plan.problem, "edd", keep=plan.schedule)
    for order in plan.problem.frozen:
        assert rebuilt.where[order] == plan.schedule.where[order]
    assert validate(plan.problem, rebuilt, reference=(plan.schedule, plan.times)) == []


def test_unknown_rule(extruders: Scenario) -> None:
    with pytest.raises(RRLError, match="unknown rule"):
        dispatch(extruders.problem, "fifo_lifo")


def test_fdd_mwkr_ranks_by_flow_due_date_over_work_remaining(tmp_path) -> None:
    # Two jobs wait for machine 0 at time 0. Job 1: 1 h there, then 8 h on machine 1
    # (FDD/WKR 1/9); job 2: 6 h there, then 5 h (6/11). mwkr starts job 2 first (11 h of
    # work against 9); FDD/WKR starts job 1, whose first step is short for what follows.
    path = tmp_path / "two.jsp"
    path.write_text("2 2\n0 1 1 8\n0 6 1 5\n")
    problem = read_instance(path).problem
    assert dispatch(problem, "mwkr").sequences["M0"][0] == "J2O1"
    assert dispatch(problem, "fdd_mwkr").sequences["M0"][0] == "J1O1"
    tables = Tables(problem, 0)
    assert (tables.flow["J1O1"], tables.flow["J1O2"], tables.flow["J2O2"]) == (0.0, 1.0, 6.0)


def test_fdd_counts_flow_from_a_later_release(extruders: Scenario) -> None:
    problem = extruders.problem
    first = next(iter(problem.orders))
    late = replace(problem, orders={**problem.orders,
                                    first: replace(problem.orders[first], release=problem.now + 7.0)})
    assert Tables(late, 0).flow[first] == 7.0 and Tables(problem, 0).flow[first] == 0.0
    # a started order counts from its own start, before now
    started = clock(Plan.build(problem, dispatch(problem, "edd")), 5.0).problem
    flow = Tables(started, 0).flow
    assert started.frozen and all(flow[o] == start - started.now for o, start in started.frozen.items())
