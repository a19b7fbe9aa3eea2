"""Semi-active timing of a schedule (DESIGN section 3), full and incremental.

For order ``j`` after ``i`` on resource ``r``::

    setup = cleanout[prod(i)][prod(j)]      (i may be the resource's initial product)
    start = max(end(i) + setup, release(j), max end(after(j)), now if j is not frozen)
    the block [start - setup, start + dur) may not meet a downtime window [a, b):
    if it does, start = b + setup and check again
    end   = start + dur

A frozen order (started before ``now``) keeps the start it had when it was frozen.

Sequences plus ``after`` form a graph; times follow it in topological order (Kahn),
which also detects cycles. Re-timing after a local change only walks the orders that
can be reached from the first changed position of each changed resource.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import CycleError


class Timetable:
    """Start, end and cleanout (setup) hours of every scheduled order.

    A timetable made by :func:`retime` holds only the orders it recomputed on top of the
    timetable it started from, and copies the rest in the first time ``start``, ``end`` or
    ``setup`` is read: a repair search scores many candidate plans by their re-timed
    orders alone (:attr:`changed`, :meth:`end_of`) and materialises only those it keeps.
    """

    __slots__ = ("_base", "_end", "_setup", "_start", "changed")

    def __init__(self, start: dict[str, float], end: dict[str, float], setup: dict[str, float],
                 base: Timetable | None = None) -> None:
        self._start, self._end, self._setup = start, end, setup
        self._base = base
        #: The orders timed here (all of them unless made on top of another timetable).
        self.changed: tuple[str, ...] = tuple(end) if base is not None else ()

    def _full(self) -> None:
        base = self._base
        if base is not None:
            self._start = {**base.start, **self._start}
            self._end = {**base.end, **self._end}
            self._setup = {**base.setup, **self._setup}
            self._base = None

    @property
    def start(self) -> dict[str, float]:
        """Order id to start hour."""
        if self._base is not None:
            self._full()
        return self._start

    @property
    def end(self) -> dict[str, float]:
        """Order id to end hour."""
        if self._base is not None:
            self._full()
        return self._end

    @property
    def setup(self) -> dict[str, float]:
        """Order id to the cleanout hours before it."""
        if self._base is not None:
            self._full()
        return self._setup

    def end_of(self, order: str) -> float:
        """The end of one order, without copying anything."""
        own = self._end.get(order)
        if own is not None or self._base is None:
            return own if own is not None else self._end[order]
        return self._base.end_of(order)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timetable):
            return NotImplemented
        return (self.start, self.end, self.setup) == (other.start, other.end, other.setup)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Timetable({len(self.end)} orders)"


def compute_times(problem: Problem, schedule: Schedule) -> Timetable:
    """Times of every order of ``schedule``.

    Raises
    ------
    CycleError
        When resource sequences and ``after`` constraints form a cycle.
    """
    times = Timetable({}, {}, {})
    where = schedule.locate
    _time_orders(problem, schedule, {order: where(order) for order in schedule.orders()}, times)
    return times


def retime(
    problem: Problem,
    old_schedule: Schedule,
    old_times: Timetable,
    new_schedule: Schedule,
    changed: Iterable[str],
) -> Timetable:
    """Times of ``new_schedule``, which differs from ``old_schedule`` only on ``changed``.

    Only the orders from the first changed position of each changed resource, and what
    depends on them through sequences and ``after``, are recomputed.

    Raises
    ------
    CycleError
        When the change closes a precedence cycle.
    """
    dependents = problem.dependents
    times = Timetable({}, {}, {}, base=old_times)
    suffixes: list[tuple[str, tuple[str, ...], int]] = []
    linked = False  # does an order to re-time have orders waiting for it (``after``)?
    for resource in changed:
        old_seq = old_schedule.sequence(resource)
        new_seq = new_schedule.sequence(resource)
        first = first_difference(old_seq, new_seq)
        suffixes.append((resource, new_seq, first))
        if dependents and not linked:
            linked = not dependents.keys().isdisjoint(new_seq[first:])
    if not linked:
        # No order to re-time is waited for, so the changed suffixes cannot reach each
        # other (nor close a cycle): each is timed along its sequence.
        overlay = _Overlay(times, old_times)
        retimed: list[str] = []
        for resource, seq, first in suffixes:
            _place(problem, resource, seq, first, len(seq), overlay)
            retimed += seq[first:]
        times.changed = tuple(retimed)
        return times
    seeds = [o for _, seq, first in suffixes for o in seq[first:]]
    affected = _descendants(problem, new_schedule, seeds)
    _time_orders(problem, new_schedule, affected, times, old_times.end)
    times.changed = tuple(affected)
    return times


def first_difference(old: tuple[str, ...], new: tuple[str, ...]) -> int:
    """Index of the first position where two sequences differ (the shorter length if one
    is a prefix of the other)."""
    limit = min(len(old), len(new))
    for index in range(limit):
        if old[index] != new[index]:
            return index
    return limit


def _descendants(problem: Problem, schedule: Schedule, seeds: list[str]) -> dict[str, tuple[str, int]]:
    """``seeds`` and every order reachable from them (next on resource, dependents), with
    where each one is, in the order found: the same on every run (a set's order changes
    with the process's string hashing, and with it the order of the sums over re-timed
    orders, and so the last bits of a plan's total tardiness, which a search breaking
    ties by cost reads)."""
    sequences = schedule.sequences
    where = schedule.locate
    dependents = problem.dependents
    seen: dict[str, tuple[str, int] | None] = dict.fromkeys(seeds)
    stack = list(seeds)
    while stack:
        order = stack.pop()
        resource, index = seen[order] = where(order)
        seq = sequences[resource]
        successors = dependents.get(order, ())
        if index + 1 < len(seq):
            successors = (*successors, seq[index + 1])
        for nxt in successors:
            if nxt not in seen:
                seen[nxt] = None
                stack.append(nxt)
    return seen  # type: ignore[return-value]  # (every order found is located when popped)


class _Overlay:
    """What :func:`_place` writes into and reads from when re-timing: the new timetable's
    own entries, falling back to the old timetable's."""

    __slots__ = ("end", "setup", "start")

    def __init__(self, new: Timetable, old: Timetable) -> None:
        self.start: dict[str, float] = new._start
        self.end: Any = _Fallback(new._end, old.end)
        self.setup: dict[str, float] = new._setup


