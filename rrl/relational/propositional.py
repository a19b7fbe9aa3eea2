"""Propositional baseline: a scikit-learn regression tree over global features.

Each example becomes a fixed-length vector: for every fact predicate, how many facts it
has; for every numeric argument position, the min, max and mean of its values (0 when
the example has no such fact).  Such features describe the whole interpretation but
cannot say which object relates to which (e.g. "the focal task's earlier neighbour"),
which is what the relational learners add.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.tree import DecisionTreeRegressor

from rrl.errors import RRLError
from rrl.relational.kb import Example


def split_fact(fact: str) -> tuple[str, list[str]]:
    """``"p(a, f(b, c), [1,2])"`` → ``("p", ["a", "f(b, c)", "[1,2]"])`` (top-level arguments)."""
    fact = fact.strip()
    open_at = fact.find("(")
    if open_at < 0 or not fact.endswith(")"):
        return fact, []
    name, inner = fact[:open_at], fact[open_at + 1:-1]
    args, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(inner):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    args.append(inner[start:].strip())
    return name, args


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class PropositionalRegressor(BaseEstimator, RegressorMixin):  # type: ignore[misc]
    """``DecisionTreeRegressor`` on counts and numeric aggregates of the facts.

    Args:
        max_depth: passed to the scikit-learn tree.
        min_samples_leaf: passed to the scikit-learn tree.
        random_state: passed to the scikit-learn tree.
    """

    def __init__(self, max_depth: int | None = 8, min_samples_leaf: int = 5,
                 random_state: int | None = 0) -> None:
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def features(self, examples: Sequence[Example]) -> np.ndarray:
        """The feature matrix (columns fixed at fit time; see :attr:`feature_names_`)."""
        rows = []
        for example in examples:
            counts: dict[str, int] = {}
            values: dict[tuple[str, int], list[float]] = {}
            for fact in example.facts:
                name, args = split_fact(fact)
                key = f"{name}/{len(args)}"
                counts[key] = counts.get(key, 0) + 1
                for pos, arg in enumerate(args):
                    number = _number(arg)
                    if number is not None:
                        values.setdefault((key, pos), []).append(number)
            rows.append((counts, values))
        if not hasattr(self, "columns_"):
            preds = sorted({k for counts, _ in rows for k in counts})
            numeric = sorted({k for _, values in rows for k in values})
            self.columns_ = (preds, numeric)
            self.feature_names_ = [f"count {p}" for p in preds] + [
                f"{agg} {p}#{pos + 1}" for p, pos in numeric for agg in ("min", "max", "mean")]
        preds, numeric = self.columns_
        matrix = np.zeros((len(rows), len(preds) + 3 * len(numeric)))
        for r, (counts, values) in enumerate(rows):
            for c, p in enumerate(preds):
                matrix[r, c] = counts.get(p, 0)
            for c, num_key in enumerate(numeric):
                vals = values.get(num_key)
                if vals:
                    base = len(preds) + 3 * c
                    matrix[r, base:base + 3] = (min(vals), max(vals), sum(vals) / len(vals))
        return matrix

    def fit(self, examples: Sequence[Example], y: object = None) -> PropositionalRegressor:
        """Fit the scikit-learn tree on the examples' features and targets."""
        if any(e.target is None for e in examples):
            raise RRLError("every training example needs a target")
        if hasattr(self, "columns_"):
            del self.columns_
        x = self.features(examples)
        self.tree_ = DecisionTreeRegressor(max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                                           random_state=self.random_state)
        self.tree_.fit(x, [float(e.target) for e in examples])  # type: ignore[arg-type]
        return self

    def predict(self, examples: Sequence[Example]) -> np.ndarray:
        """Predicted value of each example."""
        if not hasattr(self, "tree_"):
            raise RRLError("this PropositionalRegressor is not fitted yet")
        return np.asarray(self.tree_.predict(self.features(examples)))
