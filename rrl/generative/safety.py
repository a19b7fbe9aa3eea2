"""The safety wrapper: every PPO schedule is validated; a failed or invalid one is replaced
by the best dispatching rule, and the replacement is reported, never silent.

A PPO schedule is accepted when the policy finished, the schedule passes
:func:`rrl.domain.validate` (with frozen orders checked against ``keep``), and the end
times the environment computed agree with the schedule world's own timing. Otherwise the
plan of the best of the objective's :data:`FALLBACK_RULES` is returned with
``source = "fallback:<rule>"`` and the reason.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rrl.dispatching import dispatch
from rrl.dispatching.active import require_keep
from rrl.domain.order import Order
from rrl.domain.plan import Plan
from rrl.domain.plant import Plant
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.validator import TOL, validate
from rrl.errors import RRLError
from rrl.generative.models import default_model
from rrl.generative.policy import load_model, run_policy

#: Softmax temperature of the sampled rollouts (scores divided by it), chosen for the
#: shipped tardiness model on plants of the training distribution (seeds 0 up; best of 9
#: rollouts against MDD, 30 plants at 10 and 40 machines, 8 at 152): 0.80 / 0.74 / 0.77 x
#: at 0.25, 0.79 / 0.78 / 0.82 x at 0.5, 0.78 / 0.86 x at 1, 0.99 / 0.96 x at 10 (10 / 40 /
#: 152 machines). The model distilled from the pilot (docs/ppo.md) scores its candidates
#: much closer together than the earlier one, for which 10 was best.
SAMPLE_TEMPERATURE = 0.25

#: Rules tried when a PPO schedule is rejected, per objective; the best on it wins.
FALLBACK_RULES = {"tardiness": ("mdd", "slack", "edd", "atcs"), "makespan": ("fdd_mwkr", "mwkr", "mor", "fifo", "edd")}


class PPOFallbackWarning(UserWarning):
    """:func:`generate_schedule` returned a dispatching rule's plan instead of the PPO one."""


@dataclass(frozen=True)
class PPOResult:
    """The outcome of :func:`ppo_schedule`.

    Attributes
    ----------
    plan : Plan
        A validated plan (the PPO one, or the fallback's).
    source : str
        ``"ppo"``, or ``"fallback:<rule>"`` when the PPO schedule was rejected.
    reason : str or None
        Why the PPO schedule was rejected.
    violations : tuple of str
        The validator's findings on the rejected schedule (first ten).
    seconds : float
        Wall time of the PPO attempt and, if any, of the fallback (model loading excluded).
    rollouts : int
        Schedules the policy built: the greedy one and the sampled ones.
    sample : int or None
        Which sampled rollout the plan is (from 0), None for the greedy one.
    dropped : int
        Sampled rollouts that failed or were invalid (not in the choice).
    """

    plan: Plan
    source: str
    reason: str | None = None
    violations: tuple[str, ...] = field(default=())
    seconds: float = 0.0
    rollouts: int = 1
    sample: int | None = None
    dropped: int = 0

    @property
    def fallback(self) -> bool:
        """True when the plan is the fallback rule's."""
        return self.source != "ppo"


@dataclass
class SafetyCounter:
    """How many PPO schedules were requested and how many fell back (this process)."""

    requested: int = 0
    fallbacks: int = 0


#: Process-wide counts, read by ``rrl ppo evaluate`` and available to callers.
COUNTER = SafetyCounter()