class _Fallback:
    """The new ends, reading the old end of an order not re-timed."""

    __slots__ = ("_old", "_own")

    def __init__(self, own: dict[str, float], old: dict[str, float]) -> None:
        self._own = own
        self._old = old

    def __getitem__(self, order: str) -> float:
        own = self._own.get(order)
        return own if own is not None else self._old[order]

    def __setitem__(self, order: str, value: float) -> None:
        self._own[order] = value


def _time_orders(problem: Problem, schedule: Schedule, todo: Mapping[str, tuple[str, int]], times: Timetable,
                 old_end: dict[str, float] | None = None) -> None:
    """Compute times of the orders of ``todo`` (each with where it is) in topological
    order, writing into ``times``.

    Orders outside ``todo`` are inputs: their ends are read from ``old_end`` (re-timing),
    else from ``times``. Each order is timed as :func:`_place` times it, the rule written
    out here and read through :attr:`~rrl.domain.problem.Problem.lines` (whose earliest
    start includes the clock: the same maximum), since a repair search re-times
    thousands of candidate plans with ``after``, order by order: a call per order, and
    its look-ups of the plant, took a third of the time (docs/benchmarks.md, "Timing
    with chains, written out").
    """
    orders = problem.orders
    dependents = problem.dependents
    sequences = schedule.sequences
    lines = problem.lines
    frozen = problem.frozen
    start, end, setup = times._start, times._end, times._setup
    own_end = end.get
    if old_end is None:
        old_end = end

    waiting: dict[str, int] = {}
    ready: deque[str] = deque()
    for order, (resource, index) in todo.items():
        count = 1 if index and sequences[resource][index - 1] in todo else 0
        for before in orders[order].after:
            if before in todo:
                count += 1
        if count:
            waiting[order] = count
        else:
            ready.append(order)

    done = 0
    while ready:
        order = ready.popleft()
        done += 1
        resource, index = todo[order]
        seq = sequences[resource]
        specs, cleanouts, windows = lines[resource]
        product, _, earliest, _, duration = specs[order]
        if index:
            previous = seq[index - 1]
            cleanouts = specs[previous][1]
            ready_at = own_end(previous)
            if ready_at is None:
                ready_at = old_end[previous]
        else:
            ready_at = 0.0
        gap = cleanouts.get(product, 0.0)
        t = ready_at + gap
        if earliest > t:
            t = earliest
        after = orders[order].after
        for before in after:
            ended = own_end(before)
            if ended is None:
                ended = old_end[before]
            if ended > t:
                t = ended
        pinned = frozen.get(order)
        if pinned is not None:
            t = pinned
        elif windows:
            t = clear_downtime(t, gap, duration, windows)
        start[order] = t
        end[order] = t + duration
        setup[order] = gap

        successors = dependents.get(order, ())
        if index + 1 < len(seq):
            successors = (*successors, seq[index + 1])
        for nxt in successors:
            left = waiting.get(nxt)
            if left is not None:
                if left == 1:
                    del waiting[nxt]
                    ready.append(nxt)
                else:
                    waiting[nxt] = left - 1
    if done < len(todo):
        raise CycleError(sorted(waiting))


