"""The plant: resources, what they can run at which rate, cleanouts, downtime."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

Window = tuple[float, float]


def merge_windows(windows: Iterable[Sequence[float]]) -> tuple[Window, ...]:
    """Sort downtime windows ``[a, b)`` and merge the overlapping ones.

    Timing scans windows once, forward; that is only correct on sorted, disjoint windows.
    """
    merged: list[list[float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in windows):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple((a, b) for a, b in merged)


@dataclass(frozen=True, slots=True)
class Resource:
    """A machine (an extruder, a reactor, ...).

    Parameters
    ----------
    id : str
        Unique identifier.
    kind : str
        Machine type, e.g. ``extruder``.
    rates : mapping of product to float
        Processing rate (kg/h) per product; a product missing here cannot run here.
    initial_product : str or None
        Product left on the resource at time 0 (decides the first cleanout).
    downtime : tuple of (start, end)
        Sorted, disjoint windows ``[start, end)`` in which nothing may run or be cleaned.
    """

    id: str
    kind: str
    rates: Mapping[str, float]
    initial_product: str | None = None
    downtime: tuple[Window, ...] = field(default=())

    def can_run(self, product: str) -> bool:
        """True when the resource has a rate for ``product``."""
        return product in self.rates

    def with_downtime(self, start: float, end: float) -> Resource:
        """Return a copy with one more downtime window."""
        return replace(self, downtime=merge_windows([*self.downtime, (start, end)]))

    def to_dict(self) -> dict[str, Any]:
        """The resource as in a scenario file."""
        data: dict[str, Any] = {"id": self.id, "kind": self.kind, "rates": dict(self.rates)}
        if self.initial_product is not None:
            data["initial_product"] = self.initial_product
        if self.downtime:
            data["downtime"] = [list(w) for w in self.downtime]
        return data


@dataclass(frozen=True)
class Plant:
    """Resources, products and the cleanout matrix.

    Parameters
    ----------
    products : tuple of str
        Every product the plant knows.
    resources : mapping of id to Resource
        In file order (dispatching rules break ties by this order).
    cleanout : mapping of product to mapping of product to float
        Hours of cleaning between two consecutive products on a resource; missing pairs
        and ``X -> X`` are 0.
    """

    products: tuple[str, ...]
    resources: Mapping[str, Resource]
    cleanout: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def setup(self, previous: str | None, product: str) -> float:
        """Cleanout hours from ``previous`` (None: a clean resource) to ``product``."""
        if previous is None or previous == product:
            return 0.0
        return self.cleanout.get(previous, {}).get(product, 0.0)

    def eligible(self, product: str) -> list[str]:
        """Ids of the resources that can run ``product``, in file order."""
        return [r.id for r in self.resources.values() if product in r.rates]

    def with_resource(self, resource: Resource) -> Plant:
        """Return a copy in which ``resource`` replaces the one with the same id."""
        resources = dict(self.resources)
        resources[resource.id] = resource
        return replace(self, resources=resources)

    def to_dict(self) -> dict[str, Any]:
        """Products, resources and cleanouts as in a scenario file."""
        return {
            "products": list(self.products),
            "resources": [r.to_dict() for r in self.resources.values()],
            "cleanout": {a: dict(row) for a, row in self.cleanout.items() if row},
        }
