"""A plan: a problem with a schedule and its derived times, the object repairs work on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

from rrl.domain.metrics import Metrics, compute_metrics
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.timing import Timetable, compute_times, retime


@dataclass(frozen=True)
class Plan:
    """A timed schedule. Build it with :meth:`build`; change it with :meth:`with_schedule`."""

    problem: Problem
    schedule: Schedule
    times: Timetable = field(repr=False)

    @classmethod
    def build(cls, problem: Problem, schedule: Schedule) -> Plan:
        """Time ``schedule`` from scratch (raises CycleError on a cycle)."""
        return cls(problem, schedule, compute_times(problem, schedule))

    def with_schedule(self, schedule: Schedule, changed: Iterable[str]) -> Plan:
        """The plan for ``schedule``, which differs from this one only on ``changed``.

        Only the orders the change reaches are re-timed; total tardiness and cleanout are
        this plan's sums corrected for them, so a candidate plan can be judged without
        copying the timetable.
        """
        old = self.times
        times = retime(self.problem, self.schedule, old, schedule, changed)
        plan = Plan(self.problem, schedule, times)
        orders = self.problem.orders
        tardiness, cleanout = self.total_tardiness, self.total_cleanout
        new_end, new_setup = times._end, times._setup
        old_end, old_setup = old.end, old.setup
        for order in times.changed:
            due = orders[order].due
            tardiness += max(0.0, new_end[order] - due) - max(0.0, old_end[order] - due)
            cleanout += new_setup[order] - old_setup[order]
        # Seed the cached sums (cached_property reads the instance dict first).
        plan.__dict__["total_tardiness"] = tardiness
        plan.__dict__["total_cleanout"] = cleanout
        return plan

    @cached_property
    def metrics(self) -> Metrics:
        """All metrics of DESIGN section 3."""
        return compute_metrics(self.problem, self.schedule, self.times)

    @cached_property
    def total_tardiness(self) -> float:
        """Total tardiness (hours), the quantity repairs read most."""
        orders = self.problem.orders
        return sum(max(0.0, e - orders[o].due) for o, e in self.times.end.items())

    @cached_property
    def total_cleanout(self) -> float:
        """Hours of cleanout in the plan (as ``metrics.total_cleanout``, without the rest)."""
        return sum(self.times.setup.values())

    def frozen_prefix(self, resource: str) -> int:
        """How many orders at the head of ``resource``'s sequence have started (frozen).

        Nothing may be placed before them.
        """
        frozen = self.problem.frozen
        if not frozen:
            return 0
        return sum(1 for order in self.schedule.sequence(resource) if order in frozen)

    def released_problem(self) -> Problem:
        """This plan's problem with no ``after``: each order that waits for others
        released when they end in this plan. Its resources' sequences, each timed on its
        own, time this plan as it is timed: what a search that prices sequences one
        resource at a time reads on a plant with ``after`` (exact at this plan, an
        estimate of the plans near it)."""
        problem = self.problem
        end = self.times.end_of
        released = problem.with_orders(replace(spec, release=max(spec.release, *(end(o) for o in spec.after)), after=())
                                       for spec in problem.orders.values() if spec.after)
        # (a release does not change a duration: the table is shared, not rebuilt; at 500
        # orders on 152 machines that halves the call's 13 ms)
        released.__dict__["durations"] = problem.durations
        return released

    def tardiness(self, order: str) -> float:
        """Tardiness of one order."""
        return max(0.0, self.times.end_of(order) - self.problem.orders[order].due)

    def rows(self) -> list[dict[str, object]]:
        """One row per order (resource by resource): the ``schedule`` list of the CLI JSON."""
        return [
            {
                "order": order,
                "resource": resource,
                "start": self.times.start[order],
                "end": self.times.end[order],
                "tardiness": self.tardiness(order),
            }
            for resource, seq in self.schedule.sequences.items()
            for order in seq
        ]