def _place(problem: Problem, resource: str, seq: tuple[str, ...], first: int, stop: int,
           times: Timetable | _Overlay) -> None:
    """Time the orders at ``first .. stop - 1`` of ``resource``'s sequence ``seq`` in turn
    (DESIGN section 3), each one's ``after`` orders being timed already."""
    orders = problem.orders
    durations = problem.durations
    frozen = problem.frozen
    now = problem.now
    plant = problem.plant
    cleanout = plant.cleanout
    windows = plant.resources[resource].downtime
    start, end, setup = times.start, times.end, times.setup
    previous: str | None
    if first:
        previous = orders[seq[first - 1]].product
        ready_at = end[seq[first - 1]]
    else:
        previous = plant.resources[resource].initial_product
        ready_at = 0.0
    for index in range(first, stop):
        order = seq[index]
        spec = orders[order]
        product = spec.product
        gap = cleanout.get(previous, _NONE).get(product, 0.0) if previous is not None and previous != product else 0.0
        t = ready_at + gap
        if spec.release > t:
            t = spec.release
        for before in spec.after:
            if end[before] > t:
                t = end[before]
        dur = durations[order][resource]
        pinned = frozen.get(order)
        if pinned is not None:
            t = pinned
        else:
            if now > t:
                t = now
            if windows:
                t = clear_downtime(t, gap, dur, windows)
        start[order] = t
        ready_at = end[order] = t + dur
        setup[order] = gap
        previous = product


_NONE: dict[str, float] = {}


def sequence_tardiness(problem: Problem, resource: str, seq: tuple[str, ...], first: int = 0,
                       ready: float = 0.0) -> float:
    """Total tardiness of the orders ``seq[first:]`` of one resource, timed on their own.

    That is their share of the plan's total tardiness when no order waits for another
    (``after``): a resource's times then depend on its sequence alone, so a repair search
    can price a candidate sequence without building the plan it belongs to. ``ready`` is
    the end of ``seq[first - 1]`` (when ``first > 0``).
    """
    times = Timetable({}, {}, {})
    if first:
        times._end[seq[first - 1]] = ready
    _place(problem, resource, seq, first, len(seq), times)
    orders = problem.orders
    total = 0.0
    for order in seq[first:]:
        late = times._end[order] - orders[order].due
        if late > 0.0:
            total += late
    return total


def tail_tardiness(problem: Problem, resource: str, seq: Sequence[str], first: int = 0, ready: float = 0.0,
                   bound: float = math.inf) -> float:
    """:func:`sequence_tardiness` of ``seq[first:]`` the fast way, for a search that prices
    many sequences: valid where no order waits for another (no ``after``) and no order
    of ``seq[first:]`` has started (started orders head their sequences). ``ready`` is
    the end of ``seq[first - 1]``. Returns ``math.inf`` as soon as the total reaches
    ``bound`` (a search that only wants sequences cheaper than its best so far)."""
    return line_tardiness(problem, resource, seq[first - 1] if first else None, seq[first:], ready, bound)


