"""A rollout teacher ("pilot method") for the candidate-scoring network, and its distillation.

The greedy network decides from what it sees at one decision. The pilot looks ahead: at
each decision it takes the network's ``k`` best-scored candidates and the picks of two
teachers (``mdd`` and ``slack`` for tardiness, ``mwkr`` and ``mor`` for makespan),
places each in a copy of the builder, completes the schedule with a dispatching rule's
priority (``mdd`` for tardiness, ``mwkr`` for makespan, over the builder's own
candidates), and chooses the candidate whose completed
schedule has the least objective (ties: the network's order). One rollout step of policy
iteration: its schedules are far better than the network's or the rule's, but each
decision costs ``k + 2`` completions, too slow to schedule with at 500 orders.

:func:`improve` therefore distils it: rounds of pilot-built schedules on training plants
(in ``workers`` processes), whose decisions are cloned into the network as soft targets
(:func:`soft_targets`, :func:`rrl.generative.imitation.clone`), every round's decisions
together, each round's pilot asking the network of the round before. A cloned network is
kept only if its greedy schedules beat the incoming network's on validation problems.
"""

from __future__ import annotations

import copy
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rrl.dispatching.active import Slot
from rrl.dispatching.rules import complete
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError
from rrl.generative.candidates import CandidateState, F, G
from rrl.generative.env import flatten, reward_scale
from rrl.generative.imitation import teacher_choice
from rrl.generative.instances import InstanceSource

#: The rule that completes each rollout, per objective.
ROLLOUT_RULE = {"tardiness": "mdd", "makespan": "mwkr"}

#: The teachers whose picks the pilot tries beside the network's, per objective: the
#: best rules of that objective (docs/benchmarks.md), so the pilot never does worse than
#: following them at a decision.
PILOT_TEACHERS = {"tardiness": ("mdd", "slack"), "makespan": ("mwkr", "mor")}


def cost(problem: Problem, ends: dict[str, float], objective: str) -> float:
    """The objective of the orders placed with end times ``ends``."""
    if objective == "makespan":
        return max(ends.values(), default=0.0)
    orders = problem.orders
    return float(sum(max(0.0, end - orders[o].due) for o, end in ends.items()))


def rollout(state: CandidateState, slot: Slot, rule: str, objective: str) -> float:
    """The objective after placing ``slot`` and completing the schedule with ``rule``
    (in a copy of the builder: ``state`` is left as it was)."""
    problem = state.problem
    builder = copy.deepcopy(state.builder, memo={id(problem): problem})
    builder.place(slot)
    complete(builder, rule, state.tables)
    return cost(problem, builder.end, objective)


@dataclass
class Decisions:
    """What one pilot-built schedule taught: per decision the env's flat observation
    (global features, then the candidate rows, padded to ``cap``), the mask, the pilot's
    row, and the return from there (the env's reward, summed); and the schedule built."""

    observations: np.ndarray
    masks: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    objective_value: float
    overruled: int
    schedule: Schedule
    #: per decision, the rows the pilot tried (-1 pads) and their completed objectives
    tried: np.ndarray
    values: np.ndarray


def pilot_episode(problem: Problem, policy: Any, *, k: int = 4, cap: int = 128, objective: str = "tardiness",
                  rule: str | None = None) -> Decisions:
    """Build ``problem``'s schedule with the pilot over ``policy`` (a :class:`NumpyPolicy`).

    ``overruled`` counts the decisions where the pilot chose another row than the
    network's best.
    """
    rule = rule or ROLLOUT_RULE[objective]
    state = CandidateState(problem, scope=policy.scope, route=policy.route)
    scale = reward_scale(state, objective)  # the env's, so that the value head learns the env's returns
    flats: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    actions: list[int] = []
    potentials: list[float] = []
    tried: list[list[int]] = []
    valued: list[list[float]] = []
    overruled = 0
    while not state.done:
        obs = state.observe(cap)
        n = len(obs.slots)
        if n == 1:
            state.place(obs.slots[0])
            continue
        ranked = [int(i) for i in np.argsort(-policy.scores(obs), kind="stable")[:k]]
        for name in PILOT_TEACHERS[objective]:
            pick = teacher_choice(name, obs.rows, obs.slots, state.tables)
            if pick not in ranked:
                ranked.append(pick)
        values = [rollout(state, obs.slots[i], rule, objective) for i in ranked]
        best = ranked[int(np.argmin(values))]
        overruled += best != ranked[0]
        mask = np.zeros(cap, dtype=bool)
        mask[:n] = True
        flats.append(flatten(obs, cap))
        masks.append(mask)
        actions.append(best)
        potentials.append(state.potential(objective))
        tried.append(ranked + [-1] * (k + 2 - len(ranked)))
        valued.append(values + [np.inf] * (k + 2 - len(values)))
        state.place(obs.slots[best])
    final = state.potential(objective)
    return Decisions(
        observations=np.asarray(flats, dtype=np.float32).reshape(len(flats), G + cap * F),
        masks=np.asarray(masks, dtype=bool).reshape(len(masks), cap),
        actions=np.asarray(actions, dtype=np.int64),
        returns=np.asarray([scale * (p - final) for p in potentials], dtype=np.float32),
        objective_value=cost(problem, state.builder.end, objective), overruled=overruled,
        schedule=state.schedule(),
        tried=np.asarray(tried, dtype=np.int64).reshape(len(tried), k + 2),
        values=np.asarray(valued, dtype=np.float64).reshape(len(valued), k + 2),
    )


def _job(args: tuple[Problem, Any, int, int, str]) -> Decisions:
    from rrl.generative.policy import _one_blas_thread

    problem, policy, k, cap, objective = args
    with _one_blas_thread():  # the products are small; BLAS threads would only contend
        return pilot_episode(problem, policy, k=k, cap=cap, objective=objective)


