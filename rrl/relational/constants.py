"""Constants for ``#`` arguments, taken from the data.

Values are collected per *type* from the facts of the loaded examples (every argument
position declared with that type) and, for predicates the background knowledge defines,
from their answers on the loaded examples (one Prolog call per predicate, see
:meth:`Constants.update`).  A type is numeric when every value seen is a number.
- In an ordinary literal, ``#`` ranges over every value seen of a *discrete* type: an atom
  type, a type the settings declare ``discrete(T)``, and a type whose values are all
  integers with at most ``max_codes`` distinct values (codes such as atom types or bond
  types).  A numeric type with at most ``max_values`` distinct values also gets every
  value; beyond that, ``max_values`` quantiles (actual data values spread over its
  distribution, not the most frequent ones, which for continuous data would be an
  arbitrary handful).
- In a comparison (``rmode(+X >= #)``), ``#`` ranges over ``n_thresholds`` quantiles of the
  values of the compared variable (actual data values, so trees print them exactly): the
  values of the fact argument the variable comes from (its first occurrence in the query),
  or, when it comes from a background predicate, all values of its type.
Only value counts are kept, never examples, so TG can merge them batch after batch.  A
numeric histogram that grows beyond ``max_distinct`` values is compressed to
``max_distinct // 2`` equal-count bins, each kept as one actual value (its weighted median)
with the bin's total count, so memory stays bounded over a long TG run while the
quantiles stay close (each bin holds about 2 / max_distinct of the mass).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from rrl.relational.engine import World
from rrl.relational.settings import Settings
from rrl.relational.terms import Const, Var, quote_atom


class Constants:
    """Value histograms per type and the constants derived from them.

    Args:
        n_thresholds: quantile thresholds per numeric type for comparisons.
        max_values: quantile values of a numeric type offered to ordinary literals.
        max_distinct: most distinct values a numeric histogram keeps (then compressed).
        discrete: types declared discrete (every value is a constant, whatever its form).
        max_codes: most distinct values of an all-integer type taken as discrete codes.
    """

    def __init__(self, n_thresholds: int = 9, max_values: int = 20, max_distinct: int = 2000,
                 discrete: frozenset[str] = frozenset(), max_codes: int = 50) -> None:
        self.n_thresholds = n_thresholds
        self.max_values = max_values
        self.max_distinct = max_distinct
        self.discrete = discrete
        self.max_codes = max_codes
        self.counts: dict[str, Counter[str]] = {}
        self.by_origin: dict[str, Counter[str]] = {}
        self.numeric: set[str] = set()
        self.version = 0  # changes whenever the values do (refinements cached on it)
        self._cache: dict[tuple[str, str], list[Const]] = {}

    def update(self, world: World, settings: Settings) -> None:
        """Add the values of the examples currently loaded in ``world``.

        Fact arguments give their values directly.  A background predicate is called
        with free arguments on each loaded example (one Prolog call per predicate) for
        the argument positions whose values the language needs: a ``#`` argument, and an
        output (``-``) argument when its type gets no values from facts or a comparison
        with ``#`` in the same rmode tests it (``rmode((slack(+T, -S), S >= #))``).
        """
        for (pred, arity), types in settings.types.items():
            for position, typ in enumerate(types):
                self._add(typ, f"{pred}/{arity}/{position}", world.values(pred, arity, position))
        wanted = _background_positions(settings, world.background_predicates(),
                                       {t for t, c in self.counts.items() if c})
        if wanted:
            ids = world.loaded_ids()
            for (pred, arity), positions in sorted(wanted.items()):
                types = settings.types[(pred, arity)]
                for position, count, text in world.background_values(pred, arity, sorted(positions), ids):
                    self._add(types[position], f"{pred}/{arity}/{position}", [(count, text)])
        self.numeric = {t for t, c in self.counts.items() if c and all(_is_number(v) for v in c)}
        for histograms in (self.counts, self.by_origin):
            for name, counter in histograms.items():
                if len(counter) > self.max_distinct and all(_is_number(v) for v in counter):
                    histograms[name] = _compress(counter, max(self.max_distinct // 2, 1))
        self._cache.clear()
        self.version += 1

    def _add(self, typ: str, origin: str, pairs: list[tuple[int, str]]) -> None:
        counter = self.counts.setdefault(typ, Counter())
        by_origin = self.by_origin.setdefault(origin, Counter())
        for count, text in pairs:
            counter[text] += count
            by_origin[text] += count

    def values(self, typ: str) -> list[Const]:
        """Constants for ``#`` of type ``typ`` in an ordinary literal."""
        key = ("v", typ)
        if key not in self._cache:
            counter = self.counts.get(typ, Counter())
            if typ not in self.numeric:
                self._cache[key] = [Const(t) for t in sorted(counter)]
            elif self.is_discrete(typ) or len(counter) <= self.max_values:
                self._cache[key] = [Const(t, float(t)) for t in sorted(counter, key=float)]
            else:
                self._cache[key] = _quantiles(counter, self.max_values)
        return self._cache[key]

    def is_discrete(self, typ: str) -> bool:
        """Every value of ``typ`` is a candidate constant: an atom type, a type declared
        ``discrete/1``, or integer codes with at most ``max_codes`` distinct values."""
        if typ in self.discrete or typ not in self.numeric:
            return True
        counter = self.counts.get(typ, Counter())
        return len(counter) <= self.max_codes and all(_is_integer(t) for t in counter)

    def thresholds(self, typ: str, origin: str | None = None) -> list[Const]:
        """Quantile thresholds for comparisons on a variable of numeric type ``typ`` whose
        values come from fact argument ``origin`` (``pred/arity/position``) when known;
        empty for a non-numeric type."""
        if origin is not None and self.by_origin.get(origin):
            key, counter = ("o", origin), self.by_origin.get(origin)
        else:
            key, counter = ("t", typ), self.counts.get(typ)
        if key not in self._cache:
            numeric = typ in self.numeric and counter
            self._cache[key] = _quantiles(counter, self.n_thresholds) if numeric else []
        return self._cache[key]


