"""A problem instance: the plant, the orders to make, and the current time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from rrl.domain.order import Order
from rrl.domain.plant import Plant


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
    def line_specs(self) -> dict[str, dict[str, tuple[str, float, float, float]]]:
        """``line_specs[resource][order]``: (product, release, due, duration there) of every
        order the resource may run, what timing one resource's sequence reads."""
        table: dict[str, dict[str, tuple[str, float, float, float]]] = {r: {} for r in self.plant.resources}
        for order, durations in self.durations.items():
            spec = self.orders[order]
            for resource, duration in durations.items():
                table[resource][order] = (spec.product, spec.release, spec.due, duration)
        return table

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
