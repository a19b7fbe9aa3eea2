"""The PPO models shipped with rrl and which one serves a given plant.

Shipped models live in ``models/`` (in a wheel: ``rrl/_data/models``). Each ``<name>.zip``
has a ``<name>.json`` beside it with the training command, the objective it was trained
for, the stages and, for a model trained on one plant, that plant's signature. The
generic model of an objective is ``<objective>.zip`` (``tardiness.zip``, ``makespan.zip``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rrl._paths import data_dir
from rrl.domain.plant import Plant
from rrl.errors import RRLError


def plant_signature(plant: Plant) -> str:
    """A short hash of a plant's resources and what they can run (downtime and rates ignored,
    so a breakdown or a new rate keeps the plant recognisable)."""
    items = sorted((r.id, r.kind, tuple(sorted(r.rates))) for r in plant.resources.values())
    return hashlib.sha1(repr(items).encode()).hexdigest()[:16]


def models_dir() -> Path:
    """Directory of the shipped models."""
    try:
        return data_dir("models")
    except FileNotFoundError:
        raise RRLError("no PPO models are installed (the models/ directory is missing); pass --model") from None


def metadata(model: Path) -> dict[str, Any]:
    """The JSON beside a model, or an empty dict."""
    side = model.with_suffix(".json")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def default_model(plant: Plant, objective: str = "tardiness") -> Path:
    """The shipped model for ``objective`` trained on this plant, else the objective's
    generic model (``<objective>.zip``)."""
    base = models_dir()
    signature = plant_signature(plant)
    for candidate in sorted(base.glob("*.zip")):
        meta = metadata(candidate)
        if meta.get("plant_signature") == signature and meta.get("objective", "tardiness") == objective:
            return candidate
    generic = base / f"{objective}.zip"
    if not generic.is_file():
        raise RRLError(f"no shipped PPO model for --objective {objective} in {base}; pass --model")
    return generic
