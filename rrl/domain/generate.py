"""Random plants and orders, from the extruder case up to the PPO seed's scale
(152 machines of up to 42 machine types, 500+ orders in families chained by ``after``).

Products stand for process steps: product ``T<k>`` runs on the machines of type ``k``
and, for about a third of the products, also (slower) on the machines of one other
type. Rates are drawn per machine and product; cleanouts per ordered product pair.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rrl.domain.order import Order
from rrl.domain.plant import Plant, Resource, merge_windows
from rrl.domain.problem import Problem
from rrl.domain.scenario import Scenario


@dataclass(frozen=True)
class PlantSpec:
    """Size and shape of a generated plant.

    Parameters
    ----------
    machines : int
        Number of resources.
    types : int
        Number of machine types (= products); at most ``machines``.
    shared : float
        Share of products that a second machine type can also run.
    breaks : bool
        Add a daily one-hour break (12:00-13:00) on every machine over ``days``.
    days : int
        Horizon of the break calendar.
    """

    machines: int = 10
    types: int = 4
    shared: float = 0.35
    breaks: bool = False
    days: int = 14


def generate_plant(spec: PlantSpec, rng: random.Random) -> Plant:
    """A random plant of the given shape."""
    types = max(1, min(spec.types, spec.machines))
    products = [f"T{k + 1}" for k in range(types)]
    kinds = [k % types for k in range(spec.machines)]  # every type has at least one machine
    rng.shuffle(kinds)
    second = {k: rng.randrange(types) for k in range(types) if types > 1 and rng.random() < spec.shared}
    windows = [(24.0 * d + 12.0, 24.0 * d + 13.0) for d in range(spec.days)] if spec.breaks else []
    resources: dict[str, Resource] = {}
    width = len(str(spec.machines))
    for m, kind in enumerate(kinds):
        rates = {products[kind]: float(rng.randint(60, 160))}
        for product_kind, other in second.items():
            if other == kind and product_kind != kind:
                rates[products[product_kind]] = float(rng.randint(40, 100))
        rid = f"m{m + 1:0{width}d}"
        initial = rng.choice(sorted(rates)) if rng.random() < 0.5 else None
        resources[rid] = Resource(rid, f"type{kind + 1}", rates, initial, merge_windows(windows))
    cleanout = {
        a: {b: round(rng.uniform(0.25, 1.5), 2) for b in products if b != a} for a in products
    }
    return Plant(tuple(products), resources, cleanout)


def random_orders(
    plant: Plant,
    count: int,
    rng: random.Random,
    *,
    family_steps: int = 1,
    important_rate: float = 0.2,
    release_rate: float = 0.1,
    tightness: float = 1.0,
    prefix: str = "o",
) -> list[Order]:
    """``count`` orders on ``plant``.

    Parameters
    ----------
    family_steps : int
        Longest family; each family of 1..``family_steps`` orders is a chain of process
        steps ``<family>-P1``, ``-P2``, ... linked by ``after``. 1 gives independent orders.
    important_rate, release_rate : float
        Share of important orders and of orders released later than 0.
    tightness : float
        Due dates are drawn up to ``tightness`` times the plant's mean load horizon.
    """
    products = [p for p in plant.products if plant.eligible(p)]
    mean_rate = {p: sum(r.rates[p] for r in plant.resources.values() if p in r.rates)
                 / len(plant.eligible(p)) for p in products}
    machines = max(1, len(plant.resources))
    sizes = [float(rng.randint(100, 1000)) for _ in range(count)]
    chosen = [rng.choice(products) for _ in range(count)]
    horizon = sum(s / mean_rate[p] for s, p in zip(sizes, chosen, strict=True)) / machines
    horizon = max(horizon, 1.0)
    orders: list[Order] = []
    k = 0
    family = 0
    while k < count:
        family += 1
        steps = min(rng.randint(1, max(1, family_steps)), count - k)
        release = round(rng.uniform(0.0, 0.3 * horizon), 2) if rng.random() < release_rate else 0.0
        work = 0.0
        previous: str | None = None
        due_base = release + rng.uniform(0.1, 1.0) * tightness * horizon
        important = rng.random() < important_rate
        for step in range(steps):
            product, size = chosen[k], sizes[k]
            work += size / mean_rate[product]
            oid = f"{prefix}{k + 1}" if family_steps <= 1 else f"F{family}-P{step + 1}"
            orders.append(Order(
                id=oid, product=product, size=size, due=round(due_base + work, 2),
                release=release if step == 0 else 0.0, important=important,
                after=(previous,) if previous else (),
            ))
            previous = oid
            k += 1
    return orders


def generate_scenario(
    *,
    machines: int = 10,
    types: int = 4,
    orders: int = 50,
    family_steps: int = 1,
    breaks: bool = False,
    important_rate: float = 0.2,
    seed: int = 0,
    name: str | None = None,
) -> Scenario:
    """A random scenario (no schedule): a plant of ``machines`` resources and ``orders`` orders."""
    rng = random.Random(seed)
    days = 14
    plant = generate_plant(PlantSpec(machines=machines, types=types, breaks=breaks, days=days), rng)
    made = random_orders(plant, orders, rng, family_steps=family_steps, important_rate=important_rate)
    problem = Problem(plant=plant, orders={o.id: o for o in made})
    return Scenario(name=name or f"generated-{machines}m-{orders}o-s{seed}", problem=problem)
