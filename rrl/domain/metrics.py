"""Schedule metrics (DESIGN section 3) and stability against a reference schedule."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.timing import Timetable

#: Tardiness below this many hours counts as on time (float noise from re-timing).
EPS = 1e-9


@dataclass(frozen=True)
class Metrics:
    """Every metric of a timed schedule, in hours.

    ``load[r]`` is the processing time on ``r`` divided by the makespan (cleanout not
    counted); ``tardiness[r]`` the total tardiness of the orders on ``r``.
    """

    total_tardiness: float
    weighted_tardiness: float
    max_tardiness: float
    avg_tardiness: float
    tardy_orders: int
    makespan: float
    total_cleanout: float
    load: dict[str, float] = field(default_factory=dict)
    tardiness: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, as printed by ``--json`` (written out: ``dataclasses.asdict`` copies
        deeply and took 40 times as long, on every answer of the service)."""
        return {"total_tardiness": self.total_tardiness, "weighted_tardiness": self.weighted_tardiness,
                "max_tardiness": self.max_tardiness, "avg_tardiness": self.avg_tardiness,
                "tardy_orders": self.tardy_orders, "makespan": self.makespan, "total_cleanout": self.total_cleanout,
                "load": dict(self.load), "tardiness": dict(self.tardiness)}


def compute_metrics(problem: Problem, schedule: Schedule, times: Timetable) -> Metrics:
    """Metrics of ``schedule`` timed as ``times``."""
    orders = problem.orders
    end = times.end
    total = weighted = worst = cleanout = makespan = 0.0
    tardy = count = 0
    load: dict[str, float] = {}
    per_resource: dict[str, float] = {}
    for resource in problem.plant.resources:
        busy = late = 0.0
        for order in schedule.sequence(resource):
            spec = orders[order]
            finish = end[order]
            busy += finish - times.start[order]
            cleanout += times.setup[order]
            lateness = max(0.0, finish - spec.due)  # as Plan.tardiness
            late += lateness
            weighted += spec.weight * lateness
            worst = max(worst, lateness)
            if lateness > EPS:
                tardy += 1
            makespan = max(makespan, finish)
            count += 1
        total += late
        load[resource] = busy
        per_resource[resource] = late
    for resource in load:
        load[resource] = load[resource] / makespan if makespan > 0 else 0.0
    return Metrics(
        total_tardiness=total,
        weighted_tardiness=weighted,
        max_tardiness=worst,
        avg_tardiness=total / count if count else 0.0,
        tardy_orders=tardy,
        makespan=makespan,
        total_cleanout=cleanout,
        load=load,
        tardiness=per_resource,
    )


@dataclass(frozen=True)
class Stability:
    """How far a schedule moved from a reference schedule.

    ``moved_orders``: orders (present in both) whose resource or immediate predecessor
    differs; ``start_shift``: sum of ``|start - start_ref|`` over those common orders.
    """

    moved_orders: int
    start_shift: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, as printed by ``--json``."""
        return asdict(self)


def compute_stability(
    schedule: Schedule, times: Timetable, reference: Schedule, reference_times: Timetable
) -> Stability:
    """Stability of ``schedule`` against ``reference``."""
    moved = 0
    shift = 0.0
    ref_where = reference.where
    for order, (resource, _) in schedule.where.items():
        if order not in ref_where:
            continue
        if resource != ref_where[order][0] or schedule.predecessor(order) != reference.predecessor(order):
            moved += 1
        shift += abs(times.start[order] - reference_times.start[order])
    return Stability(moved_orders=moved, start_shift=shift)
