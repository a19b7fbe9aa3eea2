"""Active schedule generation: a builder that places one ready order at a time, in an idle
gap of a resource where it fits, else at the end.

A schedule in rrl is a sequence per resource; times are always derived from it by the
semi-active rule of DESIGN section 3. Appending orders one by one (list scheduling)
leaves idle time that precedence, releases or cleanouts open on a resource unused, so
its schedules are in general not *active*: some order could start earlier without
delaying any other. :class:`ActiveBuilder` instead looks, for an order and a resource,
for the first *position* in the resource's sequence where the order fits:

- the order's start there is the one DESIGN section 3 gives it after its new
  predecessor (cleanout from that predecessor's product, release, ``after`` orders,
  ``now``, and the cleanout-plus-processing block pushed past downtime windows);
- the order that follows it would keep its start exactly (its cleanout now comes from
  the inserted order's product, and its block must still clear the downtime windows).

Then every order already placed keeps its times, so the builder's times are always
those of :func:`rrl.domain.compute_times` on :meth:`ActiveBuilder.schedule`, and an
insertion can never close a precedence cycle (the inserted order ends before the next
one starts, and everything that waits for the next one starts after it ends).

Candidates follow Giffler and Thompson (1960), per resource. Each ready order is first
*routed*: with ``route`` (a key over slots, e.g. :data:`ECT`, earliest completion), it
is offered only at its best slot over its eligible resources; with ``route=None`` it is
offered on every eligible resource. Then, on each resource ``r``, let ``C_r`` be the
earliest completion among the slots offered on ``r``: the candidates on ``r`` are the
offered slots that start before ``C_r`` (``scope="active"``). ``scope="nondelay"``
keeps only the slots that start at the earliest start offered on ``r`` (a resource
never waits while something could run there); ``scope="all"`` keeps every offered slot
(plain list scheduling). Routing first matters in flexible shops: without it an order
whose fast resource is busy would be offered only on its slow ones.

Typical use (a dispatching rule, or an RL environment choosing among candidates)::

    builder = ActiveBuilder(problem)          # route=ECT, insertion=True
    while not builder.done:
        slots = builder.candidates()          # never empty while orders remain
        builder.place(min(slots, key=my_priority))
    plan = builder.plan()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from rrl.domain.plan import Plan
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.timing import clear_downtime
from rrl.errors import RRLError

#: Candidate scopes of :meth:`ActiveBuilder.candidates`.
SCOPES = ("active", "nondelay", "all")
#: Slack (hours) for comparing derived times.
EPS = 1e-9


def require_keep(problem: Problem, keep: Schedule | None) -> None:
    """Refuse a problem with frozen orders but no current schedule: without it their
    resources and positions are unknown."""
    if problem.frozen and keep is None:
        raise RRLError(f"{len(problem.frozen)} orders started before now={problem.now:g} and are frozen: "
                       "pass keep= (the current schedule) so that they stay in place")


@dataclass(frozen=True, slots=True)
class Slot:
    """Where a ready order would go: ``resource``, before ``position`` in its sequence.

    ``position == len(sequence)`` appends. ``start``/``end`` are the order's times there
    (DESIGN section 3) and ``setup`` the cleanout hours just before it.
    """

    order: str
    resource: str
    position: int
    start: float
    end: float
    setup: float

    @property
    def duration(self) -> float:
        """Processing hours of the order on the slot's resource."""
        return self.end - self.start


#: A routing key: the slot of least key is an order's offered slot (ties: resource order).
Route = Callable[[Slot], tuple[float, ...]]


def ECT(slot: Slot) -> tuple[float, ...]:
    """Route to the earliest completion."""
    return (slot.end,)


def EST(slot: Slot) -> tuple[float, ...]:
    """Route to the earliest start (then earliest completion)."""
    return (slot.start, slot.end)


