"""The validator finds every violation, not only the first."""

from __future__ import annotations

from dataclasses import replace

from rrl.domain import Plan, Schedule, Timetable, validate
from rrl.domain.scenario import Scenario


def _kinds(found) -> set[str]:
    return {v.kind for v in found}


def test_clean_schedule_has_no_violation(extruders: Scenario) -> None:
    from rrl.dispatching import dispatch

    schedule = dispatch(extruders.problem, "edd")
    assert validate(extruders.problem, schedule) == []


def test_membership_violations_are_all_reported(extruders: Scenario) -> None:
    orders = list(extruders.problem.orders)
    # o4 (D) cannot run on ext1; o1 twice; o2 unknown resource-free: dropped (missing)
    schedule = Schedule({"ext1": ["o1", "o4", "ghost"], "ext2": orders[4:], "ext3": ["o1", "o3"]})
    found = validate(extruders.problem, schedule)
    assert {"eligibility", "duplicate", "unknown", "missing"} <= _kinds(found)
    assert sum(v.kind == "missing" for v in found) == 1  # o2


def test_time_violations_are_all_reported(extruders: Scenario) -> None:
    from rrl.dispatching import dispatch

    problem = extruders.problem
    plan = Plan.build(problem, dispatch(problem, "edd"))
    start, end = dict(plan.times.start), dict(plan.times.end)
    ext2 = plan.schedule.sequence("ext2")
    # overlap: pull the second order on ext2 back onto the first
    start[ext2[1]] = start[ext2[0]]
    end[ext2[1]] = start[ext2[1]] + problem.durations[ext2[1]]["ext2"]
    # release: o8 is released at 4.0
    start["o8"], end["o8"] = 0.0, problem.durations["o8"][plan.schedule.resource_of("o8")]
    # precedence: o14 after o6
    start["o14"] = start["o6"]
    end["o14"] = start["o14"] + problem.durations["o14"][plan.schedule.resource_of("o14")]
    times = Timetable(start, end, dict(plan.times.setup))
    found = validate(problem, plan.schedule, times)
    assert {"overlap", "release", "precedence"} <= _kinds(found)
    assert len(found) >= 3


def test_downtime_and_duration_violations(extruders: Scenario) -> None:
    problem = extruders.problem
    plant = problem.plant.with_resource(problem.plant.resources["ext1"].with_downtime(0.0, 100.0))
    broken = replace(problem, plant=plant)
    schedule = Schedule({"ext1": ["o1"], "ext2": [o for o in problem.orders if o not in ("o1",) and "ext2" in problem.durations[o]],
                         "ext3": [o for o in problem.orders if o != "o1" and "ext2" not in problem.durations[o]]})
    times = Plan.build(problem, schedule).times  # times computed without the downtime
    times.end["o1"] += 1.0
    found = validate(broken, schedule, times)
    assert {"downtime", "duration"} <= _kinds(found)


def test_frozen_orders_must_not_move(extruders: Scenario) -> None:
    from rrl.dispatching import dispatch
    from rrl.events import clock

    problem = extruders.problem
    plan = clock(Plan.build(problem, dispatch(problem, "edd")), 3.0)
    frozen = sorted(plan.problem.frozen)
    assert frozen
    victim = frozen[0]
    resource = plan.schedule.resource_of(victim)
    seq = list(plan.schedule.sequence(resource))
    seq.remove(victim)
    seq.append(victim)
    moved = plan.schedule.replace({resource: seq})
    found = validate(plan.problem, moved, reference=(plan.schedule, plan.times))
    assert "frozen" in _kinds(found)
