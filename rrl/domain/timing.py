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

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import CycleError


@dataclass(frozen=True, slots=True)
class Timetable:
    """Start, end and cleanout (setup) hours of every scheduled order."""

    start: dict[str, float]
    end: dict[str, float]
    setup: dict[str, float]


def compute_times(problem: Problem, schedule: Schedule) -> Timetable:
    """Times of every order of ``schedule``.

    Raises
    ------
    CycleError
        When resource sequences and ``after`` constraints form a cycle.
    """
    times = Timetable({}, {}, {})
    _time_orders(problem, schedule, list(schedule.orders()), times)
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
    seeds: list[str] = []
    for resource in changed:
        old_seq = old_schedule.sequence(resource)
        new_seq = new_schedule.sequence(resource)
        first = next(
            (i for i, (a, b) in enumerate(zip(old_seq, new_seq, strict=False)) if a != b),
            min(len(old_seq), len(new_seq)),
        )
        seeds.extend(new_seq[first:])
    affected = _descendants(problem, new_schedule, seeds)
    times = Timetable(dict(old_times.start), dict(old_times.end), dict(old_times.setup))
    _time_orders(problem, new_schedule, affected, times)
    return times


def _descendants(problem: Problem, schedule: Schedule, seeds: list[str]) -> list[str]:
    """``seeds`` and every order reachable from them (next on resource, dependents)."""
    sequences = schedule.sequences
    where = schedule.where
    dependents = problem.dependents
    seen = set(seeds)
    stack = list(seeds)
    while stack:
        order = stack.pop()
        resource, index = where[order]
        seq = sequences[resource]
        successors = list(dependents.get(order, ()))
        if index + 1 < len(seq):
            successors.append(seq[index + 1])
        for nxt in successors:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return list(seen)


def _time_orders(problem: Problem, schedule: Schedule, todo: list[str], times: Timetable) -> None:
    """Compute times of the orders in ``todo`` in topological order, writing into ``times``.

    Orders outside ``todo`` are inputs: their times in ``times`` are taken as they are.
    """
    orders = problem.orders
    durations = problem.durations
    dependents = problem.dependents
    plant = problem.plant
    resources = plant.resources
    setup_of = plant.setup
    sequences = schedule.sequences
    where = schedule.where
    now = problem.now
    frozen = problem.frozen
    start, end, setup = times.start, times.end, times.setup

    pending = set(todo)
    waiting: dict[str, int] = {}
    ready: deque[str] = deque()
    for order in todo:
        resource, index = where[order]
        count = 1 if index and sequences[resource][index - 1] in pending else 0
        for before in orders[order].after:
            if before in pending:
                count += 1
        if count:
            waiting[order] = count
        else:
            ready.append(order)

    done = 0
    while ready:
        order = ready.popleft()
        done += 1
        spec = orders[order]
        resource, index = where[order]
        seq = sequences[resource]
        if index:
            previous = seq[index - 1]
            ready_at = end[previous]
            gap = setup_of(orders[previous].product, spec.product)
        else:
            ready_at = 0.0
            gap = setup_of(resources[resource].initial_product, spec.product)
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
            windows = resources[resource].downtime
            if windows:
                t = clear_downtime(t, gap, dur, windows)
        start[order] = t
        end[order] = t + dur
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
    if done < len(pending):
        raise CycleError(sorted(waiting))


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
