"""The state of one dispatching episode and the candidates the agent chooses from.

A PPO episode is list scheduling with the agent as the rule: at every decision some
orders are *ready* (every ``after`` order placed), the agent picks one of a fixed number
of candidate slots, and the slot's order is appended to the slot's machine through
:class:`rrl.dispatching.ScheduleBuilder`, exactly as the dispatching rules do. The
schedule an episode builds is therefore timed by DESIGN section 3 like any other.

Candidate slots (``SLOTS`` = 12):

- slots 0..6 hold the pick of one classic rule each (see ``RULE_SLOTS``); two rules may
  pick the same order, so two slots may hold the same candidate;
- slots 7..11 hold the next ready orders by due date that no rule slot holds.

Each order goes to its eligible machine of earliest completion (downtime included, ties
in file order), as EDD does, so always choosing slot 0 reproduces ``dispatch(.., "edd")``.

Rule picks are computed on estimates that ignore downtime, vectorised over the ready
set with numpy so that a 500-order, 152-machine episode stays well under a second;
only the (at most 12) candidates are timed exactly.
"""

from __future__ import annotations

import math

import numpy as np

from rrl.dispatching import ScheduleBuilder
from rrl.dispatching.rules import atcs_parameters
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.timing import clear_downtime
from rrl.errors import RRLError

#: One slot per rule: EDD with important orders first (the ``edd`` rule); earliest due
#: date; modified due date ``max(due, end)``; ATCS index; shortest processing time;
#: least slack ``due - end``; earliest start.
RULE_SLOTS = ("edd", "due", "mdd", "atcs", "spt", "slack", "start")
#: Number of candidate slots (the size of the action space).
SLOTS = 12
#: Machine-type buckets of the observation (types beyond this share buckets).
TYPE_BUCKETS = 10

_INF = math.inf


def require_keep(problem: Problem, keep: Schedule | None) -> None:
    """Refuse a problem with frozen orders but no current schedule: without ``keep`` the
    frozen orders' resources and positions are unknown, and a schedule that moves them
    fails the validator."""
    if problem.frozen and keep is None:
        raise RRLError(f"{len(problem.frozen)} orders started before now={problem.now:g} and are frozen: "
                       "pass keep= (the current schedule) so that they stay in place")


