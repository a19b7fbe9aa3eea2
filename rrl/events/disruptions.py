"""Disruptions (DESIGN section 4): each turns a plan into a disrupted plan and names the
focal task(s) that repair starts from.

Every event first moves the clock to ``now``: orders that started before it are frozen
(they keep resource, position and times). Events never drop or alter an order other
than the one they are about (a new order is added; a delayed order gets its new release).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from rrl.domain.order import Order
from rrl.domain.plan import Plan
from rrl.domain.problem import Problem
from rrl.domain.timing import started_prefix
from rrl.errors import RRLError

EVENTS = ("new_order", "rush_order", "breakdown", "material_delay")


@dataclass(frozen=True)
class Disruption:
    """The outcome of an event.

    Parameters
    ----------
    event : dict
        The event's type and parameters (as printed by ``rrl consult --json``).
    before : Plan
        The plan just before the event, on the event's clock (the reference for stability).
    plan : Plan
        The disrupted plan that repair starts from.
    focal : tuple of str
        Focal task(s), most urgent first.
    """

    event: dict[str, Any]
    before: Plan
    plan: Plan
    focal: tuple[str, ...] = field(default=())


def clock(plan: Plan, now: float) -> Plan:
    """``plan`` with the clock set to ``now``: orders started before it become frozen.

    Raises RRLError when ``now`` is earlier than the plan's current clock.
    """
    problem = plan.problem
    if not math.isfinite(now) or now < problem.now:
        raise RRLError(f"--now {now:g} is before the plan's current time ({problem.now:g})")
    frozen = started_prefix(plan.schedule, plan.times.start, now, problem.frozen)
    # Orders not frozen already start at or after ``now`` and frozen ones keep the start
    # they have, so the times do not change.
    return Plan(problem.with_clock(now, frozen), plan.schedule, plan.times)


def new_order(
    plan: Plan,
    order: Order,
    *,
    now: float | None = None,
    position: tuple[str, int] | None = None,
    rng: random.Random | None = None,
) -> Disruption:
    """An order arrives and is inserted: at ``position`` (resource, index) or, by default,
    at a random place after the started orders of a random eligible resource (training
    as in the paper)."""
    return _insert(plan, now, order, position, rng, "new_order")


def rush_order(
    plan: Plan,
    order: Order,
    *,
    now: float | None = None,
    position: tuple[str, int] | None = None,
    rng: random.Random | None = None,
) -> Disruption:
    """As :func:`new_order`, for an important order (``important`` is set to true)."""
    return _insert(plan, now, order.with_changes(important=True), position, rng, "rush_order")


def breakdown(plan: Plan, resource: str, at: float, duration: float, *, now: float | None = None) -> Disruption:
    """Resource ``resource`` is down over ``[at, at + duration)``; ``now`` defaults to ``at``.

    An order already running when the breakdown hits is finished first (it has started
    and cannot move): the window then opens when it ends. Focal tasks: the orders on the
    resource that the breakdown delays, most tardy first.
    """
    problem = plan.problem
    if resource not in problem.plant.resources:
        raise RRLError(f"breakdown: '{resource}' is not a resource")
    if not (math.isfinite(at) and math.isfinite(duration)) or duration <= 0:
        raise RRLError(f"breakdown: need a finite time and a duration > 0, got at={at}, duration={duration}")
    before = clock(plan, at if now is None else now)
    if at < before.problem.now:
        raise RRLError(f"breakdown: --at {at:g} is before now ({before.problem.now:g})")
    opens = at
    for order in before.schedule.sequence(resource):
        if order in before.problem.frozen:
            opens = max(opens, before.times.end[order])
    window = (opens, at + duration) if opens < at + duration else None
    if window is None:
        disrupted = before
    else:
        spec = problem.plant.resources[resource].with_downtime(*window)
        disrupted = Plan.build(before.problem.with_plant(before.problem.plant.with_resource(spec)), before.schedule)
    delayed = [
        o for o in disrupted.schedule.sequence(resource)
        if disrupted.times.start[o] > before.times.start[o] + 1e-9
    ]
    delayed.sort(key=lambda o: -disrupted.tardiness(o))
    event = {"type": "breakdown", "resource": resource, "at": at, "duration": duration,
             "window": list(window) if window else None, "now": before.problem.now}
    return Disruption(event, before, disrupted, tuple(delayed))


def material_delay(plan: Plan, order: str, release: float, *, now: float | None = None) -> Disruption:
    """The raw material of ``order`` arrives late: its release moves to ``release``."""
    problem = plan.problem
    if order not in problem.orders:
        raise RRLError(f"material_delay: '{order}' is not an order")
    before = clock(plan, problem.now if now is None else now)
    if order in before.problem.frozen:
        raise RRLError(f"material_delay: order '{order}' has already started")
    spec = problem.orders[order]
    if not math.isfinite(release):
        raise RRLError(f"material_delay: release must be a finite number, got {release}")
    if release < spec.release:
        raise RRLError(f"material_delay: new release {release:g} is earlier than the current {spec.release:g}")
    changed = before.problem.with_orders([spec.with_changes(release=release)])
    disrupted = Plan.build(changed, before.schedule)
    event = {"type": "material_delay", "order": order, "release": release, "now": before.problem.now}
    return Disruption(event, before, disrupted, (order,))


def _insert(
    plan: Plan, now: float | None, order: Order, position: tuple[str, int] | None, rng: random.Random | None,
    kind: str,
) -> Disruption:
    """Move the clock, then put the arriving order in (the two order-arrival events)."""
    before = clock(plan, plan.problem.now if now is None else now)
    problem = before.problem
    _check_new_order(problem, order)
    grown = problem.with_orders([order])
    eligible = grown.eligible(order.id)
    if position is None:
        rng = rng or random.Random(0)
        resource = rng.choice(eligible)
        floor = before.frozen_prefix(resource)
        index = rng.randint(floor, len(before.schedule.sequence(resource)))
    else:
        resource, index = position
        if resource not in eligible:
            raise RRLError(f"{kind}: order '{order.id}' (product {order.product}) cannot run on '{resource}'")
        floor = before.frozen_prefix(resource)
        if not floor <= index <= len(before.schedule.sequence(resource)):
            raise RRLError(f"{kind}: position {index} on {resource} is outside {floor}..{len(before.schedule.sequence(resource))}")
    seq = before.schedule.sequence(resource)
    schedule = before.schedule.replace({resource: seq[:index] + (order.id,) + seq[index:]})
    disrupted = Plan.build(grown, schedule)
    event = {"type": kind, "order": order.to_dict(), "position": [resource, index], "now": problem.now}
    return Disruption(event, before, disrupted, (order.id,))


def _check_new_order(problem: Problem, order: Order) -> None:
    if order.id in problem.orders:
        raise RRLError(f"new order: id '{order.id}' is already an order")
    if order.product not in problem.plant.products:
        raise RRLError(f"new order: '{order.product}' is not a product")
    if not problem.plant.eligible(order.product):
        raise RRLError(f"new order: no resource can run product '{order.product}'")
    for name in ("size", "due", "release", "weight"):
        if not math.isfinite(getattr(order, name)):
            raise RRLError(f"new order: {name} must be a finite number, got {getattr(order, name)}")
    if order.size <= 0:
        raise RRLError(f"new order: size must be > 0, got {order.size:g}")
    for before in order.after:
        if before not in problem.orders:
            raise RRLError(f"new order: after '{before}' is not an order")
