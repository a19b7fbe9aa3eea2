"""TG: incremental first-order regression trees (Driessens, Ramon & Blockeel 2001).

Examples stream in through :meth:`TGRegressor.partial_fit` and are not kept.  Each leaf
holds, for every candidate refinement of its query, the count, sum and sum of squares of
the targets of the examples that passed it (those that failed follow from the leaf's
totals).  Once a leaf has seen ``min_samples`` examples, its best refinement (largest
reduction of squared error) splits it if an F-test finds the reduction significant at
level ``significance`` divided by the number of eligible candidate tests (Bonferroni: the
best of K tests is chosen, so a single test at the full level would split on noise far
too often).  The two new leaves start with fresh statistics; their
predictions start from the parent's statistics for their side of the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.base import RegressorMixin

from rrl.relational.kb import Example
from rrl.relational.language import Query, Refinement
from rrl.relational.model import Background, TreeModel
from rrl.relational.settings import Settings
from rrl.relational.terms import conjunction
from rrl.relational.tree import Node, best_split


@dataclass
class _LeafStats:
    """What a TG leaf remembers: candidate tests and target statistics, no examples."""

    depth: int
    prior: np.ndarray  # n, sum, sum of squares behind the prediction (inherited + seen)
    tests: list[Refinement] | None = None
    passed: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    seen: np.ndarray = field(default_factory=lambda: np.zeros(3))


class TGRegressor(RegressorMixin, TreeModel):  # type: ignore[misc]
    """Incremental learner of a first-order regression tree.

    Args:
        settings: a :class:`Settings` or the path of a ``.s`` file.
        background: ``.pl`` file(s) of background knowledge.
        min_samples: examples a leaf must see before it may split (default 100).
        significance: F-test level for a split, Bonferroni-corrected for the number of
            candidate tests (default: the settings' value, else 0.001).
        minimal_cases: fewest examples on each side of a split (settings, else 2).
        max_depth: most tests on a path (settings, else 8).
        n_thresholds: quantile thresholds per numeric type for ``#`` in comparisons
            (default: the settings' ``discretization(bounds(N))``, else 9).
        batch_size: examples per step when :meth:`fit` streams a whole data set.
    """

    _learner = "TG"

    def __init__(self, settings: Settings | str | Path, background: Background = None,
                 min_samples: int = 100, significance: float | None = None,
                 minimal_cases: int | None = None, max_depth: int | None = None,
                 n_thresholds: int | None = None, batch_size: int = 100) -> None:
        self.settings = settings
        self.background = background
        self.min_samples = min_samples
        self.significance = significance
        self.minimal_cases = minimal_cases
        self.max_depth = max_depth
        self.n_thresholds = n_thresholds
        self.batch_size = batch_size

    def fit(self, examples: Sequence[Example], y: object = None) -> TGRegressor:
        """Start afresh and stream ``examples`` in order, ``batch_size`` at a time."""
        self.tree_: Node | None = None
        for start in range(0, len(examples), self.batch_size):
            self.partial_fit(examples[start:start + self.batch_size])
        return self

    def partial_fit(self, examples: Sequence[Example], y: object = None) -> TGRegressor:
        """Update the tree with a batch of examples (which are then forgotten).

        Routing the batch is one Prolog call; evaluating a leaf's candidate tests on the
        batch's examples in that leaf is one more call per leaf reached.
        """
        y_batch = self._targets(examples)
        if getattr(self, "tree_", None) is None:
            self._start()
            self.minimal_cases_ = int(self._param("minimal_cases", 2))
            self.max_depth_ = int(self._param("max_depth", 8))
            self.significance_ = self._param("significance", 0.001)
            self.default_ = 0.0
            self._total = np.zeros(3)
            self.tree_ = Node(self.language_.root(), state=_LeafStats(0, np.zeros(3)))
            self._compile()
        if not examples:
            return self
        self._check_open()
        ids = self.world_.load(examples)
        try:
            self.constants_.update(self.world_, self.settings_)
            self.fact_preds_ = sorted(set(self.fact_preds_) | set(self.world_.fact_predicates()))
            self._total += [len(y_batch), y_batch.sum(), (y_batch ** 2).sum()]
            self.default_ = float(self._total[1] / self._total[0])
            self.n_examples_ += len(examples)
            routes = self.world_.route(self.name_, ids)
            changed = False
            for index, leaf in enumerate(self.leaves_):
                mask = routes == index
                if mask.any():
                    batch_ids = [i for i, m in zip(ids, mask, strict=True) if m]
                    changed |= self._update(leaf, batch_ids, y_batch[mask])
        finally:
            self.world_.unload(ids)
        if changed:
            self._compile()
        return self

    def _update(self, leaf: Node, ids: list[int], y: np.ndarray) -> bool:
        stats: _LeafStats = leaf.state
        batch = np.array([len(y), y.sum(), (y * y).sum()])
        stats.prior += batch
        stats.seen += batch
        leaf.count = int(stats.prior[0])
        leaf.value = float(stats.prior[1] / stats.prior[0])
        if stats.depth >= self.max_depth_:
            return False
        if stats.tests is None:
            stats.tests = self.language_.refinements(leaf.query)
            stats.passed = np.zeros((len(stats.tests), 3))
        if not stats.tests:
            return False
        goals = [conjunction(leaf.query.literals + t.literals) for t in stats.tests]
        stats.passed += self.world_.evaluate(ids, goals)
        if stats.seen[0] < self.min_samples:
            return False
        return self._try_split(leaf, stats)

    def _try_split(self, leaf: Node, stats: _LeafStats) -> bool:
        best = best_split(stats.passed, stats.seen, self.minimal_cases_, self.significance_)
        if best is None:
            return False
        assert stats.tests is not None
        test = stats.tests[best]
        yes_query: Query = test.apply(leaf.query)
        leaf.test = test
        leaf.yes = self._new_leaf(yes_query, stats.depth + 1, stats.passed[best])
        leaf.no = self._new_leaf(leaf.query, stats.depth + 1, stats.seen - stats.passed[best])
        leaf.state = None
        return True

    @staticmethod
    def _new_leaf(query: Query, depth: int, prior: np.ndarray) -> Node:
        node = Node(query, float(prior[1] / prior[0]) if prior[0] else 0.0, int(prior[0]))
        node.state = _LeafStats(depth, prior.copy())
        return node
