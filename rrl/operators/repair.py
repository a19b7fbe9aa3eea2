"""Repair operators (DESIGN section 5): moves of a focal task F relative to a task U.

``{left, right} x {swap, move, jump} x {same resource, alternative resource}``:

- ``move``: F one position earlier (left) or later (right) on its resource; ``alt``: F onto
  an alternative eligible resource, next to the task running there at F's start time
  (the *anchor*: the last task starting at or before F's start): before it (left) or
  after it (right). With no anchor, F goes first (left only).
- ``swap``: F and U exchange places. Same resource: U before F (left) or after F (right)
  in sequence. Alternative resource (both must be eligible on the other's resource): U
  starting no later than F (left) or later than F (right).
- ``jump``: F is taken out and put right before U (left, U earlier than F) or right after
  U (right, U later than F); U on F's resource (order in sequence) or on an alternative
  one (order in start time).

An action is applicable when F is not frozen, U is not moved if it is frozen (F may be
placed right after a started task), nothing is placed inside a frozen prefix, every order stays on a resource that can run it, the schedule changes,
and no precedence cycle appears. Applying returns a new :class:`Plan`, re-timed from the
first changed position only.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from rrl.domain.plan import Plan
from rrl.errors import CycleError, NotApplicable

KINDS = ("swap", "move", "jump")
SIDES = ("left", "right")
#: The twelve operators, e.g. ``left_swap`` (same resource) and ``left_swap_alt``.
OPERATORS: tuple[str, ...] = tuple(
    f"{side}_{kind}{suffix}" for suffix in ("", "_alt") for kind in KINDS for side in SIDES
)

Changes = dict[str, tuple[str, ...]]
#: Side, kind and whether F changes resource, of each operator (read once per action).
_PARTS: dict[str, tuple[str, str, bool]] = {
    op: (op.split("_")[0], op.split("_")[1], op.endswith("_alt")) for op in OPERATORS
}


@dataclass(frozen=True, slots=True)
class Action:
    """A ground repair action.

    Parameters
    ----------
    operator : str
        One of :data:`OPERATORS`.
    focal : str
        The focal task F.
    other : str or None
        The second task U (for moves: the neighbour or anchor; None when there is none).
    resource : str
        The resource F ends up on.
    """

    operator: str
    focal: str
    other: str | None
    resource: str

    @property
    def side(self) -> str:
        """``left`` or ``right``."""
        return self.operator.split("_")[0]

    @property
    def kind(self) -> str:
        """``swap``, ``move`` or ``jump``."""
        return self.operator.split("_")[1]

    @property
    def alternative(self) -> bool:
        """True when F changes resource."""
        return self.operator.endswith("_alt")

    def __str__(self) -> str:
        other = self.other if self.other is not None else self.resource
        return f"{self.operator}({self.focal}, {other})"


def applicable_actions(plan: Plan, focal: str) -> list[Action]:
    """Every applicable ground action for ``focal``, in a fixed order."""
    return [action for action, _ in successors(plan, focal)]


def successors(plan: Plan, focal: str) -> Iterator[tuple[Action, Plan]]:
    """Each applicable action for ``focal`` with the plan it leads to."""
    for action, _, after in steps(plan, focal):
        yield action, after


def steps(plan: Plan, focal: str, operators: AbstractSet[str] | None = None,
          reach: int | None = None) -> Iterator[tuple[Action, Changes, Plan]]:
    """Each applicable action for ``focal`` (of ``operators`` only, when given; with
    partners within ``reach`` places, when given) with the sequences it changes and the
    plan it leads to."""
    for action, changes in proposals(plan, focal, operators, reach):
        after = timed_or_none(plan, changes)
        if after is not None:
            yield action, changes, after


def proposals(plan: Plan, focal: str, operators: AbstractSet[str] | None = None,
              reach: int | None = None) -> Iterator[tuple[Action, Changes]]:
    """As :func:`steps`, before re-timing: each action that :func:`changes_of` accepts,
    with the sequences it changes. Re-timing (:func:`timed`) may still find a cycle."""
    for action in _enumerate(plan, focal, reach):
        if operators is not None and action.operator not in operators:
            continue
        try:
            yield action, changes_of(plan, action)
        except NotApplicable:
            continue


def applicable_operators(plan: Plan, focal: str, operators: AbstractSet[str] | None = None,
                         reach: int | None = None) -> set[str]:
    """The operators of :func:`proposals`' actions: each checked until one of its actions
    applies (a focus's facts name them; its steps need not all be built for that)."""
    found: set[str] = set()
    for action in _enumerate(plan, focal, reach):
        if action.operator in found or (operators is not None and action.operator not in operators):
            continue
        try:
            changes_of(plan, action)
        except NotApplicable:
            continue
        found.add(action.operator)
    return found


def timed(plan: Plan, changes: Changes) -> Plan:
    """The plan with ``changes`` applied, re-timed from the first changed positions.

    Raises
    ------
    CycleError
        When the changes close a precedence cycle.
    """
    return plan.with_schedule(plan.schedule.replace(changes), changes)


def timed_or_none(plan: Plan, changes: Changes) -> Plan | None:
    """:func:`timed`, or None where the changes close a precedence cycle."""
    try:
        return timed(plan, changes)
    except CycleError:
        return None


def apply(plan: Plan, action: Action) -> Plan:
    """The plan after ``action``.

    Raises
    ------
    NotApplicable
        With the reason, when the action cannot be applied to ``plan``.
    """
    changes = changes_of(plan, action)
    try:
        return timed(plan, changes)
    except CycleError as error:
        raise NotApplicable(f"{action}: it would close a {error}") from None


def changes_of(plan: Plan, action: Action) -> Changes:
    """The new sequences of the resources that ``action`` changes.

    This is the single definition of what each operator does and when it applies
    (cycles aside, which only re-timing can see).

    Raises
    ------
    NotApplicable
        With the reason.
    """
    # (the search calls this for every candidate step: the checks read each table once)
    problem = plan.problem
    schedule = plan.schedule
    where = schedule.where
    frozen = problem.frozen
    focal, other, target = action.focal, action.other, action.resource

    def refuse(reason: str) -> NotApplicable:
        return NotApplicable(f"{action}: {reason}")

    parts = _PARTS.get(action.operator)
    if parts is None:
        raise refuse(f"unknown operator (expected one of {', '.join(OPERATORS)})")
    place = where.get(focal)
    if place is None:
        raise refuse(f"{focal} is not scheduled")
    if focal in frozen:
        raise refuse(f"{focal} has started (frozen)")
    if other is not None:
        if other not in where:
            raise refuse(f"{other} is not scheduled")
        # Placing F right after a started task leaves that task alone; anything else
        # (a swap, a place before it, a same-resource move) would move it.
        if other in frozen and action.operator not in ("right_move_alt", "right_jump_alt"):
            raise refuse(f"{other} has started (frozen)")
    if target not in problem.durations[focal]:
        raise refuse(f"{focal} cannot run on {target}")
    resource, i = place
    seq = schedule.sequence(resource)
    side, kind, alternative = parts
    left = side == "left"

    if not alternative:
        if target != resource:
            raise refuse(f"a same-resource operator keeps {focal} on {resource}")
        floor = plan.frozen_prefix(resource)
        if kind == "move":
            k = i - 1 if left else i + 1
            if not floor <= k < len(seq):
                raise refuse(f"{focal} is already {'first' if left else 'last'} it can be on {resource}")
            if other is not None and other != seq[k]:
                raise refuse(f"{other} is not next to {focal}")
            return {resource: _swapped(seq, k, i)}
        if other is None or where[other][0] != resource:
            raise refuse(f"the other task must be on {resource}")
        k = where[other][1]
        if (k < i) != left or k == i:
            raise refuse(f"{other} is not {'before' if left else 'after'} {focal} on {resource}")
        if kind == "swap":
            return {resource: _swapped(seq, k, i)}
        # Without F, U keeps index k when it was before F (F goes right before it) and
        # drops to k - 1 when it was after F (F goes right after it): both insert at k.
        rest = seq[:i] + seq[i + 1 :]
        return {resource: rest[:k] + (focal,) + rest[k:]}

    if target == resource:
        raise refuse(f"an alternative-resource operator moves {focal} off {resource}")
    start = plan.times.start
    f_start = start[focal]
    other_seq = schedule.sequence(target)
    floor = plan.frozen_prefix(target)
    rest = seq[:i] + seq[i + 1 :]
    if kind == "move":
        anchor = _anchor(other_seq, start, f_start)
        if anchor < 0:
            if not left:
                raise refuse(f"no task on {target} runs at {focal}'s start")
            k = 0
        else:
            k = anchor if left else anchor + 1
        expected = other_seq[anchor] if anchor >= 0 else (other_seq[0] if other_seq else None)
        if other is not None and other != expected:
            raise refuse(f"the task running on {target} at {focal}'s start is {expected}")
        if k < floor:
            raise refuse(f"the place is inside the started part of {target}")
        return {resource: rest, target: other_seq[:k] + (focal,) + other_seq[k:]}
    if other is None or where[other][0] != target:
        raise refuse(f"the other task must be on {target}")
    k = where[other][1]
    if (start[other] <= f_start) != left:
        raise refuse(f"{other} does not start {'before' if left else 'after'} {focal}")
    if kind == "swap":
        if resource not in problem.durations[other]:
            raise refuse(f"{other} cannot run on {resource}")
        return {
            resource: seq[:i] + (other,) + seq[i + 1 :],
            target: other_seq[:k] + (focal,) + other_seq[k + 1 :],
        }
    at = k if left else k + 1
    if at < floor:
        raise refuse(f"the place is inside the started part of {target}")
    return {resource: rest, target: other_seq[:at] + (focal,) + other_seq[at:]}


def _enumerate(plan: Plan, focal: str, reach: int | None = None) -> Iterator[Action]:
    """Candidate actions for ``focal`` (a superset; :func:`changes_of` decides); with
    ``reach``, swaps and jumps only with tasks at most that many places from F on its
    resource, or from the task running at F's start on another one."""
    schedule = plan.schedule
    if focal not in schedule.where or focal in plan.problem.frozen:
        return
    resource, i = schedule.where[focal]
    seq = schedule.sequence(resource)
    if i > 0:
        yield Action("left_move", focal, seq[i - 1], resource)
    if i + 1 < len(seq):
        yield Action("right_move", focal, seq[i + 1], resource)
    near = len(seq) if reach is None else reach
    for k, other in enumerate(seq):
        if k != i and abs(k - i) <= near:
            yield Action("left_swap" if k < i else "right_swap", focal, other, resource)
    for k, other in enumerate(seq):
        if (k < i - 1 or k > i + 1) and abs(k - i) <= near:  # next to F, a jump is the move itself
            yield Action("left_jump" if k < i else "right_jump", focal, other, resource)
    start = plan.times.start
    f_start = start[focal]
    for target in plan.problem.durations[focal]:
        if target == resource:
            continue
        other_seq = schedule.sequence(target)
        anchor = _anchor(other_seq, start, f_start)
        first = other_seq[anchor] if anchor >= 0 else (other_seq[0] if other_seq else None)
        yield Action("left_move_alt", focal, first, target)
        if anchor >= 0:
            yield Action("right_move_alt", focal, first, target)
        near = len(other_seq) if reach is None else reach
        for k, other in enumerate(other_seq):
            if abs(k - anchor) <= near:
                side = "left" if start[other] <= f_start else "right"
                yield Action(f"{side}_swap_alt", focal, other, target)
        for k, other in enumerate(other_seq):
            if k == anchor or abs(k - anchor) > near:  # a jump before the anchor is the left move itself
                continue
            side = "left" if start[other] <= f_start else "right"
            yield Action(f"{side}_jump_alt", focal, other, target)


def _anchor(seq: tuple[str, ...], start: dict[str, float], at: float) -> int:
    """Index of the last task of ``seq`` starting at or before ``at`` (-1 if none)."""
    anchor = -1
    for k, order in enumerate(seq):
        if start[order] > at:
            break
        anchor = k
    return anchor


def _swapped(seq: tuple[str, ...], a: int, b: int) -> tuple[str, ...]:
    items = list(seq)
    items[a], items[b] = items[b], items[a]
    return tuple(items)
