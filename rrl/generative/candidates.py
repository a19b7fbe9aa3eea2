"""The state of one construction episode: candidate (order, resource) slots and their features.

A PPO episode builds a schedule with :class:`rrl.dispatching.ActiveBuilder`, the builder
the dispatching rules use: at every decision the builder offers Giffler-Thompson
candidates (``scope="nondelay"``: what can start first on each resource; ``"active"``:
what can start before the earliest completion there), each a :class:`Slot` — an order,
a resource, and a position in that resource's sequence (an idle gap where the order
fits, else the end). The policy picks one slot; the builder places it. Placed orders
never move, so the builder's times are the schedule world's (DESIGN section 3) and the
episode's schedule equals :meth:`Plan.build` on the same sequences.

``route="all"`` offers every ready order on each of its eligible resources, so the policy
chooses the machine too; ``route="ect"`` routes each order to its resource of earliest
completion first (the rules' machine choice) and the policy only orders them.

The observation of a decision is a global vector (:data:`GLOBAL_FEATURES`) and one row
of :data:`CANDIDATE_FEATURES` per candidate: what the rules know (processing time on
that resource, work and operations remaining in the order's chain, due date, slack,
earliest start and end, cleanout, the resource's remaining demand and when it is free)
plus ranks among the candidates. Times are relative to the decision's *clock* (the
earliest start among the candidates) in units of the instance's mean processing time,
and squashed by ``sign(x) * log1p(|x|)``, so that rows look alike on every plant size.

Cost: a resource's rows are rebuilt only when its candidates may have changed (the
builder's versions), and the rows of an order whose best completion moved on another
resource; the rest is numpy over the candidate rows. At 500 orders on 152 machines an
episode with the network takes well under a second (docs/benchmarks.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rrl.dispatching.active import ECT, ActiveBuilder, Slot
from rrl.dispatching.rules import Tables, _reverse_topological
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError

#: Names of the per-candidate features, in column order.
CANDIDATE_FEATURES = (
    "valid", "start", "end", "duration", "setup", "ect_regret", "slowdown", "idle_before", "work_remaining",
    "ops_remaining", "job_finish_vs_bound", "due", "slack", "tardiness", "chain_slack", "important", "weight",
    "resource_demand", "resource_free", "flexibility", "nondelay", "resource_candidates", "ect",
    "rank_due", "rank_mdd", "rank_slack", "rank_chain_slack", "rank_work", "rank_ops", "rank_end",
    "rank_duration", "rank_critical",
)
#: Names of the global features, in order.
GLOBAL_FEATURES = (
    "placed", "ready", "orders", "machines", "candidates", "mean_tardiness", "late_candidates", "clock",
    "flexibility", "downtime", "cleanout", "load",
)
F = len(CANDIDATE_FEATURES)
G = len(GLOBAL_FEATURES)
#: Every feature is clipped to [-LIMIT, LIMIT].
LIMIT = 10.0
SCOPES = ("nondelay", "active")
ROUTES = ("all", "ect")
OBJECTIVES = ("tardiness", "makespan")
_EPS = 1e-9

# raw columns of a resource's block (before the clock-relative transform)
_R_START, _R_END, _R_SETUP, _R_DUR, _R_BEST, _R_IDLE, _R_ORDER, _R_RES, _R_FIRST, _R_COUNT = range(10)
_RAW = 10
# columns that hold hours (scaled by the mean processing time, then squashed), and the
# columns that depend on the order alone (valid, work, ops, important, weight, flexibility)
_TIMES = np.array([1, 2, 3, 4, 5, 7, 10, 11, 12, 13, 14, 18])
_STATIC = np.array([0, 8, 9, 15, 16, 19])


def squash(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: keeps order, tames long tails."""
    return np.sign(x) * np.log1p(np.abs(x))


def _squash(x: float) -> float:
    """:func:`squash` of one number."""
    return math.copysign(math.log1p(abs(x)), x)


def _ranks(columns: np.ndarray) -> np.ndarray:
    """Rank of each value within its row of ``columns`` (k x n; 0 for the least), stable
    for ties (rows are contiguous: sorting them costs less than sorting columns)."""
    k, n = columns.shape
    out = np.empty((k, n))
    out[np.arange(k)[:, None], np.argsort(columns, axis=1, kind="stable")] = np.arange(n, dtype=np.float64)
    return out


@dataclass
class Observation:
    """One decision: the global vector, a row per candidate, and the candidate slots."""

    global_: np.ndarray     # (G,)
    rows: np.ndarray        # (n, F)
    slots: list[Slot]       # the candidates, in row order


