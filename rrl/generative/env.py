"""``DispatchEnv``: the Gymnasium environment of PPO schedule construction.

One episode builds one schedule on the active builder (:mod:`rrl.generative.candidates`).
A decision places one candidate (order, resource) slot: the action is the index of a
candidate row of the observation, and :meth:`DispatchEnv.action_masks` opens exactly
the rows that hold a candidate. Every candidate can be placed now (a ready order, at a
position of an eligible resource where it fits), so a masked choice is always feasible,
and while orders remain at least one row is open.

The observation is one flat vector (SB3 needs a fixed shape): the global features, then
``max_candidates`` rows of per-candidate features (padding rows are zero, their
``valid`` column 0). When a decision has more candidates than rows, the rows keep the
candidates that rank best on some feature (:meth:`CandidateState._keep`); the network
scores each row with shared weights, so a model runs on any number of candidates
(:mod:`rrl.generative.policy` does so without the cap).

The reward is the decrease of a lower bound of the objective (potential-based, so an
episode's return is the bound at the start minus the final objective, scaled):

- ``tardiness``: the sum over orders of ``max(0, end bound - due)`` (a placed order's end
  is final, an unplaced one's bound follows its ``after`` orders at least processing);
  scaled by ``100 / (orders * p)`` with ``p`` the mean processing time;
- ``makespan``: the latest end bound; scaled by ``10 / bound`` so that a return of ``-x``
  means a makespan ``x/10`` above the start's bound on every instance size.

Decisions with a single candidate are taken by the environment (``skip_forced``); their
reward goes into the next step's.
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
from rrl.generative.candidates import LIMIT, OBJECTIVES, CandidateState, F, G, Observation
from rrl.generative.instances import FixedSource, InstanceSource

#: Candidate rows of the observation by default.
MAX_CANDIDATES = 64


class InvalidAction(RRLError):
    """The agent chose a row that holds no candidate (a masked action)."""


def flat_size(max_candidates: int) -> int:
    """Length of the flat observation with ``max_candidates`` rows."""
    return G + max_candidates * F


def flatten(obs: Observation, max_candidates: int) -> np.ndarray:
    """The flat observation vector of a decision: global features, then the candidate rows,
    zero-padded to ``max_candidates`` rows."""
    flat = np.zeros(flat_size(max_candidates), dtype=np.float32)
    flat[:G] = obs.global_
    flat[G:G + obs.rows.size] = obs.rows.ravel()
    return flat


def reward_scale(state: CandidateState, objective: str) -> float:
    """What an episode's rewards are multiplied by (fixed at its start): about 100 over the
    whole episode for tardiness, 10 for makespan, on every plant size."""
    if objective == "makespan":
        machines = max(1, len(state.resources))
        return 10.0 / max(state.potential(objective), float(state.min_p.sum()) / machines, state.p)
    return 100.0 / (max(1, state.todo) * state.p)


class DispatchEnv(gym.Env[np.ndarray, np.int64]):
    """Build a schedule one (order, resource) placement at a time.

    Parameters
    ----------
    source : InstanceSource, Problem, Scenario or path
        Where each episode's problem comes from; a problem, scenario or scenario file
        gives the same problem every episode.
    objective : {"tardiness", "makespan"}
        What the reward measures.
    scope : {"nondelay", "active"}
        Candidates per resource (see :mod:`rrl.generative.candidates`).
    route : {"all", "ect"}
        Offer each order on every eligible resource, or only at its earliest completion.
    max_candidates : int
        Candidate rows of the observation (the action space's size).
    skip_forced : bool
        Take decisions with a single candidate without asking the agent.
    keep : Schedule, optional
        With a fixed problem: the current schedule, whose frozen orders stay in place.

    Notes
    -----
    ``reset(options={"problem": p, "keep": s})`` runs one episode on ``p`` instead.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, source: InstanceSource | Problem | Scenario | str | Path, *, objective: str = "tardiness",
                 scope: str = "active", route: str = "all", max_candidates: int = MAX_CANDIDATES,
                 skip_forced: bool = True, keep: Schedule | None = None) -> None:
        super().__init__()
        if objective not in OBJECTIVES:
            raise RRLError(f"unknown objective '{objective}' (expected one of {', '.join(OBJECTIVES)})")
        if max_candidates < 1:
            raise RRLError(f"max_candidates must be >= 1, got {max_candidates}")
        if isinstance(source, str | Path):
            source = load_scenario(source)
        if isinstance(source, Scenario):
            keep = keep if keep is not None else source.schedule
            source = source.problem
        if isinstance(source, Problem):
            source = FixedSource((source,))
        self.source: InstanceSource = source
        self.keep = keep
        self.objective = objective
        self.scope = scope
        self.route = route
        self.max_candidates = max_candidates
        self.skip_forced = skip_forced
        self.observation_space = spaces.Box(-LIMIT, LIMIT, shape=(flat_size(max_candidates),), dtype=np.float32)
        self.action_space = spaces.Discrete(max_candidates)
        self.state: CandidateState | None = None
        self._scale = 1.0
        self._potential = 0.0
        self._carry = 0.0

    # -- Gymnasium API ------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        problem = options.get("problem")
        keep = options.get("keep")
        if problem is None:
            problem = self.source.sample(self.np_random)
            keep = self.keep
        state = CandidateState(problem, keep, scope=self.scope, route=self.route)
        self.state = state
        self._potential = state.potential(self.objective)
        self._scale = reward_scale(state, self.objective)
        cost = self._skip() if self.skip_forced else 0.0
        self._carry = cost  # forced placements before the first decision count in the first reward
        return self._observe(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        state = self._require_state()
        if state.done:  # an instance with nothing to decide ends at the first step
            reward, self._carry = self._carry, 0.0
            return self._observe(), float(reward), True, False, self._info()
        obs = state.observe(self.max_candidates)
        index = int(action)
        if not 0 <= index < len(obs.slots):
            raise InvalidAction(f"action {index} is masked: only rows 0..{len(obs.slots) - 1} hold candidates")
        state.place(obs.slots[index])
        reward = self._carry + self._gain()
        self._carry = 0.0
        if self.skip_forced:
            reward += self._skip()
        return self._observe(), float(reward), state.done, False, self._info()

    def action_masks(self) -> np.ndarray:
        """Rows that hold a candidate. After the last decision only row 0 is open (a
        no-op), so that a mask is never empty."""
        state = self._require_state()
        mask = np.zeros(self.max_candidates, dtype=bool)
        if state.done:
            mask[0] = True
            return mask
        mask[: len(state.observe(self.max_candidates).slots)] = True
        return mask

    # -- helpers ------------------------------------------------------------------------

    def schedule(self) -> Schedule:
        """The schedule built so far."""
        return self._require_state().schedule()

    def _gain(self) -> float:
        """Scaled decrease of the objective's bound since the last call."""
        state = self._require_state()
        value = state.potential(self.objective)
        gain = (self._potential - value) * self._scale
        self._potential = value
        return gain

    def _skip(self) -> float:
        state = self._require_state()
        reward = 0.0
        while not state.done:
            obs = state.observe(self.max_candidates)
            if len(obs.slots) != 1:
                break
            state.place(obs.slots[0])
            reward += self._gain()
        return reward

    def _observe(self) -> np.ndarray:
        state = self._require_state()
        if state.done:
            return np.zeros(flat_size(self.max_candidates), dtype=np.float32)
        return flatten(state.observe(self.max_candidates), self.max_candidates)

    def _require_state(self) -> CandidateState:
        if self.state is None:
            raise RRLError("call reset() before step()")
        return self.state

    def _info(self) -> dict[str, Any]:
        state = self._require_state()
        ends = state.builder.end
        return {"placed": state.placed_count, "orders": state.todo, "total_tardiness": state.placed_tardiness,
                "makespan": max(ends.values(), default=0.0), "total_setup": state.total_setup}
