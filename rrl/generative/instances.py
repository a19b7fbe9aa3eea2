"""Where episodes come from: fixed problems, a fixed plant with random orders, or freshly
generated plants; the curriculum stages; held-out test instances; stress scenarios.

Training instances are drawn with seeds below ``2**31`` from the environment's random
generator; held-out instances use seeds from ``2**31`` up, so they never coincide.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rrl.domain.generate import generate_scenario, random_orders
from rrl.domain.order import Order
from rrl.domain.plant import Plant
from rrl.domain.problem import Problem
from rrl.errors import RRLError

#: First seed of held-out instances (training draws seeds below it).
HELD_OUT_SEED = 2**31
#: Stress scenarios of ``rrl ppo evaluate --stress``.
STRESS = ("all_urgent", "machine_breakdown", "rush_order", "overload")


class InstanceSource(Protocol):
    """Anything that draws a problem for a new episode."""

    def sample(self, rng: np.random.Generator) -> Problem:
        """A problem drawn with ``rng``."""
        ...


@dataclass(frozen=True)
class FixedSource:
    """Episodes on a fixed list of problems, drawn uniformly."""

    problems: tuple[Problem, ...]

    def sample(self, rng: np.random.Generator) -> Problem:
        return self.problems[int(rng.integers(len(self.problems)))]


class CyclingSource:
    """Episodes on a fixed list of problems, in turn: episode ``k`` is ``problems[k % n]``.

    Used for validation, so that every evaluation of ``n`` consecutive episodes covers
    each problem exactly once whatever the random generator (the best-model choice does
    not depend on which problems were drawn).
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise RRLError("no problems to evaluate on")
        self.problems = tuple(problems)
        self.episode = 0

    def sample(self, rng: np.random.Generator) -> Problem:
        problem = self.problems[self.episode % len(self.problems)]
        self.episode += 1
        return problem


