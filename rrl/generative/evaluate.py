"""KPIs of PPO schedules against the dispatching baselines (the PPO seed's KPI table).

Per method, averaged over the instances: mean tardiness per order (hours and days), on-time
rate, makespan, standard deviation of machine utilisation, total cleanout (setup) hours,
hours of work or cleanout scheduled inside downtime/break windows (must be 0), and wall
time to build one schedule (timing and validation included; model loading excluded).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rrl.dispatching import dispatch
from rrl.domain.plan import Plan
from rrl.domain.problem import Problem
from rrl.domain.validator import validate
from rrl.errors import RRLError

#: Methods of the KPI table: Random, FirstFit, EDD (important first), MDD, Slack, ATCS, PPO.
METHODS = ("random", "first_fit", "edd", "mdd", "slack", "atcs", "ppo")
LABELS = {"random": "Random", "first_fit": "FirstFit", "edd": "EDD", "mdd": "MDD", "slack": "Slack", "atcs": "ATCS",
          "ppo": "PPO", "ppo_best": "PPO, best of samples"}


@dataclass(frozen=True)
class MethodKPI:
    """The KPI row of one method (means over the instances, times per schedule)."""

    method: str
    instances: int
    mean_tardiness_h: float
    mean_tardiness_days: float
    on_time_rate: float
    makespan_h: float
    utilisation_std: float
    setup_h: float
    break_work_h: float
    seconds: float
    invalid: int
    fallbacks: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, as printed by ``--json``."""
        return asdict(self)


def break_work(plan: Plan) -> float:
    """Hours of cleanout or processing that fall inside downtime windows."""
    total = 0.0
    times = plan.times
    for resource, seq in plan.schedule.sequences.items():
        windows = plan.problem.plant.resources[resource].downtime
        if not windows:
            continue
        for order in seq:
            lo = times.start[order] - times.setup[order]
            hi = times.end[order]
            for a, b in windows:
                total += max(0.0, min(hi, b) - max(lo, a))
    return total


def plan_kpis(plan: Plan) -> dict[str, float]:
    """The per-instance KPIs of one plan."""
    m = plan.metrics
    n = max(1, len(plan.problem.orders))
    loads = list(m.load.values())
    return {
        "mean_tardiness_h": m.avg_tardiness,
        "on_time_rate": 1.0 - m.tardy_orders / n,
        "makespan_h": m.makespan,
        "utilisation_std": float(np.std(loads)) if loads else 0.0,
        "setup_h": m.total_cleanout,
        "break_work_h": break_work(plan),
    }


def evaluate(problems: Sequence[Problem], model: Any = None, *, methods: Sequence[str] = METHODS,
             seed: int = 0, samples: int = 0) -> list[MethodKPI]:
    """KPI rows of ``methods`` on ``problems``; ``model`` (path or loaded) serves ``ppo``.

    Without ``model``, the shipped model for the first problem's plant serves (see
    :func:`rrl.generative.models.default_model`). With ``samples`` (and ``ppo`` among
    the methods) a last row, method ``ppo_best``, is the best of the greedy schedule and
    ``samples`` sampled ones (:func:`rrl.generative.safety.ppo_schedule`).
    """
    if not problems:
        raise RRLError("no instances to evaluate")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise RRLError(f"unknown method '{unknown[0]}' (expected one of {', '.join(METHODS)})")
    policy = None
    if "ppo" in methods:
        from rrl.generative.models import default_model
        from rrl.generative.policy import load_model
        from rrl.generative.safety import ppo_schedule

        if model is None:
            model = default_model(problems[0].plant)
        policy = load_model(model) if isinstance(model, str | Path) else model
    rows = []
    for method in [*methods, *(["ppo_best"] if samples and "ppo" in methods else [])]:
        values: dict[str, list[float]] = {}
        seconds: list[float] = []
        invalid = fallbacks = 0
        for k, problem in enumerate(problems):
            began = time.perf_counter()
            if method in ("ppo", "ppo_best"):
                result = ppo_schedule(problem, policy, samples=samples if method == "ppo_best" else 0, seed=seed + k)
                plan = result.plan
                fallbacks += int(result.fallback)
            else:
                plan = Plan.build(problem, dispatch(problem, method, seed=seed + k))
                invalid += int(bool(validate(problem, plan.schedule, plan.times)))
            seconds.append(time.perf_counter() - began)
            for key, value in plan_kpis(plan).items():
                values.setdefault(key, []).append(value)
        mean = {key: statistics.fmean(v) for key, v in values.items()}
        rows.append(MethodKPI(
            method=method, instances=len(problems), mean_tardiness_h=mean["mean_tardiness_h"],
            mean_tardiness_days=mean["mean_tardiness_h"] / 24.0, on_time_rate=mean["on_time_rate"],
            makespan_h=mean["makespan_h"], utilisation_std=mean["utilisation_std"], setup_h=mean["setup_h"],
            break_work_h=mean["break_work_h"], seconds=statistics.median(seconds), invalid=invalid,
            fallbacks=fallbacks,
        ))
    return rows


def format_table(rows: Sequence[MethodKPI], title: str = "") -> str:
    """The KPI rows as a Markdown table (readable in a terminal too)."""
    head = ("| method | mean tardiness h | days | on time | makespan h | util. std | setup h "
            "| break work h | time ms | fallbacks |")
    lines = [title] if title else []
    lines += [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(
            f"| {LABELS.get(r.method, r.method)} | {r.mean_tardiness_h:.2f} | {r.mean_tardiness_days:.3f} "
            f"| {r.on_time_rate:.1%} | {r.makespan_h:.1f} | {r.utilisation_std:.3f} | {r.setup_h:.1f} "
            f"| {r.break_work_h:.2f} | {1000 * r.seconds:.1f} | {r.fallbacks if r.method.startswith('ppo') else '-'} |"
        )
    return "\n".join(lines)
