"""Prolog terms as small immutable Python values, written back as Prolog text.

The learner manipulates queries symbolically (variables, constants, literals) and only
turns them into Prolog text when it hands a goal to the engine or writes a tree out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_PLAIN_ATOM = re.compile(r"[a-z][A-Za-z0-9_]*\Z")
_SYMBOL_ATOM = re.compile(r"[+\-*/\\^<>=~:.?@#&$]+\Z")
COMPARISONS = frozenset({"<", "=<", ">", ">=", "=:=", "=\\="})


def escape_text(text: str) -> str:
    """``text`` with every character that is not printable (newlines, tabs, other control
    and separator characters, U+2028 ...) written as a Prolog escape ``\\xHEX\\``: the
    result is one line, so it cannot end a ``%`` comment or a quoted atom early."""
    if text.isprintable():  # the common case, at C speed (state texts are long)
        return text
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):x}\\" for ch in text)


def quote_atom(name: str) -> str:
    """Write ``name`` as a Prolog atom, quoting it when the bare form would not read back.

    Quoted atoms escape backslashes, quotes and every character that is not printable,
    so the text is one line whatever ``name`` holds. The atom ``[]`` is quoted too: bare,
    SWI-Prolog 7 reads the empty list, another term."""
    if _PLAIN_ATOM.match(name) or _SYMBOL_ATOM.match(name) or name in ("!", ";"):
        return name
    escaped = escape_text(name.replace("\\", "\\\\").replace("'", "\\'"))
    return f"'{escaped}'"


def unquote_atom(text: str) -> str:
    """The name of an atom written as Prolog text (``'a b'`` -> ``a b``)."""
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return text


def format_number(value: float | int) -> str:
    """Prolog text of a number (integers stay integers; floats always carry a dot)."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        raise ValueError(f"{text} has no Prolog number syntax")
    return text


@dataclass(frozen=True)
class Var:
    """A logical variable; ``name`` is a valid Prolog variable name."""

    name: str

    def render(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    """A constant: ``text`` is its Prolog form, ``value`` the number when it is one."""

    text: str
    value: float | None = None

    def render(self) -> str:
        return self.text


Term = Var | Const


@dataclass(frozen=True)
class Lit:
    """A positive literal ``pred(args...)``; comparisons render infix (``X >= 3``)."""

    pred: str
    args: tuple[Term, ...]

    def render(self) -> str:
        if self.pred in COMPARISONS and len(self.args) == 2:
            return f"{self.args[0].render()} {self.pred} {self.args[1].render()}"
        if not self.args:
            return quote_atom(self.pred)
        inner = ", ".join(a.render() for a in self.args)
        return f"{quote_atom(self.pred)}({inner})"

    def variables(self) -> list[Var]:
        return [a for a in self.args if isinstance(a, Var)]


def conjunction(literals: tuple[Lit, ...] | list[Lit]) -> str:
    """Prolog text of a conjunction (``true`` when empty)."""
    return ", ".join(lit.render() for lit in literals) if literals else "true"


def prolog_string(text: str) -> str:
    """A double-quoted Prolog string literal holding ``text`` (on one line: characters
    that are not printable are escaped as in :func:`quote_atom`)."""
    return '"' + escape_text(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def from_json(node: dict[str, Any]) -> Any:
    """Turn the JSON form written by ``rrl_read_terms`` back into a nested Python value.

    Returns Var, Const, or ``(functor, [args])`` tuples for compound terms.
    """
    if "v" in node:
        return Var(node["v"])
    if "n" in node:
        return Const(format_number(node["n"]), float(node["n"]))
    if "x" in node:  # a float that is not finite, as SWI-Prolog writes it (1.0Inf, -1.0Inf, 1.5NaN)
        text = node["x"]
        return Const(text, float("nan") if "NaN" in text else float("-inf" if text.startswith("-") else "inf"))
    if "e" in node:
        return Const("[]")  # the empty list
    if "a" in node:
        return Const(quote_atom(node["a"]))
    if "s" in node:
        return Const(prolog_string(node["s"]))
    return (node["f"], [from_json(a) for a in node["args"]])
