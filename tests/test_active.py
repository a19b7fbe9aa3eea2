"""The active schedule builder: whatever is chosen among its candidates or gaps, the plan
is valid, no order is lost or doubled, candidates never run out while orders remain, the
builder's own times are the schedule world's, and with idle gaps used no order could be
left-shifted into an earlier gap of its resource."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rrl.dispatching import MODES, RULES, ActiveBuilder, dispatch
from rrl.dispatching.active import ECT, EST, SCOPES
from rrl.domain import Plan, Problem, compute_times, load_scenario, validate
from rrl.domain.formats import read_instance
from rrl.domain.generate import generate_scenario
from rrl.domain.plant import Plant
from rrl.errors import RRLError
from rrl.events import breakdown, clock
from tests.conftest import BENCHMARKS, benchmark_yamls

ROUTES = {"ect": ECT, "est": EST, "none": None}


def _drive(builder: ActiveBuilder, scope: str, rng: random.Random, use_gaps: bool) -> None:
    """Place random candidates (or random gaps of random ready orders) until done,
    checking at each step that something is offered and that times stay exact."""
    problem = builder.problem
    step = 0
    while not builder.done:
        slots = builder.candidates(scope)
        assert slots, "no candidate while orders remain"
        for s in slots:
            assert s.order in builder.ready and s.resource in problem.durations[s.order]
        if use_gaps:
            order = rng.choice(builder.ready)
            resource = rng.choice(list(problem.durations[order]))
            gaps = builder.gaps(order, resource)
            assert gaps and gaps[-1].position == len(builder.sequence(resource))
            assert gaps[0] == builder.slot(order, resource)
            slot = rng.choice(gaps)
        else:
            slot = rng.choice(slots)
        released = builder.place(slot)
        assert slot.order not in builder.ready and all(o in builder.ready for o in released)
        step += 1
        if step % 7 == 0:  # the builder's times are exactly those of the partial schedule
            times = compute_times(problem, builder.schedule())
            for o, end in builder.end.items():
                assert end == pytest.approx(times.end[o], abs=1e-9)


def _check_result(builder: ActiveBuilder, reference: Plan | None = None) -> Plan:
    problem = builder.problem
    schedule = builder.schedule()
    assert sorted(schedule.orders()) == sorted(problem.orders)  # none lost, none doubled
    plan = builder.plan()
    ref = (reference.schedule, reference.times) if reference is not None else None
    assert validate(problem, schedule, plan.times, reference=ref) == []
    for o, end in builder.end.items():
        assert end == pytest.approx(plan.times.end[o], abs=1e-9)
        assert builder.start[o] == pytest.approx(plan.times.start[o], abs=1e-9)
    return plan


@settings(max_examples=60, deadline=None)
@given(machines=st.integers(1, 8), orders=st.integers(1, 40), steps=st.integers(1, 5), breaks=st.booleans(),
       seed=st.integers(0, 10_000), scope=st.sampled_from(SCOPES), route=st.sampled_from(sorted(ROUTES)),
       insertion=st.booleans(), use_gaps=st.booleans())
def test_random_choices_on_generated_plants(machines, orders, steps, breaks, seed, scope, route, insertion,
                                            use_gaps) -> None:
    problem = generate_scenario(machines=machines, types=min(machines, 3), orders=orders, family_steps=steps,
                                breaks=breaks, seed=seed).problem
    builder = ActiveBuilder(problem, insertion=insertion, route=ROUTES[route])
    _drive(builder, scope, random.Random(seed), use_gaps)
    _check_result(builder)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), at=st.floats(0.5, 20.0), scope=st.sampled_from(SCOPES))
def test_frozen_orders_and_downtime_after_an_event(seed, at, scope) -> None:
    problem = generate_scenario(machines=4, types=2, orders=25, family_steps=3, breaks=True, seed=seed).problem
    plan = Plan.build(problem, dispatch(problem, "random", seed=seed))
    resource = sorted(problem.plant.resources)[seed % 4]
    hit = breakdown(clock(plan, at), resource, at + 1.0, 3.0).plan
    builder = ActiveBuilder(hit.problem, hit.schedule)
    _drive(builder, scope, random.Random(seed), use_gaps=seed % 2 == 0)
    _check_result(builder, reference=hit)


def test_frozen_orders_need_the_current_schedule(extruders) -> None:
    plan = clock(Plan.build(extruders.problem, dispatch(extruders.problem, "edd")), 5.0)
    with pytest.raises(RRLError, match="keep="):
        ActiveBuilder(plan.problem)


@pytest.mark.parametrize("name", benchmark_yamls(["mk01", "mk05", "ft06", "la01"]))
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), scope=st.sampled_from(SCOPES), route=st.sampled_from(sorted(ROUTES)),
       use_gaps=st.booleans())
def test_random_choices_on_imported_benchmark_files(name, seed, scope, route, use_gaps) -> None:
    raw = (BENCHMARKS / name).with_suffix(".fjs" if name.startswith("fjsp/") else ".jsp")
    problem = read_instance(raw).problem
    builder = ActiveBuilder(problem, route=ROUTES[route])
    _drive(builder, scope, random.Random(seed), use_gaps)
    _check_result(builder)


def _left_shiftable(plan: Plan) -> list[str]:
    """Orders that would fit in an earlier idle gap of their own resource, every other
    order keeping its times (for plants without cleanouts or downtime)."""
    problem = plan.problem
    start, end = plan.times.start, plan.times.end
    found = []
    for seq in plan.schedule.sequences.values():
        for k, order in enumerate(seq):
            spec = problem.orders[order]
            floor = max([spec.release, problem.now, *(end[a] for a in spec.after)])
            dur = end[order] - start[order]
            for j in range(k):
                free = end[seq[j - 1]] if j else 0.0
                if max(free, floor) + dur <= start[seq[j]] - 1e-9:
                    found.append(order)
                    break
    return found


def _without_setups(problem: Problem) -> Problem:
    plant = problem.plant
    return problem.with_plant(Plant(plant.products, plant.resources, {}))


@pytest.mark.parametrize("mode", ["active", "nondelay"])
def test_schedules_are_active_on_generated_plants(mode) -> None:
    for seed in range(12):
        problem = _without_setups(generate_scenario(machines=5, types=3, orders=30, family_steps=4, seed=seed).problem)
        for rule in RULES:
            plan = Plan.build(problem, dispatch(problem, rule, mode=mode, seed=seed))
            assert _left_shiftable(plan) == [], (seed, rule)


@pytest.mark.parametrize("name", benchmark_yamls(["mk01", "mk04", "ft06", "la02"]))
def test_schedules_are_active_on_benchmarks_and_append_is_not(name) -> None:
    problem = load_scenario(BENCHMARKS / name).problem
    for rule in RULES:
        assert _left_shiftable(Plan.build(problem, dispatch(problem, rule))) == [], rule
    # the check can fail: append-only list scheduling leaves usable gaps
    assert any(_left_shiftable(Plan.build(problem, dispatch(problem, r, mode="append"))) for r in RULES)


@pytest.mark.parametrize("name", benchmark_yamls(None))
def test_every_rule_and_mode_is_valid_on_every_benchmark(name) -> None:
    problem = load_scenario(BENCHMARKS / name).problem
    for mode in MODES:
        for rule in RULES:
            schedule = dispatch(problem, rule, mode=mode)
            assert sorted(schedule.orders()) == sorted(problem.orders)
            assert validate(problem, schedule) == [], (rule, mode)


def test_stale_or_foreign_slots_are_refused() -> None:
    problem = generate_scenario(machines=1, types=1, orders=3, seed=0).problem
    builder = ActiveBuilder(problem)
    first, second = builder.ready[:2]
    resource = builder.resources[0]
    stale = builder.slot(second, resource)
    builder.place(builder.slot(first, resource))
    if builder.slot(second, resource) != stale:
        with pytest.raises(RRLError, match="does not fit"):
            builder.place(stale)
    with pytest.raises(RRLError, match="placed"):
        builder.slot(first, resource)
    with pytest.raises(RRLError, match="unknown order"):
        builder.slot("nope", resource)


def test_a_gap_is_used_exactly_when_the_next_order_keeps_its_start() -> None:
    """o2 on m2 waits for o1 on m1, so m2 is idle over [0, 5): an order fits there when it
    ends, cleanout to o2 included, by 5."""
    from rrl.domain import Order, Resource

    plant = Plant(("A", "B", "C"),
                  {"m1": Resource("m1", "x", {"A": 1.0}), "m2": Resource("m2", "x", {"B": 1.0, "C": 1.0})},
                  {"C": {"B": 3.0}})
    orders = {
        "o1": Order("o1", "A", 5.0, due=10.0),
        "o2": Order("o2", "B", 2.0, due=10.0, after=("o1",)),
        "o3": Order("o3", "B", 3.0, due=10.0),
        "o4": Order("o4", "B", 6.0, due=10.0),
        "o5": Order("o5", "C", 3.0, due=10.0),
    }
    problem = Problem(plant, orders)
    builder = ActiveBuilder(problem, route=None)
    builder.place(builder.slot("o1", "m1"))
    builder.place(builder.slot("o2", "m2"))  # o2 runs [5, 7) on m2
    fits = builder.slot("o3", "m2")
    assert (fits.position, fits.start, fits.end) == (0, 0.0, 3.0)
    too_long = builder.slot("o4", "m2")
    assert (too_long.position, too_long.start) == (1, 7.0)
    needs_cleanout = builder.slot("o5", "m2")  # 3 h + 3 h cleanout before o2 would push o2
    assert needs_cleanout.position == 1
    assert [g.position for g in builder.gaps("o3", "m2")] == [0, 1]
    builder.place(fits)
    assert builder.sequence("m2") == ("o3", "o2") and builder.start["o2"] == 5.0
    assert [g.position for g in builder.gaps("o5", "m2")] == [2]  # the gap [3, 5) is too short
