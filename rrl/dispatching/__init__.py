"""Dispatching rules that build initial schedules."""

from rrl.dispatching.rules import RULES, dispatch

__all__ = ["RULES", "dispatch"]
