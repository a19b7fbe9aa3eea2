"""Dispatching rules that build initial schedules, and the schedule builders under them."""

from rrl.dispatching.active import ActiveBuilder, Slot
from rrl.dispatching.append import ScheduleBuilder
from rrl.dispatching.rules import DEFAULT_RULE, MODES, OBJECTIVES, RULES, dispatch

__all__ = ["DEFAULT_RULE", "MODES", "OBJECTIVES", "RULES", "ActiveBuilder", "ScheduleBuilder", "Slot", "dispatch"]
