"""Dispatching rules that build initial schedules."""

from rrl.dispatching.rules import RULES, ScheduleBuilder, dispatch

__all__ = ["RULES", "ScheduleBuilder", "dispatch"]
