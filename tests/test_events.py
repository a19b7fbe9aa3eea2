"""Events: focal tasks, and no order lost or silently changed."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rrl.domain import Order, Plan, validate
from rrl.domain.scenario import Scenario
from rrl.errors import RRLError
from rrl.events import EVENTS, breakdown, draw_event, material_delay, new_order, rush_order
from tests.conftest import plans


def _edd(extruders: Scenario) -> Plan:
    from rrl.dispatching import dispatch

    return Plan.build(extruders.problem, dispatch(extruders.problem, "edd"))


def test_new_order_is_inserted_and_focal(extruders: Scenario) -> None:
    plan = _edd(extruders)
    order = Order("o99", "A", 458, 1.0)
    hit = new_order(plan, order, position=("ext1", 0))
    assert hit.focal == ("o99",)
    assert hit.plan.schedule.sequence("ext1")[0] == "o99"
    assert hit.plan.problem.orders["o99"] == order
    assert hit.plan.total_tardiness > plan.total_tardiness


def test_rush_order_is_important(extruders: Scenario) -> None:
    hit = rush_order(_edd(extruders), Order("r1", "C", 300, 3.0), rng=random.Random(3))
    assert hit.plan.problem.orders["r1"].important


def test_breakdown_delays_and_focal_most_tardy_first(extruders: Scenario) -> None:
    plan = _edd(extruders)
    hit = breakdown(plan, "ext2", at=2.0, duration=5.0)
    assert hit.focal
    for order in hit.focal:
        assert hit.plan.schedule.resource_of(order) == "ext2"
        assert hit.plan.times.start[order] > plan.times.start[order]
    tardiness = [hit.plan.tardiness(o) for o in hit.focal]
    assert tardiness == sorted(tardiness, reverse=True)
    # the order running at 2.0 on ext2 has started: it finishes first, the window opens after
    assert validate(hit.plan.problem, hit.plan.schedule, hit.plan.times, reference=(hit.before.schedule, hit.before.times)) == []


def test_material_delay(extruders: Scenario) -> None:
    plan = _edd(extruders)
    hit = material_delay(plan, "o10", release=15.0)
    assert hit.plan.problem.orders["o10"].release == 15.0
    assert hit.plan.times.start["o10"] >= 15.0
    with pytest.raises(RRLError, match="earlier"):
        material_delay(hit.plan, "o10", release=1.0)


def test_bad_event_parameters_are_user_errors(extruders: Scenario) -> None:
    plan = _edd(extruders)
    with pytest.raises(RRLError, match="not a resource"):
        breakdown(plan, "ext9", 1.0, 1.0)
    with pytest.raises(RRLError, match="already an order"):
        new_order(plan, Order("o1", "A", 10, 1))
    with pytest.raises(RRLError, match="cannot run"):
        new_order(plan, Order("n1", "D", 10, 1), position=("ext1", 0))


@settings(max_examples=60, deadline=None)
@given(plans(), st.sampled_from(EVENTS), st.integers(0, 10_000), st.floats(0, 8))
def test_events_never_lose_or_alter_orders(plan: Plan, kind: str, seed: int, now: float) -> None:
    rng = random.Random(seed)
    try:
        hit = draw_event(kind, plan, rng, now=now)
    except RRLError:
        return  # e.g. nothing left to delay: refused with a message, nothing changed
    before = plan.problem.orders
    after = hit.plan.problem.orders
    for oid, order in before.items():
        assert oid in after
        if kind == "material_delay" and oid == hit.event["order"]:
            assert after[oid] == order.with_changes(release=hit.event["release"])
        else:
            assert after[oid] == order
    added = set(after) - set(before)
    assert len(added) == (1 if kind in ("new_order", "rush_order") else 0)
    assert sorted(hit.plan.schedule.orders()) == sorted(after)
    assert validate(hit.plan.problem, hit.plan.schedule, hit.plan.times,
                    reference=(hit.before.schedule, hit.before.times)) == []
    for focal in hit.focal:
        assert focal in after


def test_chained_events_keep_started_orders_where_they_started(extruders: Scenario) -> None:
    plan = _edd(extruders)
    # The extruder that finishes first is idle from then on: an order put there later
    # waits for ``now`` (it cannot start in the past), and must stay there once started.
    resource = min(("ext1", "ext3"), key=lambda r: plan.times.end[plan.schedule.sequence(r)[-1]])
    now = plan.times.end[plan.schedule.sequence(resource)[-1]] + 0.5
    first = new_order(plan, Order("x1", "B", 300, 9.0), now=now,
                      position=(resource, len(plan.schedule.sequence(resource))))
    assert first.plan.times.start["x1"] == pytest.approx(now)  # held back to now
    later = now + 0.25
    second = new_order(first.plan, Order("x2", "B", 200, 12.0), now=later, rng=random.Random(0))
    assert "x1" in second.plan.problem.frozen
    assert second.plan.times.start["x1"] == pytest.approx(now)
    assert validate(second.plan.problem, second.plan.schedule, second.plan.times,
                    reference=(second.before.schedule, second.before.times)) == []


def test_scenario_of_round_trips_times_and_changes_only_what_it_must(extruders: Scenario) -> None:
    from rrl.domain.scenario import scenario_from_dict, scenario_of

    plan = _edd(extruders)
    hit = breakdown(plan, "ext1", at=4.0, duration=3.0)
    written = scenario_of(hit.plan, "after").to_dict()
    again = scenario_from_dict(written).plan()
    for order, start in hit.plan.times.start.items():
        assert again.times.start[order] == pytest.approx(start, abs=1e-9)
    changed = [o for o in written["orders"] if o != hit.plan.problem.orders[o["id"]].to_dict()]
    for entry in changed:  # only releases, and only up to the planned start
        assert entry["release"] == pytest.approx(hit.plan.times.start[entry["id"]])


@settings(max_examples=25, deadline=None)
@given(plan=plans(), seed=st.integers(0, 10_000))
def test_as_read_is_what_a_reader_of_the_printed_scenario_gets(plan: Plan, seed: int) -> None:
    """The service builds the next event's scenario with ``as_read`` (through
    ``printed_and_read``) instead of parsing the printed one: over a chain of events with
    a moving clock, all three are the same."""
    from rrl.domain.scenario import as_read, printed_and_read, scenario_from_dict, scenario_of

    rng = random.Random(seed)
    for _ in range(6):
        try:
            hit = draw_event(rng.choice(EVENTS), plan, rng)
        except RRLError:  # e.g. a material delay once every order has started
            continue
        printed = scenario_of(hit.plan, "chain")
        read, built = scenario_from_dict(printed.to_dict()), as_read(printed)
        assert printed_and_read(hit.plan, "chain") == (printed, built)  # the service's shortcut
        assert built.problem.orders == read.problem.orders
        assert (built.problem.now, dict(built.problem.frozen)) == (read.problem.now, dict(read.problem.frozen))
        assert built.schedule == read.schedule
        plan = built.plan()
        assert plan.times.start == read.plan().times.start


def test_non_finite_event_values_are_refused(extruders: Scenario) -> None:
    plan = _edd(extruders)
    with pytest.raises(RRLError, match="finite"):
        new_order(plan, Order("n1", "A", float("nan"), 1.0))
    with pytest.raises(RRLError, match="finite"):
        material_delay(plan, "o10", release=float("inf"))


def test_orders_pickle_with_every_field() -> None:
    """Order pickles its fields as constructor arguments (the service's worker sends
    plans to the server): a field added later and left out would come back as its
    default, and this fails."""
    import dataclasses
    import pickle

    full = Order("o1", "B", 120.0, 9.5, release=1.25, important=True, weight=2.0, after=("o0",))
    for spec in dataclasses.fields(Order):
        assert getattr(full, spec.name) != spec.default or spec.default is dataclasses.MISSING, spec.name
    assert pickle.loads(pickle.dumps(full)) == full
    assert pickle.loads(pickle.dumps(Order("o2", "A", 1.0, 2.0))) == Order("o2", "A", 1.0, 2.0)
