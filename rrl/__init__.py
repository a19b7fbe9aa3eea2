"""rrl: relational reinforcement learning of schedule-repair policies.

The schedule world (plant, orders, schedules, timing, validator, events, operators,
dispatching rules) is importable from here; the learners live in ``rrl.relational``,
``rrl.learning`` and ``rrl.generative``.
"""

from rrl.dispatching import RULES, dispatch
from rrl.domain import (
    Metrics,
    Order,
    Plan,
    Plant,
    Problem,
    Resource,
    Scenario,
    Schedule,
    Stability,
    Timetable,
    Violation,
    compute_metrics,
    compute_stability,
    compute_times,
    is_valid,
    load_scenario,
    retime,
    scenario_from_dict,
    validate,
)
from rrl.domain.generate import generate_scenario, random_orders
from rrl.errors import CycleError, NotApplicable, RRLError, ScenarioError
from rrl.events import (
    EVENTS,
    Disruption,
    breakdown,
    draw_event,
    material_delay,
    new_order,
    rush_order,
)
from rrl.operators import OPERATORS, Action, applicable_actions, apply, successors

__version__ = "0.1.0"

__all__ = [
    "EVENTS",
    "OPERATORS",
    "RULES",
    "Action",
    "CycleError",
    "Disruption",
    "Metrics",
    "NotApplicable",
    "Order",
    "Plan",
    "Plant",
    "Problem",
    "RRLError",
    "Resource",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "Stability",
    "Timetable",
    "Violation",
    "__version__",
    "applicable_actions",
    "apply",
    "breakdown",
    "compute_metrics",
    "compute_stability",
    "compute_times",
    "dispatch",
    "draw_event",
    "generate_scenario",
    "is_valid",
    "load_scenario",
    "material_delay",
    "new_order",
    "random_orders",
    "retime",
    "rush_order",
    "scenario_from_dict",
    "successors",
    "validate",
]