def collect_pilot(sources: Sequence[InstanceSource], policy: Any, episodes: int, *, k: int = 4, cap: int = 128,
                  objective: str = "tardiness", workers: int = 1, seed: int = 0) -> list[Decisions]:
    """Pilot-built schedules on ``episodes`` training problems, split evenly over
    ``sources`` (drawn with ``seed``), in ``workers`` processes."""
    if not sources:
        raise RRLError("pilot: no instance source")
    rng = np.random.default_rng([seed, 17])  # apart from the PPO envs' and imitation's draws
    per = [episodes // len(sources) + (1 if i < episodes % len(sources) else 0) for i in range(len(sources))]
    problems = [source.sample(rng) for source, count in zip(sources, per, strict=True) for _ in range(count)]
    # the largest first, so that the workers end together
    problems.sort(key=lambda p: -len(p.orders))
    jobs = [(p, policy, k, cap, objective) for p in problems]
    if workers <= 1:
        return [_job(job) for job in jobs]
    # spawned workers: the parent may hold torch's threads, which a fork would copy half-set
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return list(pool.imap(_job, jobs, chunksize=1))


def soft_targets(decisions: Decisions, cap: int, temperature: float) -> np.ndarray:
    """Per decision a distribution over the rows: the rows the pilot tried, weighted by
    ``exp(-(value - best) / temperature)`` (``temperature`` in the objective's units, hours).

    Why not the pilot's single row: where several rows complete equally well (common,
    when nothing is late yet), the argmin is an arbitrary pick, and a network fitted to it
    learns noise; on 40-machine validation plants, cloning the soft targets gave 0.88 x
    the incoming network's total tardiness and the single rows 0.96 x (docs/benchmarks.md).
    """
    tried, values = decisions.tried, decisions.values
    gap = values - values.min(axis=1, keepdims=True)
    weights = np.where(tried >= 0, np.exp(-np.minimum(gap, 1e6) / max(temperature, 1e-9)), 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    targets = np.zeros((len(tried), cap), dtype=np.float32)
    rows = np.arange(len(tried))
    for j in range(tried.shape[1]):
        used = tried[:, j] >= 0
        targets[rows[used], tried[used, j]] += weights[used, j]
    return targets


def greedy_cost(problems: Sequence[Problem], policy: Any, objective: str) -> float:
    """Mean objective of the network's greedy schedules of ``problems`` (from the builder's
    end times, which are the schedule world's: DESIGN section 3)."""
    from rrl.generative.policy import run_policy

    values = [cost(p, run_policy(p, policy)[1], objective) for p in problems]
    return float(np.mean(values)) if values else 0.0


def improve(model: Any, sources: Sequence[InstanceSource], validation: Sequence[Problem], *, episodes: int,
            rounds: int = 1, k: int = 4, cap: int = 128, objective: str = "tardiness", workers: int = 1,
            epochs: int = 6, learning_rate: float = 3e-4, temperature: float = 0.5,
            seed: int = 0) -> dict[str, Any]:
    """Distil the pilot into ``model`` (a MaskablePPO with a candidate-scoring policy).

    Each of ``rounds`` collects ``episodes`` pilot-built schedules with the current network
    and clones every round's decisions so far into it, as soft targets of ``temperature``
    (:func:`soft_targets`). The network left in ``model`` is the round's whose greedy
    schedules of ``validation`` have the least mean objective, if that is below the
    incoming network's; else the incoming weights are put back. The returns that the
    value head learns are undiscounted (the shipped models train with gamma 1). Returns
    what happened (figures for the model's ``.json``).
    """
    from rrl.generative.imitation import clone
    from rrl.generative.policy import NumpyPolicy

    if episodes < 1 or rounds < 1:
        raise RRLError(f"pilot: episodes and rounds must be >= 1, got {episodes} and {rounds}")
    incoming = copy.deepcopy(model.policy.state_dict())
    before = greedy_cost(validation, NumpyPolicy.from_sb3(model), objective)
    best, best_weights, best_round = before, None, None
    parts: list[Decisions] = []
    report: dict[str, Any] = {"episodes": episodes, "rounds": rounds, "k": k, "rule": ROLLOUT_RULE[objective],
                              "temperature": temperature, "validation_problems": len(validation),
                              "validation_before": before, "round": []}
    for r in range(rounds):
        policy = NumpyPolicy.from_sb3(model)
        found = collect_pilot(sources, policy, episodes, k=k, cap=cap, objective=objective, workers=workers,
                              seed=seed * 1_000 + r)
        parts.extend(d for d in found if len(d.actions))
        entry: dict[str, Any] = {"decisions": int(sum(len(d.actions) for d in found)),
                                 "overruled": int(sum(d.overruled for d in found)),
                                 "pilot_mean": float(np.mean([d.objective_value for d in found]))}
        report["round"].append(entry)
        if not parts:  # every placement was forced: nothing to learn
            continue
        data = (np.concatenate([d.observations for d in parts]), np.concatenate([d.masks for d in parts]),
                np.concatenate([soft_targets(d, cap, temperature) for d in parts]),
                np.concatenate([d.returns for d in parts]))
        fit = clone(model, data, epochs=epochs, learning_rate=learning_rate, seed=seed + r)
        after = greedy_cost(validation, NumpyPolicy.from_sb3(model), objective)
        entry.update(agreement=fit["agreement"], validation=after)
        if after < best:  # the best round's network is the one kept, not the last one's
            best, best_weights, best_round = after, copy.deepcopy(model.policy.state_dict()), r + 1
    report.update(validation_after=best, kept=best_weights is not None, best_round=best_round)
    model.policy.load_state_dict(best_weights if best_weights is not None else incoming)
    return report
