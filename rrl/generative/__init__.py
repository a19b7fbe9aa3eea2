"""PPO generative scheduler: a Gymnasium dispatching environment, MaskablePPO training
with a curriculum over plant sizes, a safety wrapper that validates every schedule and
falls back to the best dispatching rule, and KPI evaluation against the rules.

The environment needs ``gymnasium``; training and scheduling with a model need the
``ppo`` extra (torch, stable-baselines3, sb3-contrib). Names are imported on first use.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "DispatchEnv": "rrl.generative.env",
    "train_ppo": "rrl.generative.train",
    "TrainConfig": "rrl.generative.train",
    "load_model": "rrl.generative.policy",
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
