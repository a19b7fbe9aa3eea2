"""Dispatching rules that build initial schedules by list scheduling.

Orders become *ready* once every order in their ``after`` list is placed. Each rule
picks the next ready order and a resource for it, and appends it there; times follow
DESIGN section 3, so the result is exactly what :func:`rrl.domain.compute_times` gives.

- ``edd``: important orders first, then earliest due date; resource of earliest completion.
- ``spt``: shortest (fastest-resource) processing time first; earliest completion.
- ``atcs``: Apparent Tardiness Cost with Setups (Lee, Bhaskaran & Pinedo 1997): the
  resource free first takes the ready order of highest index
  ``w/p * exp(-max(d - p - t, 0) / (k1 p_mean)) * exp(-s / (k2 s_mean))``, with ``k1``
  and ``k2`` from the due-date range and tightness; important orders count double.
- ``first_fit``: orders in file order; the resource where the order can start first.
- ``random``: a random ready order on a random eligible resource (seeded).

Frozen orders (started before ``now``) stay where a given schedule has them.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rrl.domain.plan import Plan
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.timing import clear_downtime
from rrl.errors import RRLError

RULES = ("edd", "spt", "atcs", "first_fit", "random")


@dataclass
class _Line:
    """The state of one resource while a schedule is being built."""

    product: str | None
    free: float = 0.0
    sequence: list[str] = field(default_factory=list)


class ScheduleBuilder:
    """List scheduling by appending: places orders at the end of resources and tracks
    which orders are ready (every ``after`` order placed). Shared by every rule and by the
    PPO dispatching environment (:mod:`rrl.generative`), so both time orders the same way.

    Frozen orders of ``keep`` (``problem.frozen``) are placed first, where ``keep`` has them.
    """

    def __init__(self, problem: Problem, keep: Schedule | None) -> None:
        self.problem = problem
        plant = problem.plant
        self.lines = {r.id: _Line(r.initial_product) for r in plant.resources.values()}
        self.end: dict[str, float] = {}
        placed: set[str] = set()
        if keep is not None and problem.frozen:
            prefix = Schedule({r: [o for o in keep.sequence(r) if o in problem.frozen] for r in plant.resources})
            times = Plan.build(problem, prefix).times
            for r, seq in prefix.sequences.items():
                line = self.lines[r]
                for order in seq:
                    line.sequence.append(order)
                    line.product = problem.orders[order].product
                    line.free = times.end[order]
                    self.end[order] = times.end[order]
                    placed.add(order)
        self.todo = [o for o in problem.orders if o not in placed]
        self.missing = {o: sum(1 for a in problem.orders[o].after if a not in placed) for o in self.todo}
        self.dependents = problem.dependents

    def initially_ready(self) -> list[str]:
        """Orders still to place whose ``after`` orders are all placed."""
        return [o for o in self.todo if self.missing[o] == 0]

    def timing(self, order: str, resource: str) -> tuple[float, float]:
        """(start, end) of ``order`` appended to ``resource`` now."""
        problem = self.problem
        spec = problem.orders[order]
        line = self.lines[resource]
        gap = problem.plant.setup(line.product, spec.product)
        t = max(line.free + gap, spec.release, problem.now)
        for before in spec.after:
            t = max(t, self.end[before])
        dur = problem.durations[order][resource]
        windows = problem.plant.resources[resource].downtime
        if windows:
            t = clear_downtime(t, gap, dur, windows)
        return t, t + dur

    def best_resource(self, order: str, key: Callable[[float, float], float]) -> str:
        """The eligible resource minimising ``key(start, end)`` (ties: file order)."""
        best, best_value = "", math.inf
        for resource in self.problem.durations[order]:
            value = key(*self.timing(order, resource))
            if value < best_value - 1e-12:
                best, best_value = resource, value
        return best

    def place(self, order: str, resource: str) -> list[str]:
        """Append ``order`` to ``resource``; return the orders that became ready."""
        _, end = self.timing(order, resource)
        line = self.lines[resource]
        line.sequence.append(order)
        line.product = self.problem.orders[order].product
        line.free = end
        self.end[order] = end
        released = []
        for nxt in self.dependents.get(order, ()):
            if nxt in self.missing:
                self.missing[nxt] -= 1
                if self.missing[nxt] == 0:
                    released.append(nxt)
        return released

    def schedule(self) -> Schedule:
        """The schedule built so far."""
        return Schedule({r: line.sequence for r, line in self.lines.items()})


def dispatch(problem: Problem, rule: str = "edd", *, seed: int = 0, keep: Schedule | None = None) -> Schedule:
    """Build a schedule with a dispatching rule.

    Parameters
    ----------
    problem : Problem
        Plant and orders.
    rule : str
        One of :data:`RULES`.
    seed : int
        Seed of the ``random`` rule.
    keep : Schedule, optional
        A current schedule whose frozen orders (``problem.frozen``) stay in place.

    Returns
    -------
    Schedule
    """
    builder = ScheduleBuilder(problem, keep)
    if rule == "atcs":
        _atcs(builder)
    elif rule == "random":
        _random(builder, random.Random(seed))
    elif rule in ("edd", "spt", "first_fit"):
        _static(builder, rule)
    else:
        raise RRLError(f"unknown rule '{rule}' (expected one of {', '.join(RULES)})")
    return builder.schedule()


def _static(builder: ScheduleBuilder, rule: str) -> None:
    problem = builder.problem
    orders = problem.orders
    position = {o: i for i, o in enumerate(orders)}
    if rule == "edd":
        def priority(o: str) -> tuple[float, ...]:
            return (0.0 if orders[o].important else 1.0, orders[o].due, position[o])
    elif rule == "spt":
        def priority(o: str) -> tuple[float, ...]:
            return (min(problem.durations[o].values()), position[o])
    else:
        def priority(o: str) -> tuple[float, ...]:
            return (position[o],)

    def by_end(start: float, end: float) -> float:
        return end

    def by_start(start: float, end: float) -> float:
        return start

    key = by_start if rule == "first_fit" else by_end
    heap = [(priority(o), o) for o in builder.initially_ready()]
    heapq.heapify(heap)
    while heap:
        _, order = heapq.heappop(heap)
        for nxt in builder.place(order, builder.best_resource(order, key)):
            heapq.heappush(heap, (priority(nxt), nxt))


def _random(builder: ScheduleBuilder, rng: random.Random) -> None:
    ready = builder.initially_ready()
    while ready:
        order = ready.pop(rng.randrange(len(ready)))
        resource = rng.choice(list(builder.problem.durations[order]))
        ready.extend(builder.place(order, resource))


def atcs_parameters(problem: Problem, orders: Sequence[str]) -> tuple[float, float, float, float]:
    """ATCS look-ahead parameters ``(k1, k2, p_bar, s_bar)`` for scheduling ``orders``.

    ``p_bar`` is the mean processing time of the orders (each averaged over its eligible
    resources), ``s_bar`` the mean positive cleanout of the plant; k1 follows the due-date
    range and k2 the due-date tightness, as in Lee, Bhaskaran & Pinedo (1997). Shared by
    the ``atcs`` rule and the PPO environment's ATCS slot.
    """
    if not orders:
        return 2.0, 1.0, 1.0, 0.0
    mean_p = [float(np.mean(list(problem.durations[o].values()))) for o in orders]
    p_bar = float(np.mean(mean_p))
    setups = [v for row in problem.plant.cleanout.values() for v in row.values() if v > 0]
    s_bar = float(np.mean(setups)) if setups else 0.0
    dues = [problem.orders[o].due for o in orders]
    machines = max(1, len(problem.plant.resources))
    c_max = (sum(mean_p) + len(orders) * s_bar) / machines + problem.now
    spread = (max(dues) - min(dues)) / c_max if c_max > 0 else 0.0
    tightness = 1.0 - float(np.mean(dues)) / c_max if c_max > 0 else 0.5
    k1 = 4.5 + spread if spread <= 0.5 else 6.0 - 2.0 * spread
    k1 = max(k1, 0.5)
    k2 = max(tightness / (2.0 * math.sqrt(s_bar / p_bar)), 0.1) if s_bar > 0 and p_bar > 0 else 1.0
    return k1, k2, p_bar, s_bar


def _atcs(builder: ScheduleBuilder) -> None:
    problem = builder.problem
    orders = problem.orders
    todo = builder.todo
    if not todo:
        return
    k1, k2, p_bar, s_bar = atcs_parameters(problem, todo)

    ready = set(builder.initially_ready())
    setup_of = problem.plant.setup
    order_rank = {o: i for i, o in enumerate(orders)}
    resource_rank = {r: i for i, r in enumerate(problem.plant.resources)}
    while ready:
        # The resource that frees first among those that can take some ready order.
        candidates = {r for o in ready for r in problem.durations[o]}
        resource = min(candidates, key=lambda r: (builder.lines[r].free, resource_rank[r]))
        line = builder.lines[resource]
        choice = [o for o in sorted(ready, key=order_rank.__getitem__) if resource in problem.durations[o]]
        t = max(line.free, problem.now)
        p = np.array([problem.durations[o][resource] for o in choice])
        d = np.array([orders[o].due for o in choice])
        w = np.array([orders[o].weight * (2.0 if orders[o].important else 1.0) for o in choice])
        s = np.array([setup_of(line.product, orders[o].product) for o in choice])
        slack = np.maximum(d - p - t, 0.0)
        index = (w / p) * np.exp(-slack / (k1 * p_bar))
        if s_bar > 0:
            index = index * np.exp(-s / (k2 * s_bar))
        order = choice[int(np.argmax(index))]
        ready.discard(order)
        ready.update(builder.place(order, resource))
