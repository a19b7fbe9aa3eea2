"""PPO scheduler: a Gymnasium environment on the active schedule builder whose actions are
candidate (order, machine) placements, a network that scores each candidate with shared
weights (MaskablePPO, warm-started by imitation of a rule), a safety wrapper that
validates every schedule and falls back to the best dispatching rule, and KPIs.

The environment needs ``gymnasium``; training needs the ``ppo`` extra (torch,
stable-baselines3, sb3-contrib). Scheduling with a trained model needs only numpy.
Names are imported on first use.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "DispatchEnv": "rrl.generative.env",
    "train_ppo": "rrl.generative.train",
    "TrainConfig": "rrl.generative.train",
    "load_model": "rrl.generative.policy",
    "NumpyPolicy": "rrl.generative.policy",
    "run_policy": "rrl.generative.policy",
    "generate_schedule": "rrl.generative.safety",
    "ppo_schedule": "rrl.generative.safety",
    "PPOResult": "rrl.generative.safety",
    "evaluate": "rrl.generative.evaluate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rrl.generative' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(module), name)
