"""Training and evaluation cases: a generated plan on the user's plant, then a disruption.

As in the paper's industrial case: per episode the number of orders is drawn (10 to 20
by default), their products, sizes (100 to 1000 kg) and due dates are drawn, the initial
plan comes from a dispatching rule (or a PPO model), and an event is drawn (a new order
inserted at random, a rush order, a breakdown, a material delay, or a mix).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from rrl.bounds import MAX_CASE_ORDERS
from rrl.dispatching import dispatch
from rrl.domain.generate import random_orders
from rrl.domain.plan import Plan
from rrl.domain.plant import Plant
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError
from rrl.events import EVENTS, Disruption, draw_event

#: Builds an initial schedule for a problem (a dispatching rule or a PPO model).
Builder = Callable[[Problem], Schedule]


def rule_builder(rule: str) -> Builder:
    """A builder from a dispatching rule name."""
    def build(problem: Problem) -> Schedule:
        return dispatch(problem, rule)
    return build


def parse_orders(text: str) -> tuple[int, int]:
    """``"10-20"`` or ``"15"`` to an inclusive range (user errors name the flag)."""
    try:
        low, _, high = text.partition("-")
        bounds = (int(low), int(high or low))
    except ValueError:
        raise RRLError(f"--orders: expected N or N-M (e.g. 10-20), got '{text}'") from None
    if bounds[0] < 1 or bounds[1] < bounds[0] or bounds[1] > MAX_CASE_ORDERS:
        raise RRLError(f"--orders: expected 1 <= N <= M <= {MAX_CASE_ORDERS}, got '{text}'")
    return bounds


def parse_events(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"new_order"``, ``"mix"`` or a comma list of events."""
    names = text.split(",") if isinstance(text, str) else list(text)
    if names == ["mix"]:
        return EVENTS
    for name in names:
        if name not in EVENTS:
            raise RRLError(f"--event: unknown event '{name}' (expected one of {', '.join(EVENTS)} or mix)")
    return tuple(names)


def draw_case(
    plant: Plant,
    rng: random.Random,
    *,
    orders: tuple[int, int] = (10, 20),
    events: Sequence[str] = ("new_order",),
    builder: Builder | None = None,
    family_steps: int = 1,
) -> Disruption:
    """One case: a random order book on ``plant``, its initial plan, and a drawn event.

    ``family_steps`` > 1 draws families of orders chained by ``after`` (process steps).

    Events that cannot happen in the drawn plan (e.g. nothing left to delay) are drawn
    again with another event of the list.
    """
    build = builder or rule_builder("edd")
    for _ in range(20):
        count = rng.randint(*orders)
        book = random_orders(plant, count, rng, important_rate=0.1, release_rate=0.0, family_steps=family_steps)
        problem = Problem(plant=plant, orders={o.id: o for o in book})
        plan = Plan.build(problem, build(problem))
        kind = rng.choice(list(events))
        try:
            hit = draw_event(kind, plan, rng)
        except RRLError:
            continue
        if hit.focal:
            return hit
    raise RRLError("could not draw a disruption with a focal task on this plant")
