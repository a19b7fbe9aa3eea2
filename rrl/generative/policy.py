"""Loading PPO models and running them over a problem to build a schedule."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError
from rrl.generative.env import DispatchEnv
from rrl.generative.features import SIZE
from rrl.generative.state import SLOTS


class Policy(Protocol):
    """What :func:`run_policy` needs: SB3's ``predict`` with action masks."""

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = False, action_masks: np.ndarray | None = None) -> tuple[Any, Any]:
        ...


class ModelError(RRLError):
    """A PPO model file is missing, unreadable or made for another observation."""


def load_model(path: str | Path) -> Any:
    """Load a MaskablePPO model (``.zip``) for inference on the CPU.

    Raises
    ------
    ModelError
        One line naming the file: missing, not a model, or trained for another
        observation or action space than this version of the environment.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"PPO model {path}: no such file")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"PPO model {path}: not a model file (expected the .zip written by 'rrl ppo train')")
    _single_thread()
    from sb3_contrib import MaskablePPO

    try:
        model = MaskablePPO.load(path, device="cpu")
    except Exception as error:  # any failure inside SB3/torch means the file is unusable
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"PPO model {path}: cannot be loaded ({first})") from None
    shape = getattr(model.observation_space, "shape", None)
    actions = getattr(model.action_space, "n", None)
    if shape != (SIZE,) or actions != SLOTS:
        raise ModelError(f"PPO model {path}: made for observations {shape} and {actions} actions, "
                         f"this version uses ({SIZE},) and {SLOTS}; retrain it")
    return model


def run_policy(problem: Problem, model: Policy, *, keep: Schedule | None = None,
               deterministic: bool = True) -> tuple[Schedule, dict[str, float]]:
    """Let ``model`` dispatch every order of ``problem``.

    Returns the schedule and the end time the environment computed for each order it
    placed (the safety wrapper compares them with the schedule world's own timing).

    Raises
    ------
    RRLError
        When the model chooses a masked action (``InvalidAction``).
    """
    env = DispatchEnv(problem, keep=keep)
    obs, _ = env.reset()
    state = env.state
    assert state is not None
    while not state.done:
        action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=deterministic)
        obs, _, _, _, _ = env.step(np.asarray(action).item())
    return env.schedule(), dict(state.builder.end)


def _single_thread() -> None:
    """One torch thread: the network is small, and the machine's cores are shared."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
