"""Relational Q-learning of repair policies: goals, training, consult, evaluation."""

from rrl.learning.agent import EpisodeRecord, RepairAgent, RepairResult, RepairStep
from rrl.learning.goals import GOALS, Goal, RepairContext, get_goal

__all__ = ["GOALS", "EpisodeRecord", "Goal", "RepairAgent", "RepairContext", "RepairResult", "RepairStep", "get_goal"]
