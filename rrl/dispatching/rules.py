"""The standard dispatching rules, on the active schedule builder.

Every rule is a machine choice and a priority. The machine choice *routes* each ready
order to one slot (resource and position: an idle gap where the order fits, else the
end), the one its literature uses, earliest completion (ECT, the usual machine rule of
flexible job-shop dispatching) unless said otherwise. The builder
(:mod:`rrl.dispatching.active`) offers the routed slots that ``mode`` admits as
candidates, and the rule places the candidate of least key; ties go to file order.

==========  ==========================================================  ===============
rule        priority among the candidates                               machine choice
==========  ==========================================================  ===============
edd         important orders first, then earliest due date              ECT
spt         shortest processing time                                    ECT
lpt         longest processing time (on the order's fastest machine)    ECT
mwkr        most work remaining: mean processing time of the order and  ECT
            of its longest chain of ``after`` successors
mor         most operations remaining (that chain's length)             ECT
fdd_mwkr    least flow due date over work remaining: the order's        ECT
            earliest start by mean times along its ``after`` chain
            (from its release or ``now``) plus its time on the slot's
            resource, over ``mwkr``'s work (the FDD/WKR ratio of the
            job-shop rule comparisons)
fifo        first ready (release, ``after`` orders), then file order    ECT
mdd         modified due date ``max(due, completion)`` (Baker & Bertrand  ECT
            1982)
slack       least slack ``due - completion``                            ECT
atcs        Apparent Tardiness Cost with Setups (Lee, Bhaskaran &       ECT
            Pinedo 1997) on the resource that can start first
first_fit   file order                                                  earliest start
random      a random candidate (seeded)                                 random
==========  ==========================================================  ===============

ATCS: the resource whose first candidate can start earliest (time ``t``) takes the
candidate of highest ``w/p * exp(-max(d - p - t, 0) / (k1 p_bar)) * exp(-s / (k2 s_bar))``
(``s`` the cleanout before it there), ``k1`` and ``k2`` from the due-date range and
tightness (:func:`atcs_parameters`); important orders count double.

``mode`` (how candidates are generated; every mode routes each ready order to its
resource first, by the rule's machine choice):

- ``nondelay`` (default): on each resource, only the orders that can start there first;
  idle gaps used. Measured best on average for these one-pass rules (docs/benchmarks.md).
- ``active``: Giffler-Thompson candidates (those that can start before the earliest
  completion on their resource); idle gaps used.
- ``append``: every ready order, appended at the end of its resource: the list
  scheduling of earlier releases (with ``edd`` exactly the PPO environment's slot 0).

Frozen orders (started before ``now``) stay where a given schedule has them.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence

import numpy as np

from rrl.dispatching.active import ECT, EST, ActiveBuilder, Route, Slot
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError

RULES = ("edd", "spt", "lpt", "mwkr", "mor", "fdd_mwkr", "fifo", "mdd", "slack", "atcs", "first_fit", "random")
#: How candidates are generated (see the module text).
MODES = ("nondelay", "active", "append")
#: The rule ``rrl schedule`` uses when none is given, per objective (see docs/schedule.md).
DEFAULT_RULE = {"tardiness": "mdd", "makespan": "fdd_mwkr"}
OBJECTIVES = tuple(DEFAULT_RULE)

Key = Callable[[Slot, float], tuple[float, ...]]


def dispatch(problem: Problem, rule: str = "edd", *, seed: int = 0, keep: Schedule | None = None,
             mode: str = "nondelay") -> Schedule:
    """Build a schedule with a dispatching rule.

    Parameters
    ----------
    problem : Problem
        Plant and orders.
    rule : str
        One of :data:`RULES`.
    seed : int
        Seed of the ``random`` rule.
    keep : Schedule, optional
        A current schedule whose frozen orders (``problem.frozen``) stay in place.
    mode : str
        One of :data:`MODES`.

    Returns
    -------
    Schedule
    """
    if rule not in RULES:
        raise RRLError(f"unknown rule '{rule}' (expected one of {', '.join(RULES)})")
    if mode not in MODES:
        raise RRLError(f"unknown mode '{mode}' (expected one of {', '.join(MODES)})")
    tables = Tables(problem, seed)
    builder = ActiveBuilder(problem, keep, insertion=mode != "append", route=_route(rule, tables))
    scope = "all" if mode == "append" else mode
    key = _key(rule, tables, builder)
    _run(builder, key, scope)
    return builder.schedule()


def complete(builder: ActiveBuilder, rule: str, tables: Tables, *, scope: str = "nondelay") -> None:
    """Place every order that ``builder`` still holds unplaced by ``rule`` (a rollout from
    a partly built schedule; ``tables`` are the problem's, see :class:`Tables`)."""
    if rule not in RULES:
        raise RRLError(f"unknown rule '{rule}' (expected one of {', '.join(RULES)})")
    _run(builder, _key(rule, tables, builder), scope)


def _run(builder: ActiveBuilder, key: Key, scope: str) -> None:
    """Place the candidate of least key until every order is placed.

    The best candidate of each resource sits in a heap; a step re-ranks only the
    resources whose candidates changed (stale heap entries are skipped by version).
    """
    rank = {r: float(i) for i, r in enumerate(builder.resources)}
    heap: list[tuple[tuple[float, ...], int, str, Slot]] = []
    mark = 0
    while not builder.done:
        changed, mark = builder.changed(mark)
        for r in changed:
            slots = builder.candidates_on(r, scope)
            if slots:
                t = min(s.start for s in slots)
                k, s = min(((*key(s, t), rank[r]), s) for s in slots)
                heapq.heappush(heap, (k, builder.version(r), r, s))
        while True:
            if not heap:  # pragma: no cover - the builder guarantees a candidate
                raise RRLError("internal error: no candidate while orders remain")
            _, version, r, choice = heapq.heappop(heap)
            if version == builder.version(r):
                break
        builder.place(choice)


class Tables:
    """Per-order quantities the rules read, computed once per problem.

    Attributes
    ----------
    rank : file position of each order.
    mean_p, min_p : mean and least processing time over the eligible resources.
    work : mean processing time of the order plus its longest chain of successors.
    ops : orders in that chain, the order included.
    flow : the order's earliest start by mean times along its chain of ``after``
        orders, from the releases (or ``now``; a started order's own start), in hours
        after ``now``.
    """

    def __init__(self, problem: Problem, seed: int) -> None:
        self.problem = problem
        durations = problem.durations
        self.rank = {o: float(i) for i, o in enumerate(problem.orders)}
        self.mean_p = {o: sum(d.values()) / len(d) for o, d in durations.items()}
        self.min_p = {o: min(d.values()) for o, d in durations.items()}
        self.work: dict[str, float] = {}
        self.ops: dict[str, float] = {}
        dependents = problem.dependents
        topological = _reverse_topological(problem)
        for o in topological:
            after = dependents.get(o, ())
            self.work[o] = self.mean_p[o] + max((self.work[d] for d in after), default=0.0)
            self.ops[o] = 1.0 + max((self.ops[d] for d in after), default=0.0)
        self.flow: dict[str, float] = {}
        for o in reversed(topological):  # every order after those it waits for
            spec = problem.orders[o]
            if o in problem.frozen:  # started: its successors count from its real start
                self.flow[o] = problem.frozen[o] - problem.now
                continue
            self.flow[o] = max(spec.release - problem.now, 0.0,
                               *(self.flow[a] + self.mean_p[a] for a in spec.after))
        rng = random.Random(seed)
        self.noise = {(o, r): rng.random() for o, d in durations.items() for r in ["", *d]}
        unplaced = [o for o in problem.orders if o not in problem.frozen]
        self.k1, self.k2, self.p_bar, self.s_bar = atcs_parameters(problem, unplaced)

    def flow_over_work(self, slot: Slot) -> float:
        """``fdd_mwkr``'s priority of ``slot`` (least first): the order's flow due date
        placed there over its work remaining."""
        return (self.flow[slot.order] + slot.duration) / max(self.work[slot.order], 1e-9)


def _reverse_topological(problem: Problem) -> list[str]:
    """Orders so that each comes after every order that waits for it (``after`` is acyclic)."""
    indegree = {o: len(spec.after) for o, spec in problem.orders.items()}
    queue = [o for o, n in indegree.items() if n == 0]
    for o in queue:  # Kahn: the list grows while it is walked
        for d in problem.dependents.get(o, ()):
            indegree[d] -= 1
            if indegree[d] == 0:
                queue.append(d)
    return queue[::-1]


def _route(rule: str, tb: Tables) -> Route:
    """The rule's machine choice: how each ready order picks its resource."""
    if rule == "first_fit":
        return EST
    if rule == "random":
        return lambda s: (tb.noise[(s.order, s.resource)],)
    return ECT


def _key(rule: str, tb: Tables, builder: ActiveBuilder) -> Key:
    """The rule's key of a candidate slot (least is chosen); ``t`` is the earliest start
    among the candidates on the slot's resource."""
    orders = tb.problem.orders
    floor = builder.floor
    rank = tb.rank
    if rule == "edd":
        return lambda s, t: (0.0 if orders[s.order].important else 1.0, orders[s.order].due, rank[s.order], s.end)
    if rule == "spt":
        return lambda s, t: (s.duration, s.end, rank[s.order])
    if rule == "lpt":
        return lambda s, t: (-tb.min_p[s.order], s.end, rank[s.order])
    if rule == "mwkr":
        return lambda s, t: (-tb.work[s.order], s.end, rank[s.order])
    if rule == "mor":
        return lambda s, t: (-tb.ops[s.order], -tb.work[s.order], s.end, rank[s.order])
    if rule == "fdd_mwkr":
        return lambda s, t: (tb.flow_over_work(s), s.end, rank[s.order])
    if rule == "fifo":
        return lambda s, t: (floor(s.order), rank[s.order], s.end)
    if rule == "mdd":
        return lambda s, t: (max(orders[s.order].due, s.end), s.end, rank[s.order])
    if rule == "slack":
        return lambda s, t: (orders[s.order].due - s.end, s.end, rank[s.order])
    if rule == "first_fit":
        return lambda s, t: (rank[s.order], s.start)
    if rule == "random":
        return lambda s, t: (tb.noise[(s.order, "")],)
    return _atcs_key(tb)


def _atcs_key(tb: Tables) -> Key:
    orders = tb.problem.orders
    k1p = tb.k1 * tb.p_bar
    k2s = tb.k2 * tb.s_bar

    def key(s: Slot, t: float) -> tuple[float, ...]:
        spec = orders[s.order]
        p = max(s.duration, 1e-9)
        w = spec.weight * (2.0 if spec.important else 1.0)
        index = w / p * math.exp(-max(spec.due - p - t, 0.0) / k1p)
        if k2s > 0:
            index *= math.exp(-s.setup / k2s)
        return (t, -index, tb.rank[s.order])

    return key


def atcs_parameters(problem: Problem, orders: Sequence[str]) -> tuple[float, float, float, float]:
    """ATCS look-ahead parameters ``(k1, k2, p_bar, s_bar)`` for scheduling ``orders``.

    ``p_bar`` is the mean processing time of the orders (each averaged over its eligible
    resources), ``s_bar`` the mean positive cleanout of the plant; k1 follows the due-date
    range and k2 the due-date tightness, as in Lee, Bhaskaran & Pinedo (1997). Shared by
    the ``atcs`` rule and the PPO environment's ATCS slot.
    """
    if not orders:
        return 2.0, 1.0, 1.0, 0.0
    mean_p = [float(np.mean(list(problem.durations[o].values()))) for o in orders]
    p_bar = float(np.mean(mean_p))
    setups = [v for row in problem.plant.cleanout.values() for v in row.values() if v > 0]
    s_bar = float(np.mean(setups)) if setups else 0.0
    dues = [problem.orders[o].due for o in orders]
    machines = max(1, len(problem.plant.resources))
    c_max = (sum(mean_p) + len(orders) * s_bar) / machines + problem.now
    spread = (max(dues) - min(dues)) / c_max if c_max > 0 else 0.0
    tightness = 1.0 - float(np.mean(dues)) / c_max if c_max > 0 else 0.5
    k1 = 4.5 + spread if spread <= 0.5 else 6.0 - 2.0 * spread
    k1 = max(k1, 0.5)
    k2 = max(tightness / (2.0 * math.sqrt(s_bar / p_bar)), 0.1) if s_bar > 0 and p_bar > 0 else 1.0
    return k1, k2, p_bar, s_bar
