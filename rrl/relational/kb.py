"""Examples for the tree learners, and the ``.kb`` knowledge-base format.

An example is one interpretation: a list of ground facts written as Prolog text plus
the value to predict: a number (regression) or a class, an atom (classification).  Scheduling code builds :class:`Example` objects directly (one per
state-action pair); ``rrl tilde`` reads them from a ``.kb`` file::

    begin(model(m1)).
    focal(t2).
    task(t1, r1, 0, 30.5).
    target(4.2).
    end(model(m1)).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from rrl.errors import SettingsError
from rrl.relational.engine import read_terms
from rrl.relational.terms import unquote_atom

_BEGIN = re.compile(r"begin\(model\((.*)\)\)\Z", re.S)
_END = re.compile(r"end\(model\((.*)\)\)\Z", re.S)
_TARGET = re.compile(r"target\((.*)\)\Z", re.S)
_ATOM = re.compile(r"[a-z][A-Za-z0-9_]*\Z|'(?:[^'\\]|\\.)*'\Z", re.S)


@dataclass
class Example:
    """One interpretation.

    Attributes:
        id: name of the example (the model id of a ``.kb`` block).
        facts: ground facts as Prolog text, e.g. ``"task(t1, r1, 0, 30.5)"``.
        target: the value to predict: a number, or a class name (a Prolog atom, as
            ``str``) for classification; None when unknown, e.g. at prediction time.
        source, line: where the example was read from (its ``begin`` line), for errors.
        fact_lines: the line of each fact in ``source`` (``read_kb`` fills it), so that a
            problem with one fact names its own line.
    """

    id: str
    facts: list[str] = field(default_factory=list)
    target: float | str | None = None
    source: str = "<examples>"
    line: int | None = None
    fact_lines: list[int] | None = None


def _target(text: str, source: str, line: int) -> float | str:
    """The value of ``target(text)``: a finite number, or a class name (an atom)."""
    try:
        value = float(text)
    except ValueError:
        if _ATOM.match(text) is None:
            raise SettingsError(source, line, f"target({text}) is neither a number nor an atom (a class)") from None
        return unquote_atom(text)
    if not math.isfinite(value):  # float() also reads inf, nan, infinity
        raise SettingsError(source, line, f"target({text}) is not a finite number")
    return value


def read_kb(path: str | Path, require_target: bool = True) -> list[Example]:
    """Read a ``.kb`` file.

    Args:
        path: the file.
        require_target: every block must hold exactly one target/1 (else at most one).

    Returns:
        The examples in file order.

    Raises:
        SettingsError: missing file, syntax error, non-ground fact, a fact outside a
            block, unbalanced begin/end, a block without exactly one target, a target
            that is neither a number nor an atom, or one that is not finite (inf, nan;
            also as atoms, which would be ambiguous class names).
    """
    source = str(path)
    if not Path(path).is_file():
        raise SettingsError(source, None, "no such file")
    examples: list[Example] = []
    current: Example | None = None
    targets = 0
    opened: dict[str, int] = {}  # model id -> the line of its block (predictions are keyed by id)
    for item in read_terms(path, "text"):
        line = item["line"]
        if "error" in item:
            raise SettingsError(source, line or None, item["error"])
        text = item["text"]
        if (match := _BEGIN.match(text)) is not None:
            if current is not None:
                raise SettingsError(source, line, f"begin(model({match[1]})) inside model {current.id} (missing end)")
            current, targets = Example(unquote_atom(match[1]), source=source, line=line, fact_lines=[]), 0
            if current.id in opened:
                raise SettingsError(source, line, f"model {match[1]} is given twice (first at line {opened[current.id]})")
            opened[current.id] = line
        elif (match := _END.match(text)) is not None:
            if current is None or unquote_atom(match[1]) != current.id:
                expected = "no open model" if current is None else f"end(model({current.id}))"
                raise SettingsError(source, line, f"end(model({match[1]})) does not close a block ({expected})")
            if targets > 1 or (require_target and targets != 1):
                raise SettingsError(source, current.line, f"model {current.id} has {targets} target/1 facts, expected exactly one")
            examples.append(current)
            current = None
        elif current is None:
            raise SettingsError(source, line, f"fact {text} is outside a begin(model(_))/end(model(_)) block")
        elif not item["ground"]:
            raise SettingsError(source, line, f"fact {text} is not ground")
        elif (match := _TARGET.match(text)) is not None:
            targets += 1
            current.target = _target(match[1], source, line)
        else:
            current.facts.append(text)
            assert current.fact_lines is not None
            current.fact_lines.append(line)
    if current is not None:
        raise SettingsError(source, current.line, f"model {current.id} is never closed by end(model({current.id}))")
    return examples


def write_kb(examples: list[Example], path: str | Path) -> None:
    """Write examples as a ``.kb`` file (ids are quoted as Prolog atoms when needed)."""
    from rrl.relational.terms import format_number, quote_atom

    lines = []
    for example in examples:
        key = quote_atom(example.id)
        lines.append(f"begin(model({key})).")
        lines.extend(f"{fact}." for fact in example.facts)
        if isinstance(example.target, str):
            lines.append(f"target({quote_atom(example.target)}).")
        elif example.target is not None:
            lines.append(f"target({format_number(float(example.target))}).")
        lines.append(f"end(model({key})).")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
