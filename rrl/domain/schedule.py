"""A schedule: the sequence of orders on each resource. Times are derived, never stored."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

_MASK = (1 << 61) - 1


def _part(resource: str, sequence: tuple[str, ...]) -> int:
    """One resource's share of a schedule's hash (an empty sequence adds nothing)."""
    return hash((resource, sequence)) if sequence else 0


class Schedule:
    """Sequences of order ids per resource; immutable and cheap to copy.

    A derived schedule (:meth:`replace`) shares the unchanged sequences with its parent,
    so an operator that touches two resources costs two tuples, not a deep copy.

    Parameters
    ----------
    sequences : mapping of resource id to sequence of order ids
        Resources with no orders may be left out.
    """

    __slots__ = ("_changed", "_hash", "_parent", "_parts", "_patch", "_sequences", "_where")

    def __init__(self, sequences: Mapping[str, Sequence[str]]) -> None:
        self._sequences: dict[str, tuple[str, ...]] = {r: tuple(s) for r, s in sequences.items()}
        self._where: dict[str, tuple[str, int]] | None = None
        self._hash: int | None = None
        self._parts: dict[str, int] | None = None  # each resource's share of the hash
        self._parent: Schedule | None = None  # where to patch the position index from
        self._changed: tuple[str, ...] = ()  # the resources that differ from the parent
        self._patch: dict[str, tuple[str, int]] | None = None  # positions on them

    @property
    def sequences(self) -> Mapping[str, tuple[str, ...]]:
        """Resource id to the tuple of order ids, in processing order."""
        return self._sequences

    def sequence(self, resource: str) -> tuple[str, ...]:
        """Orders on ``resource`` (empty when it has none)."""
        return self._sequences.get(resource, ())

    @property
    def where(self) -> dict[str, tuple[str, int]]:
        """Order id to ``(resource, position)``; the last place wins if an id repeats."""
        if self._where is None:
            parent = self._parent
            if parent is not None and parent._where is not None:
                where = dict(parent._where)
                for resource, seq in self._sequences.items():
                    if seq is not parent._sequences.get(resource):
                        for index, order in enumerate(seq):
                            where[order] = (resource, index)
                self._where = where
                self._patch = None
            else:
                self._where = {
                    order: (resource, index)
                    for resource, seq in self._sequences.items()
                    for index, order in enumerate(seq)
                }
            self._parent = None
        return self._where

    def locate(self, order: str) -> tuple[str, int]:
        """``where[order]`` without building the whole index for a changed copy: the
        changed resources' positions, else the parent's (re-timing a candidate plan asks
        for a few orders only)."""
        if self._where is not None:
            return self._where[order]
        parent = self._parent
        if parent is None or parent._where is None:
            return self.where[order]
        if self._patch is None:
            self._patch = {o: (r, i) for r in self._changed for i, o in enumerate(self._sequences.get(r, ()))}
        found = self._patch.get(order)
        return found if found is not None else parent._where[order]

    def resource_of(self, order: str) -> str:
        """The resource that runs ``order``."""
        return self.where[order][0]

    def position(self, order: str) -> int:
        """Index of ``order`` in its resource's sequence."""
        return self.where[order][1]

    def predecessor(self, order: str) -> str | None:
        """The order just before ``order`` on its resource, or None."""
        resource, index = self.where[order]
        return self._sequences[resource][index - 1] if index else None

    def orders(self) -> Iterator[str]:
        """Every order id, resource by resource."""
        for seq in self._sequences.values():
            yield from seq

    def __len__(self) -> int:
        return sum(len(seq) for seq in self._sequences.values())

    def __contains__(self, order: object) -> bool:
        return order in self.where

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        mine = {r: s for r, s in self._sequences.items() if s}
        theirs = {r: s for r, s in other._sequences.items() if s}
        return mine == theirs

    def __hash__(self) -> int:
        # Repair searches keep sets of visited schedules: the hash is a sum over resources,
        # so a changed copy corrects its parent's hash for the changed resources alone.
        if self._hash is None:
            self._hash = sum(self.parts().values()) & _MASK
        return self._hash

    def parts(self) -> dict[str, int]:
        """Each resource's share of the hash (computed once)."""
        if self._parts is None:
            self._parts = {r: _part(r, s) for r, s in self._sequences.items()}
        return self._parts

    def __repr__(self) -> str:
        body = ", ".join(f"{r}: {list(s)}" for r, s in self._sequences.items())
        return f"Schedule({{{body}}})"

    def replace(self, changes: Mapping[str, Sequence[str]]) -> Schedule:
        """Return a schedule in which the given resources get new sequences.

        The position index is carried over and patched for the changed resources only.
        """
        child = Schedule.__new__(Schedule)
        sequences = dict(self._sequences)
        for resource, seq in changes.items():
            sequences[resource] = tuple(seq)
        child._sequences = sequences
        child._where = None  # patched from this one's index when first asked for
        child._parent = self if self._where is not None else None
        child._changed = tuple(changes)
        child._patch = None
        child._hash = None
        child._parts = None
        if self._hash is not None:
            parts = self.parts()
            child._hash = (self._hash + sum(_part(r, sequences[r]) - parts.get(r, 0) for r in changes)) & _MASK
        return child

    def to_dict(self) -> dict[str, list[str]]:
        """The schedule as in a scenario file (empty resources left out)."""
        return {r: list(s) for r, s in self._sequences.items() if s}
