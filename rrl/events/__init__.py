"""Disruptions that hit a running schedule, and their focal tasks."""

from rrl.events.disruptions import (
    EVENTS,
    Disruption,
    breakdown,
    clock,
    material_delay,
    new_order,
    rush_order,
)
from rrl.events.draw import draw_event, draw_order, fresh_id

__all__ = [
    "EVENTS",
    "Disruption",
    "breakdown",
    "clock",
    "draw_event",
    "draw_order",
    "fresh_id",
    "material_delay",
    "new_order",
    "rush_order",
]