def _quantiles(counter: Counter[str] | None, k: int) -> list[Const]:
    """``k`` quantiles (at q / (k + 1)) of a numeric histogram, as distinct actual values in
    increasing order (fewer when values repeat)."""
    if not counter:
        return []
    items = sorted((float(t), t, c) for t, c in counter.items())
    cumulative = np.cumsum([c for _, _, c in items])
    total = cumulative[-1]
    consts: list[Const] = []
    seen: set[str] = set()
    for q in range(1, k + 1):
        idx = int(np.searchsorted(cumulative, total * q / (k + 1)))
        value, text, _ = items[min(idx, len(items) - 1)]
        if text not in seen:
            seen.add(text)
            consts.append(Const(text, value))
    return consts


def _compress(counter: Counter[str], bins: int) -> Counter[str]:
    """A numeric histogram reduced to ``bins`` equal-count bins, each one actual value
    (the bin's weighted median) carrying the bin's total count."""
    items = sorted((float(t), t, c) for t, c in counter.items())
    counts = np.array([c for _, _, c in items], dtype=float)
    cumulative = np.cumsum(counts)
    total = cumulative[-1]
    # bin of each value: where the middle of its mass falls
    which = np.minimum(((cumulative - counts / 2) / total * bins).astype(int), bins - 1)
    out: Counter[str] = Counter()
    start = 0
    for end in [*(np.flatnonzero(np.diff(which)) + 1).tolist(), len(items)]:
        mass = cumulative[end - 1] - (cumulative[start - 1] if start else 0.0)
        median = start + int(np.searchsorted(cumulative[start:end] - (cumulative[start - 1] if start else 0.0), mass / 2))
        out[items[min(median, end - 1)][1]] += int(round(mass))
        start = end
    return out


def _background_positions(settings: Settings, background: set[str],
                          fact_types: set[str]) -> dict[tuple[str, int], set[int]]:
    """Argument positions of background predicates whose answers supply constants:
    ``#`` arguments; outputs (``-``, ``+-``, root variables) of a type no fact argument
    gives values to; outputs compared with ``#`` later in the same rmode."""
    wanted: dict[tuple[str, int], set[int]] = {}

    def want(pred: str, arity: int, position: int) -> None:
        if f"{quote_atom(pred)}/{arity}" in background and (pred, arity) in settings.types:
            wanted.setdefault((pred, arity), set()).add(position)

    for rmode in settings.rmodes:
        thresholded = {a.name for lit in rmode.literals if lit.is_comparison and any(b.kind == "#" for b in lit.args)
                       for a in lit.args if a.name is not None}
        for lit in rmode.literals:
            decl = settings.types.get((lit.pred, len(lit.args)))
            if lit.is_comparison or decl is None:
                continue
            for position, (arg, typ) in enumerate(zip(lit.args, decl, strict=True)):
                if arg.kind == "#" or (arg.kind in ("-", "+-") and (typ not in fact_types or arg.name in thresholded)):
                    want(lit.pred, len(lit.args), position)
    for root_lit in settings.root:
        decl = settings.types.get((root_lit.pred, len(root_lit.args)))
        for position, term in enumerate(root_lit.args):
            if decl is not None and isinstance(term, Var) and term.name != "_" and decl[position] not in fact_types:
                want(root_lit.pred, len(root_lit.args), position)
    return wanted


def _is_integer(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
