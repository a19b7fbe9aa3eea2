"""Warm start by imitation: a rule's choices over the candidate rows, learnt by cloning.

PPO from random weights spends most of a small budget rediscovering what a dispatching
rule knows. Training therefore starts by behaviour cloning: a *teacher* (a rule written
over the candidate rows' features) builds schedules in the training environments, and
the network is fitted to choose what the teacher chose (cross-entropy over the masked
scores) and to predict the teacher's discounted returns (value head). PPO then goes on
from there; the model that enters PPO is evaluated first and kept if PPO never beats it.

Teachers (ties by the order written; ``regret`` is the candidate's end minus its order's
earliest completion over its eligible resources, so a teacher keeps each order on its
resource of earliest completion, as the dispatching rules route):

- ``slack``: least ``due - end``;
- ``mdd``: least ``max(due, end)``;
- ``mwkr``: the non-delay candidates (those that start first on their resource), most
  work remaining in the order's chain, then earliest end;
- ``mor``: as ``mwkr`` with operations remaining first;
- ``fdd_mwkr``: as ``mwkr`` with the least flow due date over work remaining in place of
  the work (the dispatching rule ``fdd_mwkr``); it reads the rows' slots and the
  problem's tables, since a flow due date counts hours from the problem's ``now`` and the
  rows hold times relative to the decision's clock. Where the rows are cut to a cap, the
  teacher picks among the rows kept (the cut keeps no rank of this ratio).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rrl.dispatching.active import Slot
from rrl.dispatching.rules import Tables
from rrl.errors import RRLError
from rrl.generative.candidates import CANDIDATE_FEATURES, F, G

_COL = {name: k for k, name in enumerate(CANDIDATE_FEATURES)}


def _late(rows: np.ndarray) -> np.ndarray:
    return 1.0 - rows[:, _COL["ect"]]


def _delayed(rows: np.ndarray) -> np.ndarray:
    return 1.0 - rows[:, _COL["nondelay"]]


TEACHERS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, ...]]] = {
    # keys from the most to the least significant; np.lexsort wants them reversed
    "slack": lambda r: (_late(r), r[:, _COL["slack"]], r[:, _COL["end"]]),
    "mdd": lambda r: (_late(r), r[:, _COL["rank_mdd"]], r[:, _COL["end"]]),
    "mwkr": lambda r: (_delayed(r), _late(r), -r[:, _COL["work_remaining"]], r[:, _COL["end"]]),
    "mor": lambda r: (_delayed(r), _late(r), -r[:, _COL["ops_remaining"]], -r[:, _COL["work_remaining"]],
                      r[:, _COL["end"]]),
}


def _flow_over_work(rows: np.ndarray, slots: Sequence[Slot], tables: Tables) -> tuple[np.ndarray, ...]:
    ratio = np.array([tables.flow_over_work(s) for s in slots])
    return _delayed(rows), _late(rows), ratio, rows[:, _COL["end"]]


#: Teachers that need the candidates' slots and the problem's tables beside the rows.
SLOT_TEACHERS: dict[str, Callable[[np.ndarray, Sequence[Slot], Tables], tuple[np.ndarray, ...]]] = {
    "fdd_mwkr": _flow_over_work,
}
#: Every teacher's name.
TEACHER_NAMES = (*TEACHERS, *SLOT_TEACHERS)


def teacher_choice(name: str, rows: np.ndarray, slots: Sequence[Slot] | None = None,
                   tables: Tables | None = None) -> int:
    """The row teacher ``name`` picks among candidate ``rows`` (valid rows only; a teacher
    of :data:`SLOT_TEACHERS` also reads their ``slots`` and the problem's ``tables``)."""
    if name in SLOT_TEACHERS:
        if slots is None or tables is None or len(slots) != len(rows):
            raise RRLError(f"teacher '{name}' needs the problem's tables and one slot per candidate row")
        keys = SLOT_TEACHERS[name](rows, slots, tables)
    elif name in TEACHERS:
        keys = TEACHERS[name](rows)
    else:
        raise RRLError(f"unknown teacher '{name}' (expected one of {', '.join(TEACHER_NAMES)})")
    return int(np.lexsort(keys[::-1])[0])


def collect(env_maker: Callable[[], Any], teacher: str, episodes: int, gamma: float,
            seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Observations, masks, teacher actions and discounted returns of ``episodes``
    teacher-built schedules."""
    env = env_maker()
    k = env.max_candidates
    observations, masks, actions, returns = [], [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        rewards = []
        done = env.state.done
        while not done:
            mask = env.action_masks()
            rows = obs[G:].reshape(k, F)[: int(mask.sum())]
            action = teacher_choice(teacher, rows, env.state.observe(k).slots, env.state.tables)
            observations.append(obs)
            masks.append(mask)
            actions.append(action)
            obs, reward, done, _, _ = env.step(action)
            rewards.append(reward)
        running = 0.0
        tail = []
        for reward in reversed(rewards):
            running = reward + gamma * running
            tail.append(running)
        returns.extend(reversed(tail))
    if not observations:
        raise RRLError("imitation: the teacher's episodes had no decision to learn from")
    return (np.asarray(observations, dtype=np.float32), np.asarray(masks), np.asarray(actions),
            np.asarray(returns, dtype=np.float32))


def clone(model: Any, data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], *, epochs: int,
          batch_size: int = 256, learning_rate: float = 1e-3, seed: int = 0) -> dict[str, float]:
    """Fit ``model.policy`` to the teacher's actions (cross-entropy) and returns (MSE).

    ``data`` holds observations, masks, actions and returns; the actions are either one
    row per decision or, as a 2-D array, a distribution over the rows per decision (soft
    targets, as the pilot gives: :mod:`rrl.generative.pilot`). Returns the final epoch's
    mean loss and the share of decisions where the network's greedy choice is the
    teacher's (its most likely row, for soft targets).
    """
    import torch as th

    policy = model.policy
    obs, masks, actions, returns = (th.as_tensor(a) for a in data)
    soft = actions.dim() == 2
    optimizer = th.optim.Adam(policy.parameters(), lr=learning_rate)
    generator = th.Generator().manual_seed(seed)
    n = obs.shape[0]
    # the value term is scaled to about 1 so that it does not drown the choice term
    value_scale = 1.0 / max(float(returns.var()), 1.0)
    policy.set_training_mode(True)
    loss_sum = 0.0
    for _ in range(epochs):
        loss_sum = 0.0
        for batch in th.randperm(n, generator=generator).split(batch_size):
            if soft:
                dist = policy.get_distribution(obs[batch], action_masks=masks[batch].numpy())
                log_p = dist.distribution.logits  # normalised log-probabilities, masked rows very negative
                choice = -(actions[batch] * th.where(masks[batch], log_p, th.zeros_like(log_p))).sum(-1).mean()
                values = policy.predict_values(obs[batch])
            else:
                values, log_prob, _ = policy.evaluate_actions(obs[batch], actions[batch], action_masks=masks[batch])
                choice = -log_prob.mean()
            value_loss = th.nn.functional.mse_loss(values.flatten(), returns[batch])
            loss = choice + 0.5 * value_scale * value_loss
            optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
            optimizer.step()
            loss_sum += float(loss.detach()) * len(batch)
    policy.set_training_mode(False)
    with th.no_grad():
        agree = 0
        for batch in th.arange(n).split(1024):
            dist = policy.get_distribution(obs[batch], action_masks=masks[batch].numpy())
            picks = dist.get_actions(deterministic=True).long()
            if soft:  # a hit where the network picks a row of greatest weight (ties count)
                chosen = actions[batch].gather(1, picks.unsqueeze(1)).squeeze(1)
                agree += int((chosen >= actions[batch].max(dim=1).values - 1e-6).sum())
            else:
                agree += int((picks == actions[batch]).sum())
    return {"loss": loss_sum / n, "agreement": agree / n, "decisions": float(n)}
