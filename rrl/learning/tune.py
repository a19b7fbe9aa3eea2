"""Tuning a repair policy's training parameters with Optuna (optional extra ``tune``).

Each trial trains a policy with sampled parameters and scores it on validation cases
drawn from the training distribution (the agent's own validation stream, never the
held-out cases ``rrl evaluate`` and the benchmarks draw), repaired with a node limit so
that a trial's score does not depend on how busy the machine is. The score is the mean
goal cost after repair (lower is better). Sampling is seeded (TPE), so a tuning run is
reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rrl.domain.plant import Plant
from rrl.errors import RRLError
from rrl.learning.agent import RepairAgent

#: The parameters a trial samples, and the range of each.
SPACE: dict[str, tuple[str, Any]] = {
    "gamma": ("float", (0.2, 0.95)),
    "epsilon": ("float", (0.05, 0.5)),
    "n_step": ("int", (1, 5)),
    "min_samples": ("int", (20, 200)),
    "significance": ("log", (1e-4, 0.05)),
    "focus_width": ("int", (1, 3)),
    "moves_per_focus": ("int", (3, 10)),
    "reach": ("int", (2, 8)),
}


@dataclass
class TuneResult:
    """The best parameters found, their score and every trial."""

    best_params: dict[str, Any]
    best_score: float
    trials: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"best_params": self.best_params, "best_score": self.best_score, "trials": self.trials}


def tune(
    plant: Plant,
    goal: str = "tardiness",
    *,
    trials: int = 20,
    episodes: int = 150,
    cases: int = 20,
    node_limit: int = 20,
    fixed: dict[str, Any] | None = None,
    seed: int = 0,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> TuneResult:
    """Search the training parameters of :data:`SPACE` for ``plant`` and ``goal``.

    Parameters
    ----------
    trials : int
        Policies trained.
    episodes : int
        Training episodes per trial.
    cases : int
        Validation cases per trial (from the training distribution).
    node_limit : int
        Search expansions per validation repair.
    fixed : dict, optional
        Other :class:`RepairAgent` parameters, the same in every trial (events, orders...).
    callback : callable, optional
        Called with each finished trial's record.

    Raises
    ------
    RRLError
        When Optuna is not installed.
    """
    try:
        import optuna
    except ImportError:
        raise RRLError("rrl tune needs Optuna: pip install 'rrl-repair[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fixed = dict(fixed or {})
    records: list[dict[str, Any]] = []

    def objective(trial: Any) -> float:
        params = {name: _suggest(trial, name, kind, bounds) for name, (kind, bounds) in SPACE.items()}
        agent = RepairAgent(plant, goal, seed=seed, **fixed, **params).learn(episodes)
        score = validation_score(agent, agent._validation_cases(cases), node_limit)
        record = {"trial": trial.number, "score": score, "params": params, "leaves": agent.n_leaves}
        records.append(record)
        if callback is not None:
            callback(record)
        return score

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return TuneResult(dict(study.best_params), float(study.best_value), records)


def validation_score(agent: RepairAgent, cases: Sequence[Any], node_limit: int) -> float:
    """Mean goal cost after repairing ``cases`` with at most ``node_limit`` expansions."""
    costs = []
    for hit in cases:
        result = agent.repair(hit, node_limit=node_limit, budget_ms=600_000)
        costs.append(result.cost)
    return float(np.mean(costs))


def _suggest(trial: Any, name: str, kind: str, bounds: tuple[Any, Any]) -> Any:
    low, high = bounds
    if kind == "int":
        return trial.suggest_int(name, low, high)
    if kind == "log":
        return trial.suggest_float(name, low, high, log=True)
    return trial.suggest_float(name, low, high)
