"""Append-only list scheduling, the builder of earlier releases (kept as a baseline).

:class:`ScheduleBuilder` places each order at the *end* of a resource's sequence, never
in an idle gap, and tracks which orders are ready (every ``after`` order placed). The
dispatching rules and the PPO environment now use the active builder
(:mod:`rrl.dispatching.active`), whose ``mode="append"`` reproduces this behaviour;
benchmarks keep this one as the speed baseline.
Times follow DESIGN section 3, exactly as :func:`rrl.domain.compute_times` gives them.

Frozen orders (started before ``now``) stay where a given schedule has them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from rrl.domain.plan import Plan
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.timing import clear_downtime


@dataclass
class _Line:
    """The state of one resource while a schedule is being built."""

    product: str | None
    free: float = 0.0
    sequence: list[str] = field(default_factory=list)


class ScheduleBuilder:
    """List scheduling by appending: places orders at the end of resources and tracks
    which orders are ready (every ``after`` order placed). The baseline of earlier
    releases (see the module text).

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