class CandidateState:
    """Placed orders, candidate slots and their features for one construction episode.

    Parameters
    ----------
    problem : Problem
        Plant and orders.
    keep : Schedule, optional
        The current schedule; its frozen orders (``problem.frozen``) stay in place.
    scope : {"nondelay", "active"}
        Candidate set of the builder (see the module text).
    route : {"all", "ect"}
        Offer every eligible resource, or only each order's earliest completion.
    """

    def __init__(self, problem: Problem, keep: Schedule | None = None, *, scope: str = "nondelay",
                 route: str = "all") -> None:
        if scope not in SCOPES:
            raise RRLError(f"unknown candidate scope '{scope}' (expected one of {', '.join(SCOPES)})")
        if route not in ROUTES:
            raise RRLError(f"unknown route '{route}' (expected one of {', '.join(ROUTES)})")
        self.problem = problem
        self.scope = scope
        self.route = route
        self.builder = ActiveBuilder(problem, keep, route=None if route == "all" else ECT)
        builder = self.builder
        orders = problem.orders
        durations = problem.durations
        self.ids = list(orders)
        self.index = {o: i for i, o in enumerate(self.ids)}
        self.resources = list(builder.resources)
        self.r_index = {r: i for i, r in enumerate(self.resources)}
        n, m = len(self.ids), len(self.resources)
        self.n_total = n
        self.todo = builder.remaining
        tables = Tables(problem, 0)
        self.tables = tables
        self.due = np.array([orders[o].due for o in self.ids], dtype=float)
        self.weight = np.array([orders[o].weight for o in self.ids], dtype=float)
        self.important = np.array([orders[o].important for o in self.ids], dtype=float)
        self.work = np.array([tables.work[o] for o in self.ids], dtype=float)
        self.ops = np.array([tables.ops[o] for o in self.ids], dtype=float)
        self.min_p = np.array([tables.min_p[o] for o in self.ids], dtype=float)
        self.n_elig = np.array([max(1, len(durations[o])) for o in self.ids], dtype=float)
        unplaced = [i for i, o in enumerate(self.ids) if o not in builder.end]
        mean_p = np.array([tables.mean_p[self.ids[i]] for i in unplaced], dtype=float)
        self.p = max(float(mean_p.mean()) if mean_p.size else 1.0, 1e-6)
        # tail[o]: least work after o along its longest chain of dependents; latest[o]: the
        # latest end of o that lets every dependent meet its due date at least processing.
        self.tail = np.zeros(n)
        self.latest = self.due.copy()
        dependents = problem.dependents
        topological = _reverse_topological(problem)
        for o in topological:
            i = self.index[o]
            for d in dependents.get(o, ()):
                j = self.index[d]
                self.tail[i] = max(self.tail[i], self.min_p[j] + self.tail[j])
                self.latest[i] = min(self.latest[i], self.latest[j] - self.min_p[j])
        # remaining demand per resource: each unplaced order's mean time shared over its resources
        self.demand = np.zeros(m)
        self._share: list[list[tuple[int, float]]] = []
        for o in self.ids:
            table = durations[o]
            self._share.append([(self.r_index[rid], t / len(table)) for rid, t in table.items()])
        for i in unplaced:
            for k, share in self._share[i]:
                self.demand[k] += share
        self.min_p = np.maximum(self.min_p, _EPS)
        self.static = np.stack([
            np.ones(n), squash(self.work / self.p), np.log1p(self.ops) / 2.0, self.important,
            np.log(np.maximum(self.weight, 1e-3)), np.log(self.n_elig) / 2.0,
        ], axis=1) if n else np.zeros((0, _STATIC.size))
        self.on_resource: list[list[int]] = [[] for _ in range(m)]
        for i, o in enumerate(self.ids):
            for rid in durations[o]:
                self.on_resource[self.r_index[rid]].append(i)
        # lower bounds of every order's end (placed: actual), for the reward potentials
        self.est = np.zeros(n)
        for o in topological[::-1]:
            self._estimate(self.index[o])
        self.free = np.zeros(m)
        for k, rid in enumerate(self.resources):
            seq = builder.sequence(rid)
            if seq:
                self.free[k] = max(builder.end[x] for x in seq)
        self.placed_tardiness = 0.0
        self.placed_count = 0
        self.total_setup = 0.0
        self.has_downtime = float(any(r.downtime for r in problem.plant.resources.values()))
        setups = [v for row in problem.plant.cleanout.values() for v in row.values() if v > 0]
        self.mean_setup = float(np.mean(setups)) if setups else 0.0
        self.flexibility = float(np.mean(self.n_elig)) if n else 1.0
        self._ready: set[int] = {self.index[o] for o in builder.ready}
        self._best: dict[int, float] = {}
        self._stale: set[int] = set(range(m))  # resources whose rows must be rebuilt
        self._blocks: dict[int, tuple[np.ndarray, list[Slot]]] = {}
        self._keys: list[int] | None = None  # resources with candidates, in file order
        self._mark = 0
        self._cache: Observation | None = None
        self.bound = float(self.est.max()) if n else 0.0

    # -- potentials ---------------------------------------------------------------------

    def _estimate(self, i: int) -> bool:
        """Recompute the end bound of unplaced order ``i`` from its ``after`` orders; True if it moved."""
        o = self.ids[i]
        if o in self.builder.end:
            value = self.builder.end[o]
        else:
            spec = self.problem.orders[o]
            begin = max([spec.release, self.problem.now, *(self.est[self.index[a]] for a in spec.after)])
            value = begin + self.min_p[i]
        if value != self.est[i]:
            self.est[i] = value
            return True
        return False

    def potential(self, objective: str) -> float:
        """A lower bound of the objective given the orders placed so far: the latest bound on
        an end (makespan), or the sum of bound tardiness (tardiness). Exact once done."""
        if objective == "makespan":
            return self.bound
        return float(np.maximum(self.est - self.due, 0.0).sum())

    # -- state ---------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True when every order is placed."""
        return self.builder.done

    def schedule(self) -> Schedule:
        """The schedule built so far."""
        return self.builder.schedule()

    # -- candidates ----------------------------------------------------------------------

    def observe(self, cap: int | None = None) -> Observation:
        """The candidates of the current decision (at most ``cap`` rows, see :meth:`_keep`)
        and their features. Never empty while orders remain."""
        if self._cache is not None and (cap is None or len(self._cache.slots) <= cap):
            return self._cache
        builder = self.builder
        changed, self._mark = builder.changed(self._mark)
        for r in changed:
            self._stale.add(self.r_index[r])
        for k in self._stale:
            block, found = self._block(k, self.resources[k])
            if found:
                if k not in self._blocks:
                    self._keys = None
                self._blocks[k] = (block, found)
            elif self._blocks.pop(k, None) is not None:
                self._keys = None
        self._stale.clear()
        if self._keys is None:
            self._keys = sorted(self._blocks)
        blocks = []
        slots: list[Slot] = []
        for k in self._keys:
            block, found = self._blocks[k]
            blocks.append(block)
            slots.extend(found)
        if not slots:
            if not self.done:  # pragma: no cover - the builder guarantees candidates
                raise RRLError("internal error: no candidate while orders remain")
            obs = Observation(np.zeros(G, dtype=np.float32), np.zeros((0, F), dtype=np.float32), [])
            self._cache = obs
            return obs
        raw = np.concatenate(blocks)
        obs = self._features(raw, slots, cap)
        if cap is None or len(obs.slots) == len(slots):
            self._cache = obs
        return obs

    def _block(self, k: int, r: str) -> tuple[np.ndarray, list[Slot]]:
        """Raw columns of resource ``r``'s candidates (independent of the clock)."""
        builder = self.builder
        slots = builder.candidates_on(r, self.scope)
        if not slots:
            return np.zeros((0, _RAW)), []
        seq = builder.sequence(r)
        ends = builder.end
        index, cached = self.index, self._best
        values = []  # one tuple per slot, turned into an array at once (row writes cost more)
        for s in slots:
            i = index[s.order]
            best = cached.get(i)
            if best is None:
                best = self._best_end(i)
            prev_end = ends[seq[s.position - 1]] if s.position else 0.0
            values.append((s.start, s.end, s.setup, s.end - s.start, best, s.start - s.setup - prev_end, i, k, 0.0, 0.0))
        block = np.array(values)
        block[:, _R_FIRST] = block[:, _R_START].min()
        block[:, _R_COUNT] = len(slots)
        return block, slots

    def _best_end(self, i: int) -> float:
        order = self.ids[i]
        best = min(self.builder._slot(order, r).end for r in self.problem.durations[order])  # ready, eligible
        self._best[i] = best
        return best

    def _features(self, raw: np.ndarray, slots: list[Slot], cap: int | None) -> Observation:
        n_all = raw.shape[0]
        order = raw[:, _R_ORDER].astype(np.int64)
        end = raw[:, _R_END]
        due = self.due[order]
        finish = end + self.tail[order]
        slack = due - end
        chain = self.latest[order] - end
        # the rank columns hold no clock, so the ranks of a block's rows change only
        # with the candidate set; they are still taken over all rows at every decision
        ranks = _ranks(np.stack([due, np.maximum(due, end), slack, chain, -self.work[order], -self.ops[order],
                                 end, raw[:, _R_DUR], -finish]))
        clock = float(raw[:, _R_START].min())
        late = int(np.count_nonzero(end > due + 1e-9))
        chosen = slots
        if cap is not None and n_all > cap:
            keep = self._keep(ranks, cap)
            raw, order, ranks = raw[keep], order[keep], ranks[:, keep]
            due, finish, slack, chain = due[keep], finish[keep], slack[keep], chain[keep]
            chosen = [slots[k] for k in keep]
        # features are written as contiguous rows of a (F, n) array, transposed at the end
        start, end, dur, best = raw[:, _R_START], raw[:, _R_END], raw[:, _R_DUR], raw[:, _R_BEST]
        res = raw[:, _R_RES].astype(np.int64)
        p = self.p
        demand = self.demand
        mean_demand = float(demand.mean()) if demand.size else 0.0
        cols = np.empty((F, order.size), dtype=np.float64)
        cols[_STATIC] = self.static[order].T
        cols[1] = start - clock
        cols[2] = end - clock
        cols[3] = dur
        cols[4] = raw[:, _R_SETUP]
        cols[5] = end - best
        cols[7] = raw[:, _R_IDLE]
        cols[10] = finish - max(self.bound, clock)
        cols[11] = due - clock
        cols[12] = slack
        cols[13] = np.maximum(end - due, 0.0)
        cols[14] = chain
        cols[18] = self.free[res] - clock
        cols[_TIMES] = squash(cols[_TIMES] / p)
        cols[6] = squash(dur / self.min_p[order] - 1.0)
        cols[17] = np.log((demand[res] + p) / (mean_demand + p))
        cols[20] = start <= raw[:, _R_FIRST] + 1e-9
        cols[21] = np.log(raw[:, _R_COUNT]) / 3.0
        cols[22] = end - best <= 1e-9 * max(1.0, p)
        cols[23:] = ranks / max(n_all - 1, 1)
        np.clip(cols, -LIMIT, LIMIT, out=cols)
        placed = self.placed_count
        remaining = max(self.todo - placed, 1)
        g = np.array([
            placed / max(self.todo, 1),
            len(self._ready) / remaining,
            math.log1p(self.n_total) / 7.0,
            math.log1p(len(self.resources)) / 6.0,
            math.log1p(n_all) / 7.0,
            _squash(self.placed_tardiness / max(placed, 1) / p),
            late / n_all,
            clock / max(self.bound, _EPS),
            math.log(self.flexibility) / 2.0,
            self.has_downtime,
            _squash(self.mean_setup / p),
            _squash(mean_demand / p),
        ])
        np.clip(g, -LIMIT, LIMIT, out=g)
        return Observation(g.astype(np.float32), np.ascontiguousarray(cols.T, dtype=np.float32), chosen)

    @staticmethod
    def _keep(ranks: np.ndarray, cap: int) -> np.ndarray:
        """The ``cap`` candidates that rank best on some feature (due date, modified due date,
        slack, chain slack, work and operations remaining, end, duration, criticality):
        what a truncated observation keeps; in candidate order. ``ranks`` is (features x
        candidates)."""
        best = ranks.min(axis=0)
        keep = np.argpartition(best, cap - 1)[:cap]
        return np.sort(keep)
    # -- acting --------------------------------------------------------------------------

    def place(self, slot: Slot) -> tuple[float, float]:
        """Place a candidate slot; returns its tardiness and the cleanout hours before it."""
        builder = self.builder
        released = builder.place(slot)
        self._cache = None
        i = self.index[slot.order]
        k = self.r_index[slot.resource]
        self._ready.discard(i)
        self._best.pop(i, None)
        for name in released:
            self._ready.add(self.index[name])
        for r, share in self._share[i]:
            self.demand[r] -= share
        self.free[k] = max(self.free[k], slot.end)
        # the orders whose best completion may have moved: ready ones on the changed resource
        for j in self.on_resource[k]:
            if j in self._ready and j in self._best:
                old = self._best[j]
                if self._best_end(j) != old:
                    for rid in self.problem.durations[self.ids[j]]:
                        self._stale.add(self.r_index[rid])
        # end bounds: the placed order's is now exact; its dependents' follow
        stack = [i]
        self._estimate(i)
        while stack:
            x = stack.pop()
            self.bound = max(self.bound, self.est[x])
            for name in self.problem.dependents.get(self.ids[x], ()):
                j = self.index[name]
                if self._estimate(j):
                    stack.append(j)
        tardiness = max(0.0, slot.end - float(self.due[i]))
        self.placed_tardiness += tardiness
        self.placed_count += 1
        self.total_setup += slot.setup
        return tardiness, slot.setup

