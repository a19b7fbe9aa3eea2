"""Class labels of a classification task: as Python values and as Prolog text.

A class is a Prolog atom (``active``; a ``str`` in Python) or a number (``1``, when the
settings declare numeric classes with ``classes([1, 0])``).  The learners work with class
indices; this module maps targets to indices and indices back to labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rrl.errors import RRLError
from rrl.relational.terms import Const, format_number, quote_atom, unquote_atom

Label = str | int | float


def _key(target: object) -> tuple[int, object]:
    """Numbers compare by value (1 and 1.0 are one class), atoms by name; numbers first."""
    if isinstance(target, str):
        return (1, target)
    return (0, float(target))  # type: ignore[arg-type]


def _label(key: tuple[int, object]) -> Label:
    kind, value = key
    if kind == 1:
        return str(value)
    number = float(value)  # type: ignore[arg-type]
    return int(number) if number.is_integer() else number


class UnknownClass(RRLError):
    """A target that is none of the task's classes (``position``: its index)."""

    def __init__(self, position: int, message: str) -> None:
        self.position = position
        super().__init__(message)


@dataclass(frozen=True)
class ClassLabels:
    """The classes of a task, in a fixed order (declared, else sorted).

    Attributes:
        values: the classes as Python values (``str`` for atoms, ``int``/``float``).
        texts: the classes as Prolog text (quoted atoms, numbers).
    """

    values: tuple[Label, ...]
    texts: tuple[str, ...]

    @classmethod
    def of(cls, targets: Sequence[object], declared: Sequence[Const] | None = None) -> ClassLabels:
        """The classes of ``targets``: the ``declared`` ones (settings ``classes/1``) in
        their order, else every class seen, numbers first, then atoms by name."""
        if declared:
            keys: list[tuple[int, object]] = [(0, c.value) if c.value is not None else (1, unquote_atom(c.text))
                                              for c in declared]
        else:
            keys = sorted({_key(t) for t in targets}, key=lambda k: (k[0], str(k[1]) if k[0] else float(k[1])))  # type: ignore[arg-type]
        values = tuple(_label(k) for k in keys)
        texts = tuple(quote_atom(v) if isinstance(v, str) else format_number(v) for v in values)
        return cls(values, texts)

    def index(self, targets: Sequence[object]) -> list[int]:
        """The class index of each target.

        Raises:
            UnknownClass: a target is none of the classes (``position`` says which).
        """
        where = {_key(v): i for i, v in enumerate(self.values)}
        out = []
        for position, target in enumerate(targets):
            index = where.get(_key(target))
            if index is None:
                raise UnknownClass(position, f"target {target!r} is none of the classes {', '.join(self.texts)}")
            out.append(index)
        return out

    def __len__(self) -> int:
        return len(self.values)
