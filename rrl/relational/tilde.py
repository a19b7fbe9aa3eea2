"""TILDE: top-down induction of first-order regression trees (batch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rrl.errors import RRLError
from rrl.relational.kb import Example
from rrl.relational.language import Query
from rrl.relational.model import Background, TreeModel
from rrl.relational.settings import Settings
from rrl.relational.terms import conjunction
from rrl.relational.tree import Node, best_split


class TildeRegressor(TreeModel):
    """Batch learner of a first-order regression tree.

    At each node every refinement of the node's query allowed by the rmodes is evaluated
    on all the node's examples in one Prolog call; the one that most reduces the sum of
    squared errors splits the node, provided each side keeps ``minimal_cases`` examples.

    Args:
        settings: a :class:`Settings` or the path of a ``.s`` file.
        background: ``.pl`` file(s) of background knowledge.
        minimal_cases: fewest examples in a leaf (default: the settings' value, else 2).
        max_depth: most tests on a path (default: the settings' value, else 8).
        n_thresholds: quantile thresholds per numeric type for ``#`` in comparisons.
        significance: when set, a split must also pass TG's F-test at this level divided
            by the number of candidate tests (Bonferroni; keeps trees small on noisy
            targets); None splits on any reduction of error.
    """

    _learner = "TILDE"

    def __init__(self, settings: Settings | str | Path, background: Background = None,
                 minimal_cases: int | None = None, max_depth: int | None = None,
                 n_thresholds: int = 9, significance: float | None = None) -> None:
        self.settings = settings
        self.background = background
        self.minimal_cases = minimal_cases
        self.max_depth = max_depth
        self.n_thresholds = n_thresholds
        self.significance = significance

    def fit(self, examples: Sequence[Example], y: object = None) -> TildeRegressor:
        """Learn the tree from examples with targets.

        Args:
            examples: the training interpretations (every ``target`` set).
            y: ignored (targets travel with the examples); present for scikit-learn.

        Returns:
            self.
        """
        if not examples:
            raise RRLError("TILDE needs at least one example")
        y_all = self._targets(examples)
        self._start()
        self.tree_ = None
        self.minimal_cases_ = int(self._param("minimal_cases", 2))
        self.max_depth_ = int(self._param("max_depth", 8))
        ids = self.world_.load(examples)
        try:
            self.constants_.update(self.world_, self.settings_)
            self.fact_preds_ = self.world_.fact_predicates()
            self._y = dict(zip(ids, y_all, strict=True))
            self.default_ = float(y_all.mean())
            self.n_examples_ = len(examples)
            root = self.language_.root()
            covered = self._covered(root, ids)
            self.tree_ = self._grow(root, covered, 0)
        finally:
            self.world_.unload(ids)
            self._y = {}
        self._compile()
        return self

    def _covered(self, query: Query, ids: list[int]) -> list[int]:
        """Examples satisfying the root query (the others get the default value)."""
        if not query.literals:
            return ids
        self.world_.evaluate(ids, [conjunction(query.literals)])
        return self.world_.passing(0, ids)

    def _grow(self, query: Query, ids: list[int], depth: int) -> Node:
        y = np.array([self._y[i] for i in ids])
        if not ids:
            return self._leaf(query, y)
        node = self._leaf(query, y)
        minimal = self.minimal_cases_
        if depth >= self.max_depth_ or len(ids) < 2 * minimal or np.ptp(y) == 0:
            return node
        candidates = self.language_.refinements(query)
        if not candidates:
            return node
        goals = [conjunction(query.literals + c.literals) for c in candidates]
        stats = self.world_.evaluate(ids, goals)
        best = best_split(stats, (len(y), y.sum(), float((y * y).sum())), minimal, self.significance)
        if best is None:
            return node
        passing = self.world_.passing(best, ids)
        chosen = set(passing)
        rest = [i for i in ids if i not in chosen]
        refinement = candidates[best]
        node.test = refinement
        node.yes = self._grow(refinement.apply(query), passing, depth + 1)
        node.no = self._grow(query, rest, depth + 1)
        return node
