"""The refinement operator: which literals may be added to a query, under the rmodes.

A query is the conjunction on the path from the root to a node.  A refinement adds the
literals of one rmode (several at once for a conjunction rmode: lookahead), with every
``+`` argument bound to an existing variable of the declared type, every ``-`` argument a
new variable, ``+-`` either, and ``#`` a constant taken from the data (see
:mod:`rrl.relational.constants`).  Refinements equivalent under theta-subsumption to the
query itself (an existing literal again, or one that only adds fresh variables where an
existing literal already has terms) are left out: they cannot split any node.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from rrl.relational.constants import Constants
from rrl.relational.settings import ModeArg, ModeLit, RMode, Settings
from rrl.relational.terms import COMPARISONS, Lit, Term, Var, conjunction


@dataclass(frozen=True)
class Query:
    """A conjunction with the types of its variables and how often each rmode was used."""

    literals: tuple[Lit, ...]
    var_types: tuple[tuple[str, str], ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Refinement:
    """Literals to add to a query, the variables they introduce, and their rmode."""

    literals: tuple[Lit, ...]
    new_vars: tuple[tuple[str, str], ...]
    rmode: int

    def apply(self, query: Query) -> Query:
        counts = list(query.counts)
        counts[self.rmode] += 1
        return Query(query.literals + self.literals, query.var_types + self.new_vars, tuple(counts))


def test_goal(query: Query, refinement: Refinement) -> tuple[Lit, ...]:
    """The literals that decide whether an example *that satisfies* ``query`` also
    satisfies the refined query: the query literals linked to the refinement's literals
    through shared variables (in query order), then the refinement's.  The other literals
    of the query share no variable with these, so they hold for every example at the node
    whatever the refinement binds, and Prolog need not search through their solutions
    again when the refinement fails (with several existential literals in a query that
    search multiplies: it is what ACE's query packs and once/1 calls avoid).

    Only valid on examples that satisfy ``query``: every example at a tree node does.
    """
    return _linked(query, refinement) + refinement.literals


def pack_test(query: Query, refinement: Refinement) -> tuple[str, str]:
    """:func:`test_goal` as Prolog text in two parts, (the query's linked literals, the
    refinement's): the refinements of one query that share the first part are evaluated
    as one query pack (:meth:`World.evaluate <rrl.relational.engine.World.evaluate>`)."""
    return conjunction(_linked(query, refinement)), conjunction(refinement.literals)


def _linked(query: Query, refinement: Refinement) -> tuple[Lit, ...]:
    """The literals of ``query`` linked to ``refinement``'s through shared variables."""
    component_of, members = _components(query)
    linked: set[int] = set()
    for lit in refinement.literals:
        for var in lit.variables():
            if var.name in component_of:
                linked.add(component_of[var.name])
    kept = sorted(i for c in linked for i in members[c])
    return tuple(query.literals[i] for i in kept)


@lru_cache(maxsize=4096)
def _components(query: Query) -> tuple[dict[str, int], list[tuple[int, ...]]]:
    """The query's literals grouped by shared variables (``_`` links nothing): the
    group of each variable, and the literal indices of each group."""
    parent = list(range(len(query.literals)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, lit in enumerate(query.literals):
        for var in lit.variables():
            if var.name == "_":
                continue
            if var.name in first:
                parent[find(i)] = find(first[var.name])
            else:
                first[var.name] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(query.literals)):
        groups.setdefault(find(i), []).append(i)
    index = {root: n for n, root in enumerate(groups)}
    return ({name: index[find(i)] for name, i in first.items()},
            [tuple(members) for members in groups.values()])


def _origin(name: str, literals: tuple[Lit, ...]) -> str | None:
    """``pred/arity/position`` of the first ordinary literal that has variable ``name``:
    where the variable's values come from, for thresholds that fit that argument."""
    for lit in literals:
        if lit.pred in COMPARISONS:
            continue
        for position, arg in enumerate(lit.args):
            if isinstance(arg, Var) and arg.name == name:
                return f"{lit.pred}/{len(lit.args)}/{position}"
    return None


def _var_prefix(typ: str) -> str:
    letters = re.sub(r"[^A-Za-z0-9]", "", typ) or "V"
    return letters[0].upper() + letters[1:] if letters[0].isalpha() else "V" + letters


class Language:
    """Generates the refinements of queries for one settings file and one constants table.

    Args:
        settings: the parsed ``.s`` file.
        constants: values for ``#`` arguments.
    """

    def __init__(self, settings: Settings, constants: Constants, cache_size: int = 512) -> None:
        self.settings = settings
        self.constants = constants
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[Query, int], list[Refinement]] = OrderedDict()

    def root(self) -> Query:
        """The root query of every path."""
        types = tuple(self.settings.root_types.items())
        return Query(self.settings.root, types, (0,) * len(self.settings.rmodes))

    def refinements(self, query: Query) -> list[Refinement]:
        """Every refinement allowed by the rmodes, duplicates and useless ones removed.

        The answers for the last ``cache_size`` queries are kept until the constants
        change: a node's no-child keeps its query, and the trees of a forest share their
        first queries, so the same query is refined again and again."""
        key = (query, self.constants.version)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._refinements(query)
            self._cache[key] = cached
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return list(cached)

    def _refinements(self, query: Query) -> list[Refinement]:
        out: dict[str, Refinement] = {}
        existing = {lit.render() for lit in query.literals}
        for index, rmode in enumerate(self.settings.rmodes):
            if rmode.limit is not None and query.counts[index] >= rmode.limit:
                continue
            for lits, new in self._expand(rmode, query):
                key = ", ".join(lit.render() for lit in lits)
                if key in out or all(lit.render() in existing for lit in lits):
                    continue
                if new and self._redundant(lits, new, query):
                    continue
                out[key] = Refinement(lits, new, index)
        return list(out.values())

    # -- enumeration -------------------------------------------------------------

    def _expand(self, rmode: RMode, query: Query) -> Iterator[tuple[tuple[Lit, ...], tuple[tuple[str, str], ...]]]:
        taken = {name for name, _ in query.var_types}

        def fresh(typ: str, new: list[tuple[str, str]]) -> Var:
            used = taken | {n for n, _ in new}
            prefix, number = _var_prefix(typ), len(used) + 1
            while f"{prefix}{number}" in used:
                number += 1
            return Var(f"{prefix}{number}")

        def walk(i: int, env: dict[str, Term], new: list[tuple[str, str]], done: list[Lit]) -> Iterator[tuple[tuple[Lit, ...], tuple[tuple[str, str], ...]]]:
            if i == len(rmode.literals):
                yield tuple(done), tuple(new)
                return
            lit = rmode.literals[i]
            for args, env2, new2 in self._literal(lit, query, env, new, fresh, done):
                yield from walk(i + 1, env2, new2, [*done, Lit(lit.pred, args)])

        yield from walk(0, {}, [], [])

    def _vars_of(self, typ: str | None, query: Query, new: list[tuple[str, str]]) -> list[tuple[Var, str]]:
        # "_" is Prolog's anonymous variable: never a variable a "+" argument can reuse
        pool = [(n, t) for n, t in list(query.var_types) + new if n != "_"]
        if typ is None:  # comparison: any variable of a numeric type
            return [(Var(n), t) for n, t in pool if t in self.constants.numeric]
        return [(Var(n), t) for n, t in pool if t == typ]

    def _literal(self, lit: ModeLit, query: Query, env: dict[str, Term], new: list[tuple[str, str]], fresh, done: list[Lit]):  # type: ignore[no-untyped-def]
        decl = None if lit.is_comparison else self.settings.types[(lit.pred, len(lit.args))]
        order = list(range(len(lit.args)))
        if decl is None:  # bind the +Var side of a comparison first: # takes its type
            order.sort(key=lambda k: lit.args[k].kind == "#")

        def walk(j: int, args: dict[int, Term], env: dict[str, Term], new: list[tuple[str, str]], ctype: str | None):  # type: ignore[no-untyped-def]
            if j == len(order):
                terms = tuple(args[k] for k in range(len(lit.args)))
                if decl is None and terms[0] == terms[1]:
                    return
                yield terms, env, new
                return
            k = order[j]
            arg: ModeArg = lit.args[k]
            typ = decl[k] if decl is not None else ctype
            origin = None
            if decl is None and arg.kind == "#" and args:  # threshold for the variable compared
                compared = next(iter(args.values()))
                if isinstance(compared, Var):
                    origin = _origin(compared.name, query.literals + tuple(done))
            for term, t, env2, new2 in self._options(arg, typ, decl is None, query, env, new, fresh, origin):
                yield from walk(j + 1, {**args, k: term}, env2, new2, ctype or t)

        yield from walk(0, {}, env, new, None)

    def _options(self, arg: ModeArg, typ: str | None, comparison: bool, query: Query, env: dict[str, Term], new: list[tuple[str, str]], fresh, origin: str | None = None):  # type: ignore[no-untyped-def]
        if arg.kind == "const":
            assert arg.const is not None
            yield arg.const, typ, env, new
            return
        if arg.name is not None and arg.name in env:
            bound = env[arg.name]
            known = dict(query.var_types) | dict(new)
            yield bound, known.get(getattr(bound, "name", ""), typ), env, new
            return
        if arg.kind == "#":
            if typ is None:
                return
            pool = self.constants.thresholds(typ, origin) if comparison else self.constants.values(typ)
            for const in pool:
                yield const, typ, env, new
            return
        if arg.kind == "ref":  # checked in settings: always bound by an earlier argument
            return
        if arg.kind in ("+", "+-"):
            for var, t in self._vars_of(typ, query, new):
                if comparison and typ is not None and t != typ:
                    continue
                yield var, t, self._bind(env, arg, var), new
        if arg.kind in ("-", "+-") and typ is not None:
            var = fresh(typ, new)
            yield var, typ, self._bind(env, arg, var), [*new, (var.name, typ)]

    @staticmethod
    def _bind(env: dict[str, Term], arg: ModeArg, term: Term) -> dict[str, Term]:
        return env if arg.name is None else {**env, arg.name: term}

    @staticmethod
    def _redundant(lits: tuple[Lit, ...], new: tuple[tuple[str, str], ...], query: Query) -> bool:
        """True when each literal maps onto a query literal by renaming its fresh variables
        (each used once): adding it changes no example's coverage."""
        by_shape: dict[tuple[str, int], list[Lit]] = {}
        for old in query.literals:
            by_shape.setdefault((old.pred, len(old.args)), []).append(old)
        if any((lit.pred, len(lit.args)) not in by_shape for lit in lits):
            return False  # a literal of a kind the query lacks: it can change coverage
        fresh = {name for name, _ in new}
        counts: dict[str, int] = {}
        for lit in lits:
            for var in lit.variables():
                counts[var.name] = counts.get(var.name, 0) + 1
        for lit in lits:
            if not any(
                old.pred == lit.pred and len(old.args) == len(lit.args)
                and all(a == b or (isinstance(a, Var) and a.name in fresh and counts[a.name] == 1)
                        for a, b in zip(lit.args, old.args, strict=True))
                for old in by_shape[(lit.pred, len(lit.args))]
            ):
                return False
        return True