def scenario_order_range(count: int) -> tuple[int, int]:
    """Order counts of the random order sets on a scenario's plant that has ``count``
    orders: between half and twice that (at least 3 to 4), for training and evaluation."""
    return max(3, count // 2), max(4, 2 * count)


@dataclass(frozen=True)
class GeneratedSource:
    """Episodes on generated plants (:func:`rrl.domain.generate.generate_scenario`).

    ``orders`` is a count or an inclusive range drawn uniformly per episode.
    """

    machines: int
    orders: int | tuple[int, int]
    types: int
    family_steps: int = 3
    breaks: bool = True
    important_rate: float = 0.2

    def problem(self, seed: int) -> Problem:
        """The instance of a given seed (the same seed gives the same plant and orders)."""
        count = self.orders
        if isinstance(count, tuple):
            count = random.Random(seed).randint(*count)
        return generate_scenario(
            machines=self.machines, types=self.types, orders=count, family_steps=self.family_steps,
            breaks=self.breaks, important_rate=self.important_rate, seed=seed,
        ).problem

    def sample(self, rng: np.random.Generator) -> Problem:
        return self.problem(int(rng.integers(HELD_OUT_SEED)))


@dataclass(frozen=True)
class PlantSource:
    """Episodes on one fixed plant (e.g. a scenario file's) with random order sets.

    With probability ``own_rate`` an episode uses ``own`` (the file's own orders).
    """

    plant: Plant
    orders: tuple[int, int]
    family_steps: int = 2
    own: Problem | None = None
    own_rate: float = 0.25

    def problem(self, seed: int) -> Problem:
        """Random orders on the plant for a given seed."""
        rng = random.Random(seed)
        made = random_orders(self.plant, rng.randint(*self.orders), rng, family_steps=self.family_steps)
        return Problem(plant=self.plant, orders={o.id: o for o in made})

    def sample(self, rng: np.random.Generator) -> Problem:
        if self.own is not None and rng.random() < self.own_rate:
            return self.own
        return self.problem(int(rng.integers(HELD_OUT_SEED)))


@dataclass(frozen=True)
class MixedSource:
    """Each episode from one of ``sources``, drawn with probabilities ``weights``.

    The curriculum mixes earlier stages' plants into later stages so that a policy does
    not forget smaller plants while it learns larger ones.
    """

    sources: tuple[InstanceSource, ...]
    weights: tuple[float, ...]

    def sample(self, rng: np.random.Generator) -> Problem:
        p = np.asarray(self.weights, dtype=float)
        k = int(rng.choice(len(self.sources), p=p / p.sum()))
        return self.sources[k].sample(rng)


def stage_source(machines: int, orders: int | None = None) -> GeneratedSource:
    """The generated-plant distribution of a curriculum stage with ``machines`` machines.

    Orders and machine types follow the PPO seed's phases (2 machines/8 orders,
    10/40, 40/160, 152/500 with 42 types); other sizes scale linearly. Each episode draws
    its order count within +-20 % of that.
    """
    if machines < 1:
        raise RRLError(f"a plant needs at least 1 machine, got {machines}")
    table = {2: (2, 8), 10: (4, 40), 40: (10, 160), 152: (42, 500)}
    types, count = table.get(machines, (max(1, min(42, machines // 4)), max(5, round(machines * 3.3))))
    types = min(types, machines)
    if orders is not None:
        if orders < 1:
            raise RRLError(f"--orders must be >= 1, got {orders}")
        count = orders
    spread = (max(1, round(count * 0.8)), max(1, round(count * 1.2)))
    return GeneratedSource(machines=machines, orders=spread, types=types)


def held_out(source: GeneratedSource | PlantSource, count: int, *, fixed_orders: int | None = None,
             first: int = 0) -> list[Problem]:
    """``count`` test instances of a source's distribution that training never draws.

    ``fixed_orders`` pins the order count (e.g. exactly 500 for the timing benchmark);
    ``first`` skips that many held-out seeds (other plants than the usual tables').
    """
    if first < 0:  # (below the held-out seeds lie the training seeds)
        raise RRLError(f"held_out: first must be >= 0, got {first}")
    problems = []
    for i in range(first, first + count):
        seed = HELD_OUT_SEED + i
        if isinstance(source, GeneratedSource) and fixed_orders is not None:
            source = GeneratedSource(source.machines, fixed_orders, source.types, source.family_steps,
                                     source.breaks, source.important_rate)
        problems.append(source.problem(seed))
    return problems


def parse_curriculum(text: str) -> list[int]:
    """``"2,10,40,152"`` -> ``[2, 10, 40, 152]``; anything else is a one-line error."""
    try:
        stages = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RRLError(f"--curriculum: expected machine counts like 2,10,40,152, got '{text}'") from None
    if not stages or any(s < 1 for s in stages):
        raise RRLError(f"--curriculum: expected positive machine counts like 2,10,40,152, got '{text}'")
    return stages


def stress(problem: Problem, name: str, seed: int = 0) -> Problem:
    """A stressed copy of ``problem``.

    - ``all_urgent``: every order important, every due date halved (from its release);
    - ``machine_breakdown``: a quarter of the machines (at least one) down for 48 h from hour 4;
    - ``rush_order``: 10 % more orders, important, due 1.5 processing times after release;
    - ``overload``: the orders twice over (copies with ids ``<id>x``), same due dates.
    """
    rng = random.Random(seed)
    orders = list(problem.orders.values())
    if name == "all_urgent":
        changed = [o.with_changes(important=True, due=round(o.release + 0.5 * (o.due - o.release), 2))
                   for o in orders]
        return problem.with_orders(changed)
    if name == "machine_breakdown":
        plant = problem.plant
        ids = list(plant.resources)
        for rid in rng.sample(ids, max(1, len(ids) // 4)):
            plant = plant.with_resource(plant.resources[rid].with_downtime(4.0, 52.0))
        return problem.with_plant(plant)
    if name == "rush_order":
        products = [p for p in problem.plant.products if problem.plant.eligible(p)]
        rush: list[Order] = []
        for k in range(max(1, len(orders) // 10)):
            product = rng.choice(products)
            size = float(rng.randint(100, 1000))
            fastest = max(problem.plant.resources[r].rates[product] for r in problem.plant.eligible(product))
            release = round(rng.uniform(0.0, 8.0), 2)
            rush.append(Order(id=f"rush{k + 1}", product=product, size=size,
                              due=round(release + 1.5 * size / fastest, 2), release=release, important=True))
        return problem.with_orders(rush)
    if name == "overload":
        copies = [o.with_changes(id=f"{o.id}x", after=tuple(f"{a}x" for a in o.after)) for o in orders]
        return problem.with_orders(copies)
    raise RRLError(f"unknown stress scenario '{name}' (expected one of {', '.join(STRESS)})")