def line_tardiness(problem: Problem, resource: str, before: str | None, names: Iterable[str], ready: float = 0.0,
                   bound: float = math.inf) -> float:
    """Total tardiness of ``names`` run in turn on ``resource`` after the order ``before``
    (None: from the resource's initial product), the line free at ``ready``; ``math.inf``
    once it reaches ``bound``. What :func:`tail_tardiness` reads (a search that tries an
    order at every place of a sequence calls :func:`cheapest_insertion`). The same
    conditions hold (no ``after``, nothing started).
    """
    specs, cleanouts, windows = problem.lines[resource]
    if before is not None:
        cleanouts = specs[before][1]
    total = 0.0
    for name in names:
        product, after, earliest, due, duration = specs[name]
        gap = cleanouts.get(product, 0.0)
        t = ready + gap
        if earliest > t:
            t = earliest
        if windows:
            t = clear_downtime(t, gap, duration, windows)
        ready = t + duration
        if ready > due:
            total += ready - due
            if total >= bound:
                return math.inf
        cleanouts = after
    return total if total < bound else math.inf


def sequence_timeline(problem: Problem, resource: str, seq: Sequence[str]) -> tuple[list[float], list[float]]:
    """The running total tardiness and the end of each order along ``seq`` on
    ``resource``, timed on its own (see :func:`sequence_tardiness`; started orders at
    their frozen starts): what a search needs to price a change from its first changed
    position on. The loop of :func:`line_tardiness`, for a walk that times thousands of
    sequences; like it, valid only where no order waits for another (on a plant with
    ``after``, time the sequences of :meth:`~rrl.domain.plan.Plan.released_problem`)."""
    # (the start rule is written out here as in _place, _time_orders, line_tardiness,
    # cheapest_insertion and inserted_end, not shared through a helper: a call per order
    # would cost the walk's innermost loop; a change to the rule changes every copy)
    specs, cleanouts, windows = problem.lines[resource]
    frozen = problem.frozen
    late: list[float] = []
    ends: list[float] = []
    total = ready = 0.0
    for name in seq:
        product, after, earliest, due, duration = specs[name]
        gap = cleanouts.get(product, 0.0)
        pinned = frozen.get(name)
        if pinned is not None:
            t = pinned
        else:
            t = ready + gap
            if earliest > t:
                t = earliest
            if windows:
                t = clear_downtime(t, gap, duration, windows)
        ready = t + duration
        if ready > due:
            total += ready - due
        late.append(total)
        ends.append(ready)
        cleanouts = after
    return late, ends


def cheapest_insertion(problem: Problem, resource: str, seq: Sequence[str], order: str,
                       timeline: tuple[list[float], list[float]], first: int, stop: int, bound: float = math.inf,
                       extra: Callable[[int], float] | None = None, earliest: float | None = None
                       ) -> tuple[float, int]:
    """Where ``order`` costs least inserted into ``seq`` on ``resource``: ``(added total
    tardiness, index)`` of the first cheapest index in ``first..stop``, or ``(bound, -1)``
    where no index adds less than ``bound``. ``timeline`` is ``seq``'s
    :func:`sequence_timeline`; ``extra(index)`` is added to an index's cost (a goal's
    price for moving orders). The conditions of :func:`line_tardiness` hold for
    ``seq[first:]``. Costs are exact within rounding; a later index must be cheaper
    by more than 1e-9 to be taken. ``earliest`` replaces ``order``'s own earliest start
    in ``problem`` (it is not combined with it: a caller includes the release and the
    clock).

    Every index is priced in one loop (a walk prices thousands of insertions per repair),
    and the tail behind the order only as far as it must: once an order of the tail ends
    no earlier than it did in ``seq``, every later one does too (its predecessors are the
    same), so the rest costs at least its old share of the running tardiness, and exactly
    that where the end is the same. The tail stops there when it can no longer win.
    """
    specs, initial, windows = problem.lines[resource]
    late, ends = timeline
    base = late[-1] if late else 0.0
    product, after, own, due, duration = specs[order]
    if earliest is None:
        earliest = own
    best, place = bound, -1
    for index in range(first, stop + 1):
        if index:
            prefix, ready, cleanouts = late[index - 1], ends[index - 1], specs[seq[index - 1]][1]
        else:
            prefix, ready, cleanouts = 0.0, 0.0, initial
        added = extra(index) if extra is not None else 0.0
        # What the tail from ``index`` must cost less than: a place wins by more than rounding,
        # so that of places equal in exact arithmetic the first one is taken.
        limit = best + base - prefix - added - 1e-9
        gap = cleanouts.get(product, 0.0)
        t = ready + gap
        if earliest > t:
            t = earliest
        if windows:
            t = clear_downtime(t, gap, duration, windows)
        ready = t + duration
        total = ready - due if ready > due else 0.0
        if total >= limit:
            continue
        cleanouts = after
        for k in range(index, len(seq)):
            o_product, o_after, o_earliest, o_due, o_duration = specs[seq[k]]
            gap = cleanouts.get(o_product, 0.0)
            t = ready + gap
            if o_earliest > t:
                t = o_earliest
            if windows:
                t = clear_downtime(t, gap, o_duration, windows)
            ready = t + o_duration
            if ready > o_due:
                total += ready - o_due
            if ready >= ends[k]:
                # Behind an order that ends no earlier than before, every order does (the
                # same predecessors): the rest costs at least what it did, exactly that
                # where the end is the same.
                if ready == ends[k] or total + base - late[k] >= limit:
                    total += base - late[k]
                    break
            elif total >= limit:
                break
            cleanouts = o_after
        if total < limit:
            best, place = prefix + total - base + added, index
    return best, place


