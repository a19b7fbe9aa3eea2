"""Repair goals (the paper's Tardiness Improvement, Stability and Balancing).

A goal judges plans relative to a disruption: the plan *before* it (the reference for
moved orders and for the tardiness to get back to) and the *disrupted* plan (where
repair starts). Each goal has

- a **cost** (lower is better) that consult never lets get worse than the disrupted
  plan's, and that rewards follow;
- a **goal test**: the tardiness to get back to;
- a **reward** per step: the cost decrease, scaled by the damage the disruption did,
  minus a small price per step, plus a bonus on reaching the goal; an episode that ends
  at the step limit worse than it started is penalised (as in the paper).

| goal | cost | goal state |
|---|---|---|
| tardiness | total tardiness TT | TT <= TT(before) |
| stability | TT + k * moved orders | TT <= TT(before) + 50% of the damage |
| balancing | TT + k/2 * moved orders | TT <= TT(before) + 25% of the damage |

``k`` is the mean processing time of an order (hours): moving one order costs about as
much as one order's run of tardiness. Moved orders are counted against the plan before
the disruption (DESIGN section 3: resource or immediate predecessor changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rrl.domain.metrics import compute_stability
from rrl.domain.plan import Plan

STEP_PRICE = 0.05
GOAL_BONUS = 1.0
WORSE_PENALTY = 1.0


@dataclass(frozen=True)
class Goal:
    """A repair goal: how much moved orders weigh, and how much damage may remain."""

    name: str
    moved_weight: float
    damage_left: float
    description: str

    def context(self, before: Plan, disrupted: Plan) -> RepairContext:
        """The yardsticks of one repair."""
        return RepairContext(self, before, disrupted)


@dataclass(frozen=True)
class RepairContext:
    """A goal applied to one disruption."""

    goal: Goal
    before: Plan
    disrupted: Plan

    @cached_property
    def damage(self) -> float:
        """How much total tardiness the disruption added (>= 0)."""
        return max(0.0, self.disrupted.total_tardiness - self.before.total_tardiness)

    @cached_property
    def scale(self) -> float:
        """Reward scale: the damage, at least one hour."""
        return max(self.damage, 1.0)

    @cached_property
    def target(self) -> float:
        """The total tardiness that counts as repaired."""
        return self.before.total_tardiness + self.goal.damage_left * self.damage + 1e-6

    @cached_property
    def disrupted_cost(self) -> float:
        """The goal's cost of the disrupted plan (a repair never returns worse)."""
        return self.cost(self.disrupted)

    @cached_property
    def order_hours(self) -> float:
        """Mean processing hours of an order in the disrupted plan (the price of a move)."""
        times = self.disrupted.times
        n = max(1, len(times.end))
        return sum(times.end[o] - times.start[o] for o in times.end) / n

    def moved(self, plan: Plan) -> int:
        """Orders moved with respect to the plan before the disruption."""
        before = self.before
        return compute_stability(plan.schedule, plan.times, before.schedule, before.times).moved_orders

    def cost(self, plan: Plan) -> float:
        """The goal's measure (lower is better)."""
        return self.cost_of(plan.total_tardiness, self.moved(plan) if self.goal.moved_weight else 0)

    def cost_of(self, total_tardiness: float, moved: int) -> float:
        """The goal's measure of a plan with this total tardiness and these moved orders."""
        return total_tardiness + self.goal.moved_weight * self.order_hours * moved

    def reached(self, plan: Plan) -> bool:
        """True when ``plan`` is a goal state."""
        return self.reached_at(plan.total_tardiness)

    def reached_at(self, total_tardiness: float) -> bool:
        """True when a plan of this total tardiness is a goal state."""
        return total_tardiness <= self.target

    def reward(self, previous: Plan, following: Plan, last: bool) -> float:
        """Reward of the step ``previous -> following``; ``last`` marks a step-limit end."""
        return self.reward_of(self.cost(previous), self.cost(following), self.reached(following), last)

    def reward_of(self, previous_cost: float, cost: float, reached: bool, last: bool, steps: int = 1) -> float:
        """:meth:`reward` from the goal costs of both plans and whether the second one is a
        goal state (the search knows these already); ``steps`` operator steps pay the step
        price each (a block step is one per member)."""
        reward = (previous_cost - cost) / self.scale - STEP_PRICE * steps
        if reached:
            reward += GOAL_BONUS
        elif last and cost > self.disrupted_cost + 1e-9:
            reward -= WORSE_PENALTY
        return reward


GOALS: dict[str, Goal] = {
    "tardiness": Goal("tardiness", 0.0, 0.0, "get total tardiness back to what it was before the disruption"),
    "stability": Goal("stability", 1.0, 0.5, "repair half the damage while moving as few orders as possible"),
    "balancing": Goal("balancing", 0.5, 0.25, "repair three quarters of the damage, moving few orders"),
}


def get_goal(name: str) -> Goal:
    """The goal called ``name`` (a user error names the choices)."""
    from rrl.errors import RRLError

    if name not in GOALS:
        raise RRLError(f"unknown goal '{name}' (expected one of {', '.join(GOALS)})")
    return GOALS[name]
