"""Events with missing parameters drawn from a seeded random generator.

Training draws everything; ``rrl consult`` draws only what the user did not give.
Sizes follow the paper (100 to 1000 kg); due dates are drawn relative to the plan's
remaining horizon, rush orders get a tight one (1 to 2 times their fastest run).
"""

from __future__ import annotations

import random
from typing import Any

from rrl.domain.order import Order
from rrl.domain.plan import Plan
from rrl.errors import RRLError
from rrl.events.disruptions import (
    EVENTS,
    Disruption,
    breakdown,
    material_delay,
    new_order,
    rush_order,
)


def fresh_id(plan: Plan, prefix: str = "new") -> str:
    """An order id not used in the plan's problem."""
    orders = plan.problem.orders
    k = 1
    while f"{prefix}{k}" in orders:
        k += 1
    return f"{prefix}{k}"


def draw_order(
    plan: Plan,
    rng: random.Random,
    *,
    rush: bool = False,
    product: str | None = None,
    size: float | None = None,
    due: float | None = None,
    order_id: str | None = None,
    now: float | None = None,
) -> Order:
    """A new order; attributes not given are drawn."""
    problem = plan.problem
    now = problem.now if now is None else now
    products = [p for p in problem.plant.products if problem.plant.eligible(p)]
    product = product if product is not None else rng.choice(products)
    if product not in problem.plant.products:
        raise RRLError(f"--product: '{product}' is not a product (expected one of {', '.join(products)})")
    size = size if size is not None else float(rng.randint(100, 1000))
    if due is None:
        rates = [r.rates[product] for r in problem.plant.resources.values() if product in r.rates]
        fastest = size / max(rates) if rates else 1.0
        if rush:
            due = now + fastest * rng.uniform(1.0, 2.0)
        else:
            horizon = max(plan.metrics.makespan - now, 2.0 * fastest)
            due = now + fastest + horizon * rng.uniform(0.2, 1.0)
        due = round(due, 2)
    return Order(id=order_id or fresh_id(plan), product=product, size=size, due=due, important=rush)


def draw_event(kind: str, plan: Plan, rng: random.Random, **given: Any) -> Disruption:
    """Apply event ``kind`` to ``plan``; parameters in ``given`` (None = draw) are used as is.

    Parameters
    ----------
    kind : str
        One of ``new_order``, ``rush_order``, ``breakdown``, ``material_delay``.
    plan : Plan
        The plan the event hits.
    rng : random.Random
        Source of every drawn value (seed it for reproducible runs).
    given : dict
        ``now``; ``product``, ``size``, ``due`` (orders); ``resource``, ``at``, ``duration``
        (breakdown); ``order``, ``release`` (material delay); ``position`` (orders).
    """
    now = given.get("now")
    now = plan.problem.now if now is None else float(now)
    if kind in ("new_order", "rush_order"):
        rush = kind == "rush_order"
        order = draw_order(plan, rng, rush=rush, product=given.get("product"), size=given.get("size"),
                           due=given.get("due"), now=now)
        insert = rush_order if rush else new_order
        return insert(plan, order, now=now, position=given.get("position"), rng=rng)
    if kind == "breakdown":
        resource = given.get("resource") or rng.choice(list(plan.problem.plant.resources))
        at = given.get("at")
        if at is None:
            at = max(now, round(now + rng.uniform(0.0, 0.5) * max(plan.metrics.makespan - now, 0.0), 2))
        at = float(at)
        duration = given.get("duration")
        if duration is None:
            horizon = max(plan.metrics.makespan - at, 4.0)
            duration = round(horizon * rng.uniform(0.1, 0.3), 2)
        return breakdown(plan, resource, at, float(duration), now=given.get("now"))
    if kind == "material_delay":
        delayed: str | None = given.get("order")
        if delayed is None:
            frozen = plan.problem.frozen
            candidates = [o for o in plan.schedule.orders() if o not in frozen and plan.times.start[o] >= now]
            if not candidates:
                raise RRLError("material_delay: every order has started; nothing can be delayed")
            delayed = rng.choice(candidates)
        release = given.get("release")
        if release is None:
            if delayed not in plan.times.start:
                raise RRLError(f"material_delay: '{delayed}' is not an order")
            release = round(max(plan.times.start[delayed], now) + rng.uniform(1.0, 6.0), 2)
        return material_delay(plan, delayed, float(release), now=now)
    raise RRLError(f"unknown event '{kind}' (expected one of {', '.join(EVENTS)})")
