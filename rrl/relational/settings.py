"""The ``.s`` settings file: types, rmodes, root query and learner parameters.

Read with SWI-Prolog's own reader (so the syntax is exactly Prolog's) and checked here;
every problem is a :class:`~rrl.errors.SettingsError` naming the file and the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rrl.errors import SettingsError
from rrl.relational.engine import read_terms
from rrl.relational.terms import COMPARISONS, Const, Lit, Var, from_json

MODES = ("+", "-", "+-", "#")
DIRECTIVES = ("type/1, rmode/1, root/1, minimal_cases/1, max_depth/1, significance/1, prune/1, "
              "heuristic/1, classes/1, tilde_mode/1, discrete/1, discretization/1")
HEURISTICS = ("gainratio", "gain")


@dataclass(frozen=True)
class ModeArg:
    """One argument of an rmode literal: a mode (``+ - +- #``) with an optional variable
    name linking arguments of a conjunction, a bare variable (``kind == "ref"``) naming an
    argument earlier in the rmode, or a fixed constant (``kind == "const"``)."""

    kind: str
    name: str | None = None
    const: Const | None = None


@dataclass(frozen=True)
class ModeLit:
    """A literal of an rmode; ``pred`` may be a comparison (``<``, ``>=``, ...)."""

    pred: str
    args: tuple[ModeArg, ...]

    @property
    def is_comparison(self) -> bool:
        return self.pred in COMPARISONS and len(self.args) == 2


@dataclass(frozen=True)
class RMode:
    """An rmode: literals added together in one refinement, at most ``limit`` times a path."""

    literals: tuple[ModeLit, ...]
    limit: int | None
    line: int


@dataclass
class Settings:
    """The language bias and parameters of a tree learner (see docs/tilde.md)."""

    types: dict[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)
    rmodes: list[RMode] = field(default_factory=list)
    root: tuple[Lit, ...] = ()
    root_types: dict[str, str] = field(default_factory=dict)
    minimal_cases: int | None = None
    max_depth: int | None = None
    significance: float | None = None
    prune: bool | None = None
    heuristic: str | None = None
    classes: tuple[Const, ...] | None = None
    mode: str | None = None
    n_thresholds: int | None = None
    discrete: frozenset[str] = frozenset()
    source: str = "<settings>"

    @property
    def classify(self) -> bool | None:
        """True when the file asks for classification (``classes/1`` or
        ``tilde_mode(classify)``), False for ``tilde_mode(regression)``, else None."""
        if self.mode is not None:
            return self.mode == "classify"
        return True if self.classes is not None else None


def _literals(term: Any) -> list[Any]:
    """Flatten a conjunction ``(A, B, ...)`` into its parts."""
    if isinstance(term, tuple) and term[0] == "," and len(term[1]) == 2:
        return _literals(term[1][0]) + _literals(term[1][1])
    return [term]


def _list_items(term: Any) -> list[Any] | None:
    """The elements of a Prolog list term, or None when ``term`` is not a proper list."""
    items = []
    while isinstance(term, tuple) and term[0] == "[|]" and len(term[1]) == 2:
        items.append(term[1][0])
        term = term[1][1]
    return items if isinstance(term, Const) and term.text == "[]" else None


def _name_args(term: Any, where: str) -> tuple[str, list[Any]]:
    if isinstance(term, Const) and term.value is None and not term.text.startswith('"'):
        return term.text.strip("'"), []
    if isinstance(term, tuple):
        return term[0], term[1]
    raise ValueError(f"{where} is not a literal")


def _mode_arg(arg: Any) -> ModeArg:
    if isinstance(arg, Const) and arg.text in MODES:
        return ModeArg(arg.text)
    if isinstance(arg, tuple) and arg[0] in MODES and len(arg[1]) == 1 and isinstance(arg[1][0], Var):
        return ModeArg(arg[0], name=arg[1][0].name)
    if isinstance(arg, Var):  # ACE style: a bare X names a variable of an earlier argument
        return ModeArg("ref", name=arg.name)
    if isinstance(arg, Const):
        return ModeArg("const", const=arg)
    raise ValueError("an rmode argument must be +, -, +-, # (optionally followed by a variable name) or a constant")


class _Reader:
    def __init__(self, source: str) -> None:
        self.settings = Settings(source=source)
        self.source = source

    def fail(self, line: int | None, problem: str) -> SettingsError:
        return SettingsError(self.source, line, problem)

    def directive(self, line: int, term: Any) -> None:
        name, args = term if isinstance(term, tuple) else (getattr(term, "text", "?"), [])
        handler = getattr(self, f"_d_{name}_{len(args)}", None)
        if handler is None:
            raise self.fail(line, f"unknown directive {name}/{len(args)} (expected one of {DIRECTIVES})")
        try:
            handler(line, *args)
        except ValueError as error:
            raise self.fail(line, str(error)) from None

    def _d_type_1(self, line: int, decl: Any) -> None:
        pred, args = _name_args(decl, "type/1 argument")
        if not all(isinstance(a, Const) and a.value is None for a in args):
            raise ValueError(f"type({pred}/{len(args)}): every argument must be a type name (an atom)")
        self.settings.types[(pred, len(args))] = tuple(a.text for a in args)

    def _d_rmode_1(self, line: int, decl: Any) -> None:
        limit = None
        if (isinstance(decl, tuple) and decl[0] in COMPARISONS and len(decl[1]) == 2
                and isinstance(decl[1][0], tuple) and decl[1][0][0] == ":"):
            # "N: +X >= #" reads as "(N: +X) >= #" (':' binds tighter): regroup it
            count, left = decl[1][0][1]
            decl = (":", [count, (decl[0], [left, decl[1][1]])])
        if isinstance(decl, tuple) and decl[0] == ":" and len(decl[1]) == 2:
            count, decl = decl[1]
            if not (isinstance(count, Const) and count.value is not None and count.value == int(count.value) and count.value > 0):
                raise ValueError("rmode(N: Literal) needs a positive integer N")
            limit = int(count.value)
        literals = []
        for part in _literals(decl):
            pred, args = _name_args(part, "rmode/1 argument")
            literals.append(ModeLit(pred, tuple(_mode_arg(a) for a in args)))
        self.settings.rmodes.append(RMode(tuple(literals), limit, line))

    def _d_root_1(self, line: int, conj: Any) -> None:
        literals = []
        for part in _literals(conj):
            if isinstance(part, Const) and part.text == "true":
                continue
            pred, args = _name_args(part, "root/1 argument")
            if any(isinstance(a, tuple) for a in args):
                raise ValueError(f"root literal {pred}/{len(args)}: arguments must be variables or constants")
            literals.append(Lit(pred, tuple(args)))
        self.settings.root = tuple(literals)
        self._root_line = line

    def _number(self, value: Any, what: str) -> float:
        if not (isinstance(value, Const) and value.value is not None):
            raise ValueError(f"{what} needs a number")
        return value.value

    def _d_minimal_cases_1(self, line: int, value: Any) -> None:
        number = self._number(value, "minimal_cases/1")
        if number != int(number) or number < 1:
            raise ValueError("minimal_cases/1 needs an integer >= 1")
        self.settings.minimal_cases = int(number)

    def _d_max_depth_1(self, line: int, value: Any) -> None:
        number = self._number(value, "max_depth/1")
        if number != int(number) or number < 0:
            raise ValueError("max_depth/1 needs an integer >= 0")
        self.settings.max_depth = int(number)

    def _d_significance_1(self, line: int, value: Any) -> None:
        number = self._number(value, "significance/1")
        if not 0 < number <= 1:
            raise ValueError("significance/1 needs a level above 0 and at most 1 (1 turns the test off)")
        self.settings.significance = number

    def _atom(self, value: Any, what: str, allowed: tuple[str, ...]) -> str:
        text = value.text if isinstance(value, Const) and value.value is None else None
        if text not in allowed:
            raise ValueError(f"{what} needs one of {', '.join(allowed)}")
        assert text is not None
        return text

    def _d_prune_1(self, line: int, value: Any) -> None:
        self.settings.prune = self._atom(value, "prune/1", ("true", "false")) == "true"

    def _d_heuristic_1(self, line: int, value: Any) -> None:
        self.settings.heuristic = self._atom(value, "heuristic/1", HEURISTICS)

    def _d_tilde_mode_1(self, line: int, value: Any) -> None:
        self.settings.mode = self._atom(value, "tilde_mode/1", ("classify", "regression"))

    def _d_classes_1(self, line: int, value: Any) -> None:
        items = _list_items(value)
        if items is None or not items or not all(isinstance(c, Const) for c in items):
            raise ValueError("classes/1 needs a non-empty list of atoms or numbers, e.g. classes([pos, neg])")
        texts = [c.text for c in items]
        if len(set(texts)) != len(texts):
            raise ValueError("classes/1 lists a class twice")
        self.settings.classes = tuple(items)

    def _d_discrete_1(self, line: int, value: Any) -> None:
        if not (isinstance(value, Const) and value.value is None):
            raise ValueError("discrete/1 needs a type name (an atom)")
        self.settings.discrete = self.settings.discrete | {value.text}

    def _d_discretization_1(self, line: int, value: Any) -> None:
        # ACE's discretization(bounds(N)): at most N thresholds per numeric variable
        if not (isinstance(value, tuple) and value[0] == "bounds" and len(value[1]) == 1):
            raise ValueError("discretization/1 needs bounds(N), N a positive integer")
        number = self._number(value[1][0], "discretization(bounds(N))")
        if number != int(number) or number < 1:
            raise ValueError("discretization(bounds(N)) needs an integer N >= 1")
        self.settings.n_thresholds = int(number)

    def check(self) -> None:
        """Types exist for every literal the language uses; no variable has two types."""
        types = self.settings.types
        for rmode in self.settings.rmodes:
            seen: dict[str, str | None] = {}  # variable -> type (None: only compared so far)
            for lit in rmode.literals:
                decl: tuple[str, ...] | None = None
                if lit.is_comparison:
                    if not all(a.kind in ("+", "#", "ref") for a in lit.args) or all(a.kind == "#" for a in lit.args):
                        raise self.fail(rmode.line, f"comparison {lit.pred}: arguments must be +Var, an earlier variable or #, not only #")
                else:
                    decl = types.get((lit.pred, len(lit.args)))
                    if decl is None:
                        raise self.fail(rmode.line, f"rmode uses {lit.pred}/{len(lit.args)}, which has no type/1 declaration")
                for position, arg in enumerate(lit.args):
                    if arg.kind == "ref" and arg.name not in seen:
                        raise self.fail(rmode.line, f"variable {arg.name} in rmode has no mode and no earlier +{arg.name}/-{arg.name}")
                    if arg.name is None:
                        continue
                    typ, known = (None if decl is None else decl[position]), seen.get(arg.name)
                    if typ is not None and known is not None and known != typ:
                        raise self.fail(rmode.line, f"type clash: variable {arg.name} is used as {known} and as {typ}")
                    seen[arg.name] = known or typ
        root_types: dict[str, str] = {}
        for root_lit in self.settings.root:
            if root_lit.pred in COMPARISONS and len(root_lit.args) == 2:
                continue
            decl = types.get((root_lit.pred, len(root_lit.args)))
            if decl is None:
                raise self.fail(self._root_line, f"root uses {root_lit.pred}/{len(root_lit.args)}, which has no type/1 declaration")
            for root_arg, typ in zip(root_lit.args, decl, strict=True):
                if not isinstance(root_arg, Var) or root_arg.name == "_":
                    continue  # "_" is anonymous: a fresh variable at each occurrence
                if root_types.setdefault(root_arg.name, typ) != typ:
                    raise self.fail(self._root_line, f"type clash: variable {root_arg.name} is used as {root_types[root_arg.name]} and as {typ}")
        self.settings.root_types = root_types


def read_settings(path: str | Path) -> Settings:
    """Read and check a settings file.

    Raises:
        SettingsError: missing file, syntax error, unknown directive, rmode or root on an
            undeclared predicate, type clash, bad parameter value.
    """
    source = str(path)
    if not Path(path).is_file():
        raise SettingsError(source, None, "no such file")
    reader = _Reader(source)
    for item in read_terms(path, "tree"):
        if "error" in item:
            raise SettingsError(source, item["line"] or None, item["error"])
        reader.directive(item["line"], from_json(item["term"]))
    reader.check()
    return reader.settings