class DispatchState:
    """Placed and ready orders, machine states, and the candidate slots of a decision.

    Parameters
    ----------
    problem : Problem
        Plant and orders.
    keep : Schedule, optional
        A current schedule whose frozen orders (``problem.frozen``) stay where they are.
    """

    def __init__(self, problem: Problem, keep: Schedule | None = None) -> None:
        require_keep(problem, keep)
        self.problem = problem
        self.builder = ScheduleBuilder(problem, keep)
        builder = self.builder
        plant = problem.plant
        orders = problem.orders

        self.ids: list[str] = list(builder.todo)
        index = {o: i for i, o in enumerate(self.ids)}
        n = len(self.ids)
        self.n = n
        self.machines: list[str] = list(plant.resources)
        m_index = {r: i for i, r in enumerate(self.machines)}
        products = list(plant.products)
        p_index = {p: i for i, p in enumerate(products)}
        n_products = len(products)

        specs = [orders[o] for o in self.ids]
        self.due = np.array([s.due for s in specs], dtype=float)
        self.weight = np.array([s.weight for s in specs], dtype=float)
        self.important = np.array([s.important for s in specs], dtype=bool)
        self.product = np.array([p_index[s.product] for s in specs], dtype=np.int64)
        release = np.array([s.release for s in specs], dtype=float)

        # Eligible machines per order, padded to the widest; pads point at machine 0 with
        # an infinite duration so that they never win an argmin.
        durations = problem.durations
        width = max((len(durations[o]) for o in self.ids), default=1)
        self.elig = np.zeros((n, max(width, 1)), dtype=np.int64)
        self.dur = np.full((n, max(width, 1)), _INF)
        self.elig_lists: list[list[tuple[int, float]]] = []
        for i, o in enumerate(self.ids):
            pairs = [(m_index[r], d) for r, d in durations[o].items()]
            self.elig_lists.append(pairs)
            for j, (m, d) in enumerate(pairs):
                self.elig[i, j] = m
                self.dur[i, j] = d
        self.min_dur = np.min(self.dur, axis=1) if n else np.zeros(0)

        # Setup hours: row = product on the machine (last row: clean machine), column = next.
        self.setup = np.zeros((n_products + 1, max(n_products, 1)))
        for a, pa in enumerate(products):
            for b, pb in enumerate(products):
                self.setup[a, b] = plant.setup(pa, pb)
        self.windows = [plant.resources[r].downtime for r in self.machines]
        self.has_downtime = any(self.windows)

        # Machine types, folded into a fixed number of buckets.
        kinds = sorted({r.kind for r in plant.resources.values()})
        k_index = {k: i for i, k in enumerate(kinds)}
        self.bucket = np.array([k_index[plant.resources[r].kind] % TYPE_BUCKETS for r in self.machines],
                               dtype=np.int64)
        self.bucket_count = np.bincount(self.bucket, minlength=TYPE_BUCKETS).astype(float)
        best_machine = self.elig[np.arange(n), np.argmin(self.dur, axis=1)] if n else np.zeros(0, dtype=np.int64)
        self.home = self.bucket[best_machine] if n else np.zeros(0, dtype=np.int64)

        # Precedence among the orders still to place.
        self.dependents: list[list[int]] = [
            [index[d] for d in problem.dependents.get(o, ()) if d in index] for o in self.ids
        ]
        self.missing = np.array([builder.missing[o] for o in self.ids], dtype=np.int64)
        pred_end = np.zeros(n)
        for i, s in enumerate(specs):
            for before in s.after:
                if before in builder.end:
                    pred_end[i] = max(pred_end[i], builder.end[before])
        self.earliest = np.maximum(np.maximum(release, pred_end), problem.now)
        self.successors = self._chain_lengths()

        # Static priorities.
        position = np.arange(n, dtype=float)
        self.edd_rank = np.lexsort((position, self.due, ~self.important)).argsort()
        mean_dur = np.array([np.mean([d for _, d in pairs]) for pairs in self.elig_lists]) if n else np.zeros(0)
        self.p_bar = float(np.mean(mean_dur)) if n else 1.0
        self.p_bar = max(self.p_bar, 1e-6)
        # ATCS look-ahead parameters and mean cleanout exactly as the ``atcs`` rule has them
        self.k1, self.k2, _, self.s_bar = atcs_parameters(problem, self.ids)

        # Machine states.
        self.free = np.array([builder.lines[r].free for r in self.machines], dtype=float)
        left_on = [builder.lines[r].product for r in self.machines]
        self.line_product = np.array([n_products if p is None else p_index[p] for p in left_on], dtype=np.int64)

        self.placed = np.zeros(n, dtype=bool)
        self.placed_count = 0
        self.total_tardiness = 0.0
        self.total_setup = 0.0
        self._cache: Candidates | None = None

    # -- derived quantities -------------------------------------------------------------

    def _chain_lengths(self) -> np.ndarray:
        """Number of orders that (transitively) wait for each order: its family's tail."""
        n = self.n
        count = np.zeros(n)
        indegree = np.array([0] * n)
        for deps in self.dependents:
            for d in deps:
                indegree[d] += 1
        order = [i for i in range(n) if indegree[i] == 0]
        for i in order:  # Kahn: the list grows while it is walked
            for d in self.dependents[i]:
                indegree[d] -= 1
                if indegree[d] == 0:
                    order.append(d)
        for i in reversed(order):
            count[i] = sum(1.0 + count[d] for d in self.dependents[i])
        return count

    @property
    def done(self) -> bool:
        """True when every order is placed."""
        return self.placed_count == self.n

    def ready(self) -> np.ndarray:
        """Indices of the ready orders, in file order."""
        return np.flatnonzero(~self.placed & (self.missing == 0))

    # -- candidates ---------------------------------------------------------------------

    def candidates(self) -> Candidates:
        """The candidate slots of the current decision (cached until the next placement)."""
        if self._cache is None:
            self._cache = self._build_candidates()
        return self._cache

    def _build_candidates(self) -> Candidates:
        ready = self.ready()
        cand = Candidates(ready)
        if not ready.size:
            return cand
        m = self.elig[ready]
        gap = self.setup[self.line_product[m], self.product[ready][:, None]]
        start = np.maximum(self.free[m] + gap, self.earliest[ready][:, None])
        end = start + self.dur[ready]
        j = np.argmin(end, axis=1)
        rows = np.arange(ready.size)
        est_end = end[rows, j]
        est_start = start[rows, j]
        est_dur = self.dur[ready][rows, j]
        est_setup = gap[rows, j]
        cand.clock = float(est_start.min())
        due = self.due[ready]

        picks = [
            int(np.argmin(self.edd_rank[ready])),
            int(np.argmin(due)),
            int(np.argmin(np.maximum(due, est_end))),
            int(np.argmax(self._atcs_index(ready, est_start, est_dur, est_setup))),
            int(np.argmin(est_dur)),
            int(np.argmin(due - est_end)),
            int(np.argmin(est_start)),
        ]
        slots: list[int] = [int(ready[k]) for k in picks]
        taken = set(slots)
        extra = SLOTS - len(slots)
        if extra > 0:
            for k in np.argsort(due, kind="stable")[: extra + len(taken)]:
                o = int(ready[k])
                if o not in taken:
                    slots.append(o)
                    taken.add(o)
                    if len(slots) == SLOTS:
                        break
        cand.orders = slots
        for o in taken:
            cand.exact[o] = self._exact(o)
        return cand

    def _atcs_index(self, ready: np.ndarray, start: np.ndarray, dur: np.ndarray, gap: np.ndarray) -> np.ndarray:
        w = self.weight[ready] * np.where(self.important[ready], 2.0, 1.0)
        slack = np.maximum(self.due[ready] - dur - start, 0.0)
        index = (w / np.maximum(dur, 1e-9)) * np.exp(-slack / (self.k1 * self.p_bar))
        if self.s_bar > 0:
            index = index * np.exp(-gap / (self.k2 * self.s_bar))
        return index

    def _exact(self, o: int) -> Exact:
        """Machine of earliest completion for order ``o`` (downtime included; ties: file order)."""
        best = Exact(-1, _INF, _INF, 0.0, 0.0, _INF)
        p = self.product[o]
        floor = self.earliest[o]
        for m, d in self.elig_lists[o]:
            gap = float(self.setup[self.line_product[m], p])
            t = max(self.free[m] + gap, floor)
            if self.windows[m]:
                t = clear_downtime(t, gap, d, self.windows[m])
            e = t + d
            if e < best.end - 1e-12:
                if best.machine >= 0:
                    best.second_end = best.end
                best.machine, best.start, best.end, best.duration, best.setup = m, t, e, d, gap
            elif e < best.second_end:
                best.second_end = e
        return best

    # -- acting -------------------------------------------------------------------------

    def place(self, o: int) -> tuple[float, float]:
        """Append ready order ``o`` to its candidate machine; return (tardiness, setup hours)."""
        cand = self.candidates()
        exact = cand.exact.get(o) or self._exact(o)
        m = exact.machine
        self.builder.place(self.ids[o], self.machines[m])
        end = self.builder.end[self.ids[o]]
        self.free[m] = end
        self.line_product[m] = self.product[o]
        self.placed[o] = True
        self.placed_count += 1
        for d in self.dependents[o]:
            self.missing[d] -= 1
            if end > self.earliest[d]:
                self.earliest[d] = end
        tardiness = max(0.0, end - float(self.due[o]))
        self.total_tardiness += tardiness
        self.total_setup += exact.setup
        self._cache = None
        return tardiness, exact.setup

    def schedule(self) -> Schedule:
        """The schedule built so far (frozen orders included)."""
        return self.builder.schedule()


class Exact:
    """Exact placement of one candidate order on its best machine."""

    __slots__ = ("duration", "end", "machine", "second_end", "setup", "start")

    def __init__(self, machine: int, start: float, end: float, duration: float, setup: float,
                 second_end: float) -> None:
        self.machine = machine
        self.start = start
        self.end = end
        self.duration = duration
        self.setup = setup
        self.second_end = second_end


class Candidates:
    """The slots of one decision: ``orders[k]`` is the order index in slot ``k``."""

    __slots__ = ("clock", "exact", "orders", "ready")

    def __init__(self, ready: np.ndarray) -> None:
        self.ready = ready
        self.orders: list[int] = []
        self.exact: dict[int, Exact] = {}
        self.clock = 0.0

    def mask(self) -> np.ndarray:
        """Boolean mask over the ``SLOTS`` slots: True where a candidate sits."""
        mask = np.zeros(SLOTS, dtype=bool)
        mask[: len(self.orders)] = True
        return mask

    @property
    def distinct(self) -> int:
        """How many different orders the slots hold."""
        return len(self.exact)