def ppo_schedule(problem: Problem, model: str | Path | Any = None, *,
                 keep: Schedule | None = None, objective: str = "tardiness", samples: int = 0,
                 seed: int = 0, temperature: float = SAMPLE_TEMPERATURE) -> PPOResult:
    """Build a schedule with a PPO policy, validated, with a rule as the safety net.

    The policy builds its greedy schedule (at each decision the candidate of highest
    score) and, with ``samples`` and once the greedy one is accepted, that many more
    drawing each decision from the softmax of its scores divided by ``temperature``
    (:data:`SAMPLE_TEMPERATURE`); the best valid one on ``objective`` is
    returned (the greedy one on ties). Each costs a greedy pass's time; the greedy
    plan's quality varies a lot from plant to plant, so the best of a few is often much
    better (docs/benchmarks.md, "PPO scheduler"). A rejected greedy schedule falls back
    to a rule as without samples.

    Parameters
    ----------
    problem : Problem
        Plant and orders.
    model : path, loaded model or None
        A model file, a loaded model (:class:`NumpyPolicy`, or a MaskablePPO model with
        the candidate-scoring policy), or None for the shipped model of ``objective``
        that fits the plant.
    keep : Schedule, optional
        The current schedule; its frozen orders (``problem.frozen``) stay in place.
    objective : {"tardiness", "makespan"}
        Picks the shipped model (without ``model``), the fallback rules, and the measure
        the best of the rollouts is chosen by.
    samples : int
        Sampled rollouts besides the greedy one (0: the greedy one alone).
    seed : int
        Seeds the sampled rollouts.
    temperature : float
        Softmax temperature of the sampled rollouts (> 0; higher: further from greedy).

    Raises
    ------
    RRLError
        When the model file is missing or unreadable (a user error, not a fallback), when
        the problem has frozen orders but no ``keep``, or when not even a fallback rule
        gives a valid plan (an invalid plan is never returned).
    """
    require_keep(problem, keep)
    if samples < 0:
        raise RRLError(f"samples must be >= 0, got {samples}")
    if not temperature > 0 or temperature == float("inf"):
        raise RRLError(f"temperature must be a positive number, got {temperature}")
    policy = _resolve(problem, model, objective)
    COUNTER.requested += 1
    began = time.perf_counter()
    reference = _reference(problem, keep)
    plan, reason, found = _rollout(problem, policy, keep, reference)
    if plan is not None:
        best, sample, dropped = plan, None, 0
        for k in range(samples):
            rng = np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, k])
            drawn = _rollout(problem, policy, keep, reference, rng, temperature)[0]
            if drawn is None:
                dropped += 1
            elif _measure(drawn, objective) < _measure(best, objective) - 1e-9:
                best, sample = drawn, k
        return PPOResult(best, "ppo", seconds=time.perf_counter() - began, rollouts=1 + samples, sample=sample,
                         dropped=dropped)
    COUNTER.fallbacks += 1
    try:
        rule, plan = best_rule(problem, keep, FALLBACK_RULES.get(objective, FALLBACK_RULES["tardiness"]),
                               objective=objective)
    except RRLError as error:
        raise RRLError(f"PPO schedule rejected ({reason}) and {error}") from None
    return PPOResult(plan, f"fallback:{rule}", reason, tuple(found[:10]), time.perf_counter() - began)


def _rollout(problem: Problem, policy: Any, keep: Schedule | None, reference: tuple[Schedule, Any] | None,
             rng: np.random.Generator | None = None, temperature: float = 1.0
             ) -> tuple[Plan | None, str | None, list[str]]:
    """One schedule of the policy (greedy, or drawn with ``rng``): ``(plan, None, [])``
    when it is valid and the environment timed it as the schedule world does, else
    ``(None, why, the validator's findings)``. A sampled rollout only ever replaces the
    greedy one, so :func:`ppo_schedule` drops one that fails and counts it."""
    try:
        schedule, ends = run_policy(problem, policy, keep=keep, rng=rng, temperature=temperature)
        plan = Plan.build(problem, schedule)
        found = [str(v) for v in validate(problem, schedule, plan.times, reference=reference)]
        if found:
            return None, f"the PPO schedule is invalid ({len(found)} violations: {found[0]})", found
        drift = [o for o, e in ends.items() if abs(plan.times.end[o] - e) > TOL]
        if drift:
            return None, f"the environment's times disagree with the schedule world on {len(drift)} orders", []
    except Exception as error:  # the wrapper exists to catch whatever the policy does
        return None, f"the PPO policy failed ({type(error).__name__}: {error})", []
    return plan, None, []


