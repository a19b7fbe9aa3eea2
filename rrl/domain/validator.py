"""The safety layer: checks a timed schedule against every hard constraint.

Whatever produced the schedule (a rule, a repair, a PPO policy, a file), the validator
recomputes what it needs from the problem itself and reports *every* violation found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.timing import Timetable, compute_times
from rrl.errors import CycleError

#: Slack for float comparisons of times (hours).
TOL = 1e-6


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken constraint: its kind, the order concerned (if any) and a sentence."""

    kind: str
    order: str | None
    message: str

    def __str__(self) -> str:
        return self.message


def validate(
    problem: Problem,
    schedule: Schedule,
    times: Timetable | None = None,
    reference: tuple[Schedule, Timetable] | None = None,
) -> list[Violation]:
    """Every violation of ``schedule`` (timed as ``times``, or as computed when None).

    Checks: each order exactly once and known; resources known and eligible; no
    overlap on a resource including the cleanout before each order; processing time;
    release dates; ``after`` precedence; downtime windows; nothing unfrozen before
    ``now``; frozen orders unchanged against ``reference`` (schedule and times before the
    disruption), when given.
    """
    found = _check_membership(problem, schedule)
    if found:
        return found  # times are undefined when the order set itself is wrong
    if times is None:
        try:
            times = compute_times(problem, schedule)
        except CycleError as error:
            return [Violation("cycle", None, str(error))]
    missing_times = [o for o in schedule.orders() if o not in times.start]
    if missing_times:
        return [Violation("untimed", o, f"order {o} has no start time") for o in missing_times]
    found.extend(_check_times(problem, schedule, times))
    found.extend(_check_frozen(problem, schedule, times, reference))
    return found


def is_valid(problem: Problem, schedule: Schedule, times: Timetable | None = None) -> bool:
    """True when :func:`validate` finds nothing."""
    return not validate(problem, schedule, times)


def _check_membership(problem: Problem, schedule: Schedule) -> list[Violation]:
    found: list[Violation] = []
    seen: dict[str, str] = {}
    resources = problem.plant.resources
    for resource, seq in schedule.sequences.items():
        if resource not in resources:
            found.append(Violation("resource", None, f"unknown resource {resource}"))
            continue
        for order in seq:
            if order not in problem.orders:
                found.append(Violation("unknown", order, f"order {order} on {resource} is not an order of the problem"))
            elif order in seen:
                found.append(Violation("duplicate", order, f"order {order} appears on {seen[order]} and {resource}"))
            elif not resources[resource].can_run(problem.orders[order].product):
                found.append(
                    Violation("eligibility", order,
                              f"order {order} (product {problem.orders[order].product}) cannot run on {resource}")
                )
            seen.setdefault(order, resource)
    for order in problem.orders:
        if order not in seen:
            found.append(Violation("missing", order, f"order {order} is not scheduled"))
    return found


def _check_times(problem: Problem, schedule: Schedule, times: Timetable) -> list[Violation]:
    found: list[Violation] = []
    plant = problem.plant
    start, end = times.start, times.end
    for resource, seq in schedule.sequences.items():
        spec_r = plant.resources[resource]
        previous_product = spec_r.initial_product
        previous_end = 0.0
        for order in seq:
            spec = problem.orders[order]
            gap = plant.setup(previous_product, spec.product)
            s, e = start[order], end[order]
            if not (math.isfinite(s) and math.isfinite(e)):
                found.append(Violation("time", order, f"order {order} has no finite times ({s}, {e})"))
                continue
            if s - gap < previous_end - TOL:
                found.append(Violation("overlap", order,
                                       f"order {order} on {resource} starts at {s:.4f} but the resource is busy "
                                       f"(incl. {gap:.4f} h cleanout) until {previous_end + gap:.4f}"))
            dur = problem.durations[order][resource]
            if abs(e - s - dur) > TOL:
                found.append(Violation("duration", order,
                                       f"order {order} runs {e - s:.4f} h on {resource}, needs {dur:.4f} h"))
            if s < spec.release - TOL:
                found.append(Violation("release", order,
                                       f"order {order} starts at {s:.4f} before its release {spec.release:.4f}"))
            if order not in problem.frozen and s < problem.now - TOL:
                found.append(Violation("now", order,
                                       f"order {order} starts at {s:.4f}, before now ({problem.now:.4f})"))
            for before in spec.after:
                if before in end and s < end[before] - TOL:
                    found.append(Violation("precedence", order,
                                           f"order {order} starts at {s:.4f} before {before} ends ({end[before]:.4f})"))
            for a, b in spec_r.downtime:
                if s - gap < b - TOL and a < e - TOL:
                    found.append(Violation("downtime", order,
                                           f"order {order} on {resource} [{s - gap:.4f}, {e:.4f}) meets downtime [{a}, {b})"))
            previous_product = spec.product
            previous_end = max(previous_end, e)
    return found


def _check_frozen(
    problem: Problem, schedule: Schedule, times: Timetable, reference: tuple[Schedule, Timetable] | None
) -> list[Violation]:
    found: list[Violation] = []
    for order, pinned in problem.frozen.items():
        if order not in times.start:
            continue
        if abs(times.start[order] - pinned) > TOL:
            found.append(Violation("frozen", order,
                                   f"frozen order {order} start changed {pinned:.4f} -> {times.start[order]:.4f}"))
        if reference is not None and order in reference[0].where and schedule.where.get(order) != reference[0].where[order]:
            found.append(Violation("frozen", order, f"frozen order {order} was moved"))
    return found
