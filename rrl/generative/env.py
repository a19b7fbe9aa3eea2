"""``DispatchEnv``: the Gymnasium environment of PPO dispatching.

One episode builds one schedule. A decision (a step) dispatches one order: the action is
one of :data:`~rrl.generative.state.SLOTS` candidate slots, :meth:`DispatchEnv.action_masks`
marks the slots that hold a candidate (a ready order, i.e. eligible somewhere and with
every ``after`` order placed; release dates only delay the start), and the chosen order
is appended to its machine of earliest completion. The reward is the negative increase
of total tardiness plus ``setup_weight`` times the cleanout hours added, scaled by
``100 / (orders * mean processing time)`` so that an episode's return is about
``-100 * mean tardiness / mean processing time`` on every plant size.

Decisions with a single distinct candidate are taken by the environment itself (their
cost is added to the next reward): the agent is only asked when there is a choice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rrl.domain.problem import Problem
from rrl.domain.scenario import Scenario, load_scenario
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError
from rrl.generative.features import LIMIT, SIZE, observe
from rrl.generative.instances import FixedSource, InstanceSource
from rrl.generative.state import SLOTS, DispatchState

#: Default weight of cleanout hours against tardiness hours in the reward.
SETUP_WEIGHT = 0.1


class InvalidAction(RRLError):
    """The agent chose a slot that holds no candidate (a masked action)."""


class DispatchEnv(gym.Env[np.ndarray, np.int64]):
    """Dispatch orders one at a time onto a plant's machines.

    Parameters
    ----------
    source : InstanceSource, Problem, Scenario or path
        Where each episode's problem comes from; a problem, scenario or scenario file
        gives the same problem every episode.
    setup_weight : float
        Weight of cleanout hours in the cost (tardiness hours weigh 1).
    skip_forced : bool
        Take decisions with a single distinct candidate without asking the agent.
    keep : Schedule, optional
        With a fixed problem: the current schedule, whose frozen orders stay in place.

    Notes
    -----
    ``reset(options={"problem": p, "keep": s})`` runs one episode on ``p`` instead.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        source: InstanceSource | Problem | Scenario | str | Path,
        *,
        setup_weight: float = SETUP_WEIGHT,
        skip_forced: bool = True,
        keep: Schedule | None = None,
    ) -> None:
        super().__init__()
        if isinstance(source, str | Path):
            source = load_scenario(source)
        if isinstance(source, Scenario):
            keep = keep if keep is not None else source.schedule
            source = source.problem
        if isinstance(source, Problem):
            source = FixedSource((source,))
        self.source: InstanceSource = source
        self.keep = keep
        self.setup_weight = setup_weight
        self.skip_forced = skip_forced
        self.observation_space = spaces.Box(-LIMIT, LIMIT, shape=(SIZE,), dtype=np.float32)
        self.action_space = spaces.Discrete(SLOTS)
        self.state: DispatchState | None = None
        self._scale = 1.0

    # -- Gymnasium API ------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        problem = options.get("problem")
        keep = options.get("keep")
        if problem is None:
            problem = self.source.sample(self.np_random)
            keep = self.keep
        self.state = DispatchState(problem, keep)
        self._scale = 100.0 / (max(1, self.state.n) * self.state.p_bar)
        return observe(self.state), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        state = self._require_state()
        if state.done:  # an instance with nothing to dispatch ends at the first step
            return observe(state), 0.0, True, False, self._info()
        cand = state.candidates()
        slot = int(action)
        if not 0 <= slot < len(cand.orders):
            raise InvalidAction(f"action {slot} is masked: only slots 0..{len(cand.orders) - 1} hold candidates")
        cost = self._place(cand.orders[slot])
        if self.skip_forced:
            while not state.done and state.candidates().distinct == 1:
                cost += self._place(state.candidates().orders[0])
        reward = -cost * self._scale
        return observe(state), float(reward), state.done, False, self._info()

    def action_masks(self) -> np.ndarray:
        """Slots that hold a candidate. After the last decision only slot 0 is left open
        (a no-op), so that a mask is never empty."""
        state = self._require_state()
        if state.done:
            mask = np.zeros(SLOTS, dtype=bool)
            mask[0] = True
            return mask
        return state.candidates().mask()

    # -- helpers ------------------------------------------------------------------------

    def schedule(self) -> Schedule:
        """The schedule built so far."""
        return self._require_state().schedule()

    def _place(self, order: int) -> float:
        tardiness, setup = self._require_state().place(order)
        return tardiness + self.setup_weight * setup

    def _require_state(self) -> DispatchState:
        if self.state is None:
            raise RRLError("call reset() before step()")
        return self.state

    def _info(self) -> dict[str, Any]:
        state = self._require_state()
        return {"placed": state.placed_count, "orders": state.n, "total_tardiness": state.total_tardiness,
                "total_setup": state.total_setup}