def best_rule(problem: Problem, keep: Schedule | None = None,
              rules: Iterable[str] = FALLBACK_RULES["tardiness"], *, objective: str = "tardiness") -> tuple[str, Plan]:
    """The rule (and its plan) best on ``objective`` (total tardiness or makespan) among
    ``rules`` whose plan passes the validator (frozen orders checked against ``keep``);
    ties: first rule.

    Raises
    ------
    RRLError
        When no rule gives a valid plan.
    """
    require_keep(problem, keep)
    reference = _reference(problem, keep)
    best: tuple[str, Plan] | None = None
    rejected: list[str] = []
    for rule in rules:
        try:
            plan = Plan.build(problem, dispatch(problem, rule, keep=keep))
            found = validate(problem, plan.schedule, plan.times, reference=reference)
        except Exception as error:  # a broken rule plan is rejected like an invalid one
            rejected.append(f"{rule}: {type(error).__name__}: {error}")
            continue
        if found:
            rejected.append(f"{rule}: {len(found)} violations ({found[0]})")
            continue
        if best is None or _measure(plan, objective) < _measure(best[1], objective) - 1e-9:
            best = (rule, plan)
    if best is None:
        raise RRLError("no fallback rule gives a valid plan" + (f": {'; '.join(rejected)}" if rejected else ""))
    return best


def _measure(plan: Plan, objective: str) -> float:
    return plan.metrics.makespan if objective == "makespan" else plan.total_tardiness


def generate_schedule(plant_or_problem: Plant | Problem, orders: Iterable[Order] | None = None,
                      model: str | Path | Any = None, *, keep: Schedule | None = None,
                      objective: str = "tardiness", samples: int = 0, seed: int = 0,
                      temperature: float = SAMPLE_TEMPERATURE) -> Plan:
    """A validated PPO plan for ``orders`` on ``plant`` (or for a whole ``problem``); the
    best of the greedy one and ``samples`` sampled ones (:func:`ppo_schedule`).

    When the PPO schedule is rejected, the fallback rule's plan is returned and a
    :class:`PPOFallbackWarning` says why; use :func:`ppo_schedule` to inspect the result.
    """
    if isinstance(plant_or_problem, Problem):
        problem = plant_or_problem if orders is None else plant_or_problem.with_orders(orders)
    else:
        if orders is None:
            raise RRLError("generate_schedule: orders are required with a plant")
        problem = Problem(plant=plant_or_problem, orders={o.id: o for o in orders})
    result = ppo_schedule(problem, model, keep=keep, objective=objective, samples=samples, seed=seed,
                          temperature=temperature)
    if result.fallback:
        warnings.warn(f"PPO schedule rejected ({result.reason}); using {result.source}",
                      PPOFallbackWarning, stacklevel=2)
    return result.plan


def _resolve(problem: Problem, model: str | Path | Any, objective: str) -> Any:
    if model is None:
        model = default_model(problem.plant, objective)
    if isinstance(model, str | Path):
        return _cached_model(Path(model))
    return model


_LOADED: dict[tuple[str, int, int], Any] = {}


def _cached_model(path: Path) -> Any:
    """Load a model file once per process (callers such as the repair trainer ask for one
    schedule per episode); a changed file (time or size) is loaded again."""
    try:
        info = path.stat()
    except OSError:
        return load_model(path)  # raises the one-line error for a missing file
    key = (str(path.resolve()), info.st_mtime_ns, info.st_size)
    if key not in _LOADED:
        _LOADED.clear()  # keep one model per process: callers use one at a time
        _LOADED[key] = load_model(path)
    return _LOADED[key]


def _reference(problem: Problem, keep: Schedule | None) -> tuple[Schedule, Any] | None:
    """The kept schedule and its times, to check that frozen orders did not move."""
    if keep is None or not problem.frozen:
        return None
    frozen_only = Schedule({r: [o for o in seq if o in problem.frozen] for r, seq in keep.sequences.items()})
    return frozen_only, Plan.build(problem, frozen_only).times
