"""Repair operators: the actions of the repair MDP."""

from rrl.operators.repair import OPERATORS, Action, applicable_actions, apply, successors

__all__ = ["OPERATORS", "Action", "applicable_actions", "apply", "successors"]