class ActiveBuilder:
    """Incremental construction of a schedule by placing ready orders in slots.

    Parameters
    ----------
    problem : Problem
        Plant, orders and clock.
    keep : Schedule, optional
        The current schedule; its frozen orders (``problem.frozen``) are placed first, at
        the head of their resources, and nothing is ever placed before them. Required
        when the problem has frozen orders.
    insertion : bool
        Allow idle gaps (True, active schedules); False only ever appends, which is the
        old list scheduling.
    route : callable or None
        How a ready order picks the one resource it is offered on (least key; ties in
        resource file order); None offers every eligible resource.

    Attributes
    ----------
    start, end : dict of order id to float
        Times of the placed orders (final: placing an order never moves another).

    Notes
    -----
    The API, for rules and learning environments alike:

    - :attr:`ready`: orders not yet placed whose ``after`` orders are all placed;
      :attr:`remaining`, :attr:`done`.
    - :meth:`slot` (order, resource): the earliest slot; :meth:`gaps`: every slot where
      it fits (each idle gap, then the end), for a policy that picks the position itself.
    - :meth:`candidates` (scope): the Giffler-Thompson candidate slots over all resources;
      :meth:`candidates_on` one resource's, with :meth:`version` telling when a resource's
      candidates may have changed (for callers that cache per resource); :meth:`offered`
      an order's routed slot.
    - :meth:`place` (slot): commit; returns the orders that became ready.
    - :meth:`schedule`, :meth:`plan`: the result.

    A slot is valid for the state it was computed in; :meth:`place` re-checks it and
    refuses a stale one. Cost: a slot scans the resource's sequence once; slots and
    candidate lists are cached per resource until that resource changes.
    """

    def __init__(self, problem: Problem, keep: Schedule | None = None, *, insertion: bool = True,
                 route: Route | None = ECT) -> None:
        require_keep(problem, keep)
        self.problem = problem
        self.insertion = insertion
        self.route = route
        plant = problem.plant
        orders = problem.orders
        self.resources: tuple[str, ...] = tuple(plant.resources)
        self._seq: dict[str, list[str]] = {r: [] for r in self.resources}
        self._head: dict[str, int] = dict.fromkeys(self.resources, 0)  # frozen prefix lengths
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}
        self.setup: dict[str, float] = {}
        # floor[o] = max(release, now, end of every after order): fixed once o is ready.
        self._floor: dict[str, float] = {}
        if keep is not None and problem.frozen:
            prefix = Schedule({r: [o for o in keep.sequence(r) if o in problem.frozen] for r in self.resources})
            times = Plan.build(problem, prefix).times
            for r, seq in prefix.sequences.items():
                self._seq[r].extend(seq)
                self._head[r] = len(seq)
                for o in seq:
                    self.start[o], self.end[o], self.setup[o] = times.start[o], times.end[o], times.setup[o]
                    self._floor[o] = times.start[o]
        self._missing = {o: sum(1 for a in spec.after if a not in self.end)
                         for o, spec in orders.items() if o not in self.end}
        self._ready: dict[str, None] = {}
        self._ready_on: dict[str, dict[str, None]] = {r: {} for r in self.resources}
        self._rank = {r: i for i, r in enumerate(self.resources)}
        self._offered: dict[str, Slot] = {}                          # routed slot per ready order
        self._offered_on: dict[str, dict[str, None]] = {r: {} for r in self.resources}
        self._seq_version = dict.fromkeys(self.resources, 0)   # bumps when a sequence changes
        self._version = dict.fromkeys(self.resources, 0)       # bumps when candidates may change
        self._log: list[str] = []                              # every bump, in order
        self._slots: dict[tuple[str, str], tuple[int, Slot]] = {}
        self._cands: dict[tuple[str, str], tuple[int, list[Slot]]] = {}
        for o, missing in self._missing.items():
            if missing == 0:
                self._make_ready(o)

    # -- state ------------------------------------------------------------------------

    @property
    def ready(self) -> list[str]:
        """Orders that can be placed now (every ``after`` order placed), in the order they
        became ready (file order at the start)."""
        return list(self._ready)

    @property
    def remaining(self) -> int:
        """How many orders are still to place."""
        return len(self._missing)

    @property
    def done(self) -> bool:
        """True when every order is placed."""
        return not self._missing

    def sequence(self, resource: str) -> tuple[str, ...]:
        """The orders placed on ``resource`` so far, in processing order."""
        return tuple(self._seq[resource])

    def floor(self, order: str) -> float:
        """Earliest start of a ready or placed order: release, ``now`` and its ``after`` orders."""
        return self._floor[order]

    def version(self, resource: str) -> int:
        """A counter that changes whenever ``resource``'s candidates may have changed."""
        return self._version[resource]

    def changed(self, since: int = 0) -> tuple[set[str], int]:
        """The resources whose candidates may have changed since mark ``since``, and the
        mark to pass next time (start with 0: every resource with a ready order)."""
        return set(self._log[since:]), len(self._log)

    def _bump(self, resource: str) -> None:
        self._version[resource] += 1
        self._log.append(resource)

    # -- slots ------------------------------------------------------------------------

    def slot(self, order: str, resource: str) -> Slot:
        """The earliest slot of ready ``order`` on eligible ``resource`` (an idle gap where
        it fits, else the end; with ``insertion=False`` always the end)."""
        self._check_ready(order, resource)
        return self._slot(order, resource)

    def _slot(self, order: str, resource: str) -> Slot:
        """:meth:`slot` without the checks (callers pass a ready order, an eligible resource)."""
        cached = self._slots.get((order, resource))
        version = self._seq_version[resource]
        if cached is not None and cached[0] == version:
            return cached[1]
        found = next(self._fits(order, resource))
        self._slots[(order, resource)] = (version, found)
        return found

    def slots(self, order: str) -> list[Slot]:
        """The earliest slot of ready ``order`` on each of its eligible resources."""
        return [self.slot(order, r) for r in self.problem.durations[order]]

    def offered(self, order: str) -> Slot:
        """The slot ready ``order`` is offered at: its routed slot, or with ``route=None``
        its earliest completion."""
        if order in self._offered:
            return self._offered[order]
        return min(self.slots(order), key=lambda s: (s.end, self._rank[s.resource]))

    def gaps(self, order: str, resource: str) -> list[Slot]:
        """Every slot of ready ``order`` on ``resource``: each idle gap where it fits, in
        time order, then the end of the sequence (last)."""
        self._check_ready(order, resource)
        return list(self._fits(order, resource))

    def candidates_on(self, resource: str, scope: str = "active") -> list[Slot]:
        """Candidate slots on one resource (see the module text for the scopes)."""
        key = (resource, scope)
        version = self._version[resource]
        cached = self._cands.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        if self.route is None:
            slots = [self._slot(o, resource) for o in self._ready_on[resource]]
        else:
            slots = [self._offered[o] for o in self._offered_on[resource]]
        if slots and scope != "all":
            if scope == "active":
                bound = min(s.end for s in slots)
                slots = [s for s in slots if s.start < bound - EPS or s.end <= bound]
            elif scope == "nondelay":
                first = min(s.start for s in slots)
                slots = [s for s in slots if s.start <= first + EPS]
            else:
                raise RRLError(f"unknown candidate scope '{scope}' (expected one of {', '.join(SCOPES)})")
        self._cands[key] = (version, slots)
        return slots

    def candidates(self, scope: str = "active") -> list[Slot]:
        """Candidate slots over every resource (resources in file order). Never empty
        while orders remain: on each resource with a ready order, the slot of earliest
        completion (``active``) or start (``nondelay``) is a candidate."""
        return [s for r in self.resources for s in self.candidates_on(r, scope)]

    def _check_ready(self, order: str, resource: str) -> None:
        if order not in self._ready:
            state = "placed" if order in self.end else "not ready (an `after` order is unplaced)"
            raise RRLError(f"order {order} is {state}" if order in self.problem.orders else f"unknown order {order}")
        if resource not in self.problem.durations[order]:
            raise RRLError(f"order {order} cannot run on {resource}")

    def _fits(self, order: str, resource: str) -> Iterator[Slot]:
        """Every slot of ``order`` on ``resource`` in position order; the end comes last."""
        problem = self.problem
        orders = problem.orders
        setup_of = problem.plant.setup
        spec_r = problem.plant.resources[resource]
        windows = spec_r.downtime
        product = orders[order].product
        dur = problem.durations[order][resource]
        floor = self._floor[order]
        seq = self._seq[resource]
        n = len(seq)
        first = self._head[resource] if self.insertion else n
        for k in range(first, n + 1):
            if k:
                prev = seq[k - 1]
                prev_end = self.end[prev]
                prev_product: str | None = orders[prev].product
            else:
                prev_end, prev_product = 0.0, spec_r.initial_product
            if k < n:
                nxt = seq[k]
                nxt_start = self.start[nxt]
                if max(prev_end, floor) + dur > nxt_start + EPS:
                    continue  # the idle time before nxt is too short (cleanouts are >= 0)
            gap = setup_of(prev_product, product)
            t = max(prev_end + gap, floor)
            if windows:
                t = clear_downtime(t, gap, dur, windows)
            e = t + dur
            if k < n:
                # nxt must keep its start exactly: not later (it would push others), and
                # not earlier either (possible when cleanouts break the triangle
                # inequality), so that no placed order ever moves.
                nxt_product = orders[nxt].product
                gap2 = setup_of(product, nxt_product)
                t2 = max(e + gap2, self._floor[nxt])
                if windows:
                    t2 = clear_downtime(t2, gap2, problem.durations[nxt][resource], windows)
                if abs(t2 - nxt_start) > EPS:
                    continue
            yield Slot(order, resource, k, t, e, gap)

    # -- acting -----------------------------------------------------------------------

    def place(self, slot: Slot) -> list[str]:
        """Put ``slot.order`` at ``slot.position`` of ``slot.resource``; return the orders
        that became ready. Refuses (RRLError) a slot that no longer fits."""
        order, resource, k = slot.order, slot.resource, slot.position
        self._check_ready(order, resource)
        fresh = self._slots.get((order, resource))
        if fresh is None or fresh[0] != self._seq_version[resource] or fresh[1] != slot:
            match = next((s for s in self._fits(order, resource) if s.position == k), None)
            if match is None or match != slot:
                raise RRLError(f"slot {slot} does not fit the current schedule of {resource}")
        seq = self._seq[resource]
        seq.insert(k, order)
        self.start[order], self.end[order], self.setup[order] = slot.start, slot.end, slot.setup
        if k + 1 < len(seq):
            nxt = seq[k + 1]
            self.setup[nxt] = self.problem.plant.setup(self.problem.orders[order].product,
                                                       self.problem.orders[nxt].product)
        self._seq_version[resource] += 1
        self._bump(resource)
        del self._ready[order]
        del self._missing[order]
        for r in self.problem.durations[order]:
            del self._ready_on[r][order]
            self._bump(r)
        if self.route is not None:
            del self._offered_on[self._offered.pop(order).resource][order]
            for other in list(self._ready_on[resource]):  # their slots on `resource` changed
                self._reroute(other)
        released = []
        for nxt in self.problem.dependents.get(order, ()):
            if nxt in self._missing:
                self._missing[nxt] -= 1
                if self._missing[nxt] == 0:
                    self._make_ready(nxt)
                    released.append(nxt)
        return released

    def _make_ready(self, order: str) -> None:
        problem = self.problem
        spec = problem.orders[order]
        self._floor[order] = max([spec.release, problem.now, *(self.end[a] for a in spec.after)])
        self._ready[order] = None
        for r in problem.durations[order]:
            self._ready_on[r][order] = None
            self._bump(r)
        if self.route is not None:
            self._reroute(order)

    def _reroute(self, order: str) -> None:
        """Route ready ``order`` again (its slot on some resource changed)."""
        assert self.route is not None
        route, rank = self.route, self._rank
        best = min((self._slot(order, r) for r in self.problem.durations[order]),
                   key=lambda s: (*route(s), rank[s.resource]))
        old = self._offered.get(order)
        self._offered[order] = best
        if old is None or old.resource != best.resource:
            if old is not None:
                del self._offered_on[old.resource][order]
                self._bump(old.resource)
            self._offered_on[best.resource][order] = None
            self._bump(best.resource)
        elif old != best:
            self._bump(best.resource)

    # -- results ----------------------------------------------------------------------

    def schedule(self) -> Schedule:
        """The schedule built so far (frozen orders included)."""
        return Schedule(self._seq)

    def plan(self) -> Plan:
        """The finished plan, timed by :func:`rrl.domain.compute_times`."""
        if not self.done:
            raise RRLError(f"{self.remaining} orders are not placed yet")
        return Plan.build(self.problem, self.schedule())

    def times(self) -> Mapping[str, tuple[float, float]]:
        """(start, end) of every placed order."""
        return {o: (self.start[o], self.end[o]) for o in self.end}
