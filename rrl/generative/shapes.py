"""Generated flexible job shops and job shops shaped like the standard benchmark families.

The makespan model is trained on look-alikes, never on the instances it is measured on:

- :class:`FlexibleShopSource`: Brandimarte-like flexible job shops: 10-20 jobs of 5-15
  operations on 4-15 machines, each operation on 1 to a few machines (on average 1.5-3
  per operation), integer times 1-20;
- :class:`JobShopSource`: Fisher-Thompson / Lawrence-like job shops: n jobs of one
  operation per machine in a random order, integer times 1-99.

Each instance becomes a problem exactly as ``rrl scenario import`` makes one from a file
(:mod:`rrl.domain.formats`): an order per operation chained with ``after``, a product
per operation, exact durations, due dates 1.5 x the job's least work so far.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from rrl.domain.formats import DUE_FACTOR, _scenario
from rrl.domain.problem import Problem
from rrl.generative.instances import HELD_OUT_SEED


@dataclass(frozen=True)
class FlexibleShopSource:
    """Brandimarte-like flexible job shops (ranges inclusive)."""

    jobs: tuple[int, int] = (10, 20)
    operations: tuple[int, int] = (5, 15)
    machines: tuple[int, int] = (4, 15)
    flexibility: tuple[float, float] = (1.5, 3.0)
    times: tuple[int, int] = (1, 20)

    def problem(self, seed: int) -> Problem:
        """The instance of a given seed."""
        rng = random.Random(seed)
        machines = rng.randint(*self.machines)
        mean = min(rng.uniform(*self.flexibility), float(machines))
        top = max(1, min(machines, round(2 * mean - 1)))  # 1..top uniform has mean ~ `mean`
        jobs = []
        for _ in range(rng.randint(*self.jobs)):
            operations = []
            for _ in range(rng.randint(*self.operations)):
                count = rng.randint(1, top)
                chosen = sorted(rng.sample(range(1, machines + 1), count))
                operations.append([(k, rng.randint(*self.times)) for k in chosen])
            jobs.append(operations)
        return _scenario(f"fjs-{seed}", jobs, machines, first_machine=1, due_factor=DUE_FACTOR).problem

    def sample(self, rng: np.random.Generator) -> Problem:
        return self.problem(int(rng.integers(HELD_OUT_SEED)))


@dataclass(frozen=True)
class JobShopSource:
    """Fisher-Thompson / Lawrence-like job shops: each job visits every machine once."""

    jobs: tuple[int, int] = (6, 20)
    machines: tuple[int, int] = (5, 10)
    times: tuple[int, int] = (1, 99)

    def problem(self, seed: int) -> Problem:
        """The instance of a given seed."""
        rng = random.Random(seed)
        machines = rng.randint(*self.machines)
        jobs = []
        for _ in range(rng.randint(*self.jobs)):
            route = list(range(machines))
            rng.shuffle(route)
            jobs.append([[(k, rng.randint(*self.times))] for k in route])
        return _scenario(f"jsp-{seed}", jobs, machines, first_machine=0, due_factor=DUE_FACTOR).problem

    def sample(self, rng: np.random.Generator) -> Problem:
        return self.problem(int(rng.integers(HELD_OUT_SEED)))


#: Names of the shop families ``rrl ppo train --shops`` accepts.
SHOPS = {"fjsp": FlexibleShopSource, "jsp": JobShopSource}
