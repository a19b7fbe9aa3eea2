"""The schedule world: plant, orders, schedules, timing, metrics, validation, files."""

from rrl.domain.metrics import Metrics, Stability, compute_metrics, compute_stability
from rrl.domain.order import Order
from rrl.domain.plan import Plan
from rrl.domain.plant import Plant, Resource
from rrl.domain.problem import Problem
from rrl.domain.scenario import Scenario, load_scenario, scenario_from_dict
from rrl.domain.schedule import Schedule
from rrl.domain.timing import Timetable, compute_times, frozen_orders, retime
from rrl.domain.validator import Violation, is_valid, validate

__all__ = [
    "Metrics",
    "Order",
    "Plan",
    "Plant",
    "Problem",
    "Resource",
    "Scenario",
    "Schedule",
    "Stability",
    "Timetable",
    "Violation",
    "compute_metrics",
    "compute_stability",
    "compute_times",
    "frozen_orders",
    "is_valid",
    "load_scenario",
    "retime",
    "scenario_from_dict",
    "validate",
]
