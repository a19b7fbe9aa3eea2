"""The fixed-size observation of a dispatching decision (hierarchical compression).

Whatever the plant's size, a decision is seen through three blocks (docs/ppo.md lists
every feature):

- ``GLOBAL`` (10) features of the whole episode;
- ``TYPE_BUCKETS`` x ``BUCKET`` (10 x 4) aggregates of the machines by machine type;
- ``SLOTS`` x ``CANDIDATE`` (12 x 14) features of the candidate (order, machine) pairs.

Times are measured from the dispatcher's clock (the earliest estimated start of a ready
order) in units of the instance's mean processing time, then squashed by
``sign(x) * log1p(|x|)`` so that 2-machine and 152-machine plants produce numbers of the
same magnitude; everything is clipped to ``[-LIMIT, LIMIT]``.
"""

from __future__ import annotations

import math

import numpy as np

from rrl.generative.state import SLOTS, TYPE_BUCKETS, DispatchState

GLOBAL = 10
BUCKET = 4
CANDIDATE = 14
#: Length of the observation vector.
SIZE = GLOBAL + TYPE_BUCKETS * BUCKET + SLOTS * CANDIDATE
#: Bound of every feature.
LIMIT = 10.0
#: Candidate columns given in hours (or counts) that are squashed.
_SQUASHED = [3, 4, 5, 6, 7, 8, 9, 10, 12]


def squash(x: np.ndarray | float) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: keeps order and sign, tames large magnitudes."""
    a = np.asarray(x, dtype=float)
    return np.sign(a) * np.log1p(np.abs(a))


def machine_contention(state: DispatchState, ready: np.ndarray) -> np.ndarray:
    """Per machine, how many of the ``ready`` orders are eligible on it.

    ``state.elig`` is padded to the widest eligibility list with entries that point at
    machine 0 with an infinite duration; only the finite-duration entries are counted.
    """
    real = np.isfinite(state.dur[ready])
    return np.bincount(state.elig[ready][real], minlength=len(state.machines))


def observe(state: DispatchState) -> np.ndarray:
    """The observation vector (float32, length :data:`SIZE`) of the current decision."""
    obs = np.zeros(SIZE, dtype=np.float32)
    if state.n == 0:
        return obs
    cand = state.candidates()
    scale = state.p_bar
    clock = cand.clock
    ready = cand.ready
    remaining = ~state.placed

    # -- global ---------------------------------------------------------------------------
    left = state.n - state.placed_count
    g = obs[:GLOBAL]
    g[0] = state.placed_count / state.n
    g[1] = ready.size / left if left else 0.0
    g[2] = math.log1p(state.n) / 7.0
    g[3] = math.log1p(len(state.machines)) / 6.0
    g[4] = squash(state.total_tardiness / (scale * max(1, state.placed_count)))
    g[5] = float(state.important[remaining].mean()) if left else 0.0
    if ready.size:
        slack = (state.due[ready] - clock) / scale
        g[6] = squash(float(slack.mean()))
        g[7] = float((slack < 0).mean())
    g[8] = 1.0 if state.has_downtime else 0.0
    g[9] = squash(state.s_bar / scale)

    # -- machine-type buckets -----------------------------------------------------------
    b = obs[GLOBAL: GLOBAL + TYPE_BUCKETS * BUCKET].reshape(TYPE_BUCKETS, BUCKET)
    count = state.bucket_count
    present = count > 0
    wait = (state.free - clock) / scale
    sum_wait = np.bincount(state.bucket, weights=wait, minlength=TYPE_BUCKETS)
    min_wait = np.full(TYPE_BUCKETS, np.inf)
    np.minimum.at(min_wait, state.bucket, wait)
    work = np.bincount(state.home[remaining], weights=state.min_dur[remaining], minlength=TYPE_BUCKETS)
    b[:, 0] = count / len(state.machines)
    b[present, 1] = squash(sum_wait[present] / count[present])
    b[present, 2] = squash(min_wait[present])
    b[present, 3] = squash(work[present] / (count[present] * scale))

    # -- candidate slots ------------------------------------------------------------------
    c = obs[GLOBAL + TYPE_BUCKETS * BUCKET:].reshape(SLOTS, CANDIDATE)
    if ready.size:
        due_rank = np.empty(ready.size)
        due_rank[np.argsort(state.due[ready], kind="stable")] = np.arange(ready.size) / max(1, ready.size - 1)
        rank_of = dict(zip(ready.tolist(), due_rank.tolist(), strict=True))
        contention = machine_contention(state, ready)
        raw = np.zeros((len(cand.orders), CANDIDATE))
        for k, o in enumerate(cand.orders):
            ex = cand.exact[o]
            due = float(state.due[o])
            raw[k] = (
                1.0,
                1.0 if state.important[o] else 0.0,
                math.log(max(state.weight[o], 1e-6)),
                (due - clock) / scale,
                (due - ex.end) / scale,
                max(0.0, ex.end - due) / scale,
                (ex.start - clock) / scale,
                ex.duration / scale,
                ex.setup / scale,
                (ex.start - ex.setup - state.free[ex.machine]) / scale,
                state.successors[o],
                rank_of[o],
                (ex.second_end - ex.end) / scale if math.isfinite(ex.second_end) else 0.0,
                math.log1p(contention[ex.machine]) / 5.0,
            )
        raw[:, _SQUASHED] = squash(raw[:, _SQUASHED])
        c[: len(cand.orders)] = raw
    np.clip(obs, -LIMIT, LIMIT, out=obs)
    return obs
