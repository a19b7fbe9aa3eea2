"""A problem instance: the plant, the orders to make, and the current time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from rrl.domain.order import Order
from rrl.domain.plant import Plant

#: One order on one resource, as a resource's timing reads it: its product, the cleanout
#: hours after it per next product (none to the same product), its earliest start
#: (release, or the clock when later), its due date and its duration there.
LineSpec = tuple[str, Mapping[str, float], float, float, float]

#: One resource as its timing reads it: the :data:`LineSpec` of every order it may run,
#: the cleanout hours after its initial product per next product, its downtime windows.
Line = tuple[dict[str, LineSpec], Mapping[str, float], tuple[tuple[float, float], ...]]


@dataclass(frozen=True)
class Problem:
    """Plant, orders and the clock.

    Parameters
    ----------
    plant : Plant
        Resources, rates, cleanouts and downtime.
    orders : mapping of id to Order
        The orders, in file order.
    now : float
        The current time. Orders that are not frozen never start before it.
    frozen : mapping of order id to float
        Orders that started before ``now``, with the start they had: they keep their
        resource, their position and that start (see :func:`rrl.domain.timing.frozen_orders`).
    """

    plant: Plant
    orders: Mapping[str, Order]
    now: float = 0.0
    frozen: Mapping[str, float] = field(default_factory=dict)

    # Derived tables, built once per problem because timing reads them for every order.

    @cached_property
    def durations(self) -> dict[str, dict[str, float]]:
        """``durations[order][resource]``: processing hours on every eligible resource."""
        table: dict[str, dict[str, float]] = {}
        resources = list(self.plant.resources.values())
        for order in self.orders.values():
            table[order.id] = {
                r.id: order.size / r.rates[order.product] for r in resources if order.product in r.rates
            }
        return table

    @cached_property
    def dependents(self) -> dict[str, tuple[str, ...]]:
        """``dependents[o]``: the orders that list ``o`` in their ``after``."""
        found: dict[str, list[str]] = {}
        for order in self.orders.values():
            for before in order.after:
                found.setdefault(before, []).append(order.id)
        return {k: tuple(v) for k, v in found.items()}

    @cached_property
    def lines(self) -> dict[str, Line]:
        """``lines[resource]``: what timing that resource's sequences reads (:data:`Line`),
        for a search that prices many of them (:func:`rrl.domain.timing.line_tardiness`)."""
        # the cleanouts after each product, none to itself (the same product runs on)
        rows = {a: {b: hours for b, hours in row.items() if b != a} for a, row in self.plant.cleanout.items()}
        specs: dict[str, dict[str, LineSpec]] = {r: {} for r in self.plant.resources}
        for order, durations in self.durations.items():
            spec = self.orders[order]
            after = rows.get(spec.product, {})
            earliest = max(spec.release, self.now)
            for resource, duration in durations.items():
                specs[resource][order] = (spec.product, after, earliest, spec.due, duration)
        lines: dict[str, Line] = {}
        for r, line in self.plant.resources.items():
            first = rows.get(line.initial_product, {}) if line.initial_product is not None else {}
            lines[r] = (specs[r], first, line.downtime)
        return lines

    def eligible(self, order_id: str) -> list[str]:
        """Resources that can run the order."""
        return list(self.durations[order_id])

    def with_orders(self, orders: Iterable[Order]) -> Problem:
        """Return a copy whose orders are replaced (same ids) or added (new ids)."""
        merged = dict(self.orders)
        for order in orders:
            merged[order.id] = order
        return replace(self, orders=merged)

    def with_plant(self, plant: Plant) -> Problem:
        """Return a copy on another plant (e.g. with a new downtime window)."""
        return replace(self, plant=plant)

    def with_clock(self, now: float, frozen: Mapping[str, float]) -> Problem:
        """Return a copy with a new current time and frozen orders (id -> start)."""
        return replace(self, now=now, frozen=frozen)