def inserted_end(problem: Problem, resource: str, seq: Sequence[str], order: str,
                 timeline: tuple[list[float], list[float]], index: int, earliest: float | None = None) -> float:
    """The end of ``order`` inserted into ``seq`` before ``index`` (``timeline``: ``seq``'s
    :func:`sequence_timeline`; ``earliest`` as in :func:`cheapest_insertion`)."""
    specs, initial, windows = problem.lines[resource]
    product, _, own, _, duration = specs[order]
    if index:
        ready, cleanouts = timeline[1][index - 1], specs[seq[index - 1]][1]
    else:
        ready, cleanouts = 0.0, initial
    gap = cleanouts.get(product, 0.0)
    t = max(ready + gap, own if earliest is None else earliest)
    if windows:
        t = clear_downtime(t, gap, duration, windows)
    return t + duration


def running_tardiness(problem: Problem, seq: Sequence[str], end_of: Callable[[str], float]
                      ) -> tuple[list[float], list[float]]:
    """The running total tardiness and the end of each order along ``seq``, its ends read
    from ``end_of``."""
    orders = problem.orders
    late: list[float] = []
    ends: list[float] = []
    total = 0.0
    for order in seq:
        finish = end_of(order)
        if finish > orders[order].due:
            total += finish - orders[order].due
        late.append(total)
        ends.append(finish)
    return late, ends


def clear_downtime(start: float, setup: float, duration: float, windows: tuple[tuple[float, float], ...]) -> float:
    """The earliest start >= ``start`` whose block ``[start - setup, start + duration)``
    meets no window (windows sorted and disjoint, so one forward pass suffices)."""
    for a, b in windows:
        if b <= start - setup:
            continue
        if a >= start + duration:
            break
        start = b + setup
    return start


def frozen_orders(problem: Problem, schedule: Schedule) -> dict[str, float]:
    """Orders of ``schedule`` that started before ``problem.now``, with their starts.

    Times are taken as the file gives them (no ``now`` floor, nothing pinned yet).
    """
    if not len(schedule):
        return {}
    times = compute_times(problem.with_clock(0.0, {}), schedule)
    return started_prefix(schedule, times.start, problem.now)


def started_prefix(
    schedule: Schedule, start: dict[str, float], now: float, already: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The orders that have started by ``now`` (id -> start), with ``already`` frozen ones.

    A resource runs its sequence in order, so every order before a started one on its
    resource has started too: the started orders form a prefix of each sequence.
    """
    already = already or {}
    started: dict[str, float] = {}
    for seq in schedule.sequences.values():
        last = -1
        for index, order in enumerate(seq):
            if order in already or start[order] < now:
                last = index
        for order in seq[: last + 1]:
            started[order] = already.get(order, start[order])
    return started
