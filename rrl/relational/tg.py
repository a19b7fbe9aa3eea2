"""TG: incremental first-order regression trees (Driessens, Ramon & Blockeel 2001), and
their classification counterpart.

Examples stream in through :meth:`TGRegressor.partial_fit` and are not kept.  Each leaf
holds, for every candidate refinement of its query, the count, sum and sum of squares of
the targets of the examples that passed it (those that failed follow from the leaf's
totals); a :class:`TGClassifier` leaf holds the count of each class instead, and splits
on the best gain ratio if a G-test at the same Bonferroni-corrected level finds it
significant.  Once a leaf has seen ``min_samples`` examples, its best refinement (largest
reduction of squared error) splits it if an F-test finds the reduction significant at
level ``significance`` divided by the number of eligible candidate tests (Bonferroni: the
best of K tests is chosen, so a single test at the full level would split on noise far
too often).  The two new leaves start with fresh statistics; their
predictions start from the parent's statistics for their side of the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Self

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from rrl.errors import RRLError
from rrl.relational.engine import Test
from rrl.relational.kb import Example
from rrl.relational.language import Query, Refinement, pack_test
from rrl.relational.model import Background, ClassTree, TreeModel, example_error
from rrl.relational.settings import HEURISTICS, Settings
from rrl.relational.tree import Node, best_class_split, best_split


@dataclass
class _LeafStats:
    """What a TG leaf remembers: candidate tests and target statistics, no examples
    (regression: count, sum, sum of squares; classification: the count of each class)."""

    depth: int
    prior: np.ndarray  # the statistics behind the prediction (inherited + seen)
    tests: list[Refinement] | None = None
    passed: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    seen: np.ndarray = field(default_factory=lambda: np.zeros(3))  # what this leaf has seen itself


class _TG(TreeModel):
    """The incremental learner; subclasses say what a leaf's statistics are."""

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

    def fit(self, examples: Sequence[Example], y: object = None) -> Self:
        """Start afresh and stream ``examples`` in order, ``batch_size`` at a time."""
        self.tree_: Node | None = None
        for start in range(0, len(examples), self.batch_size):
            self.partial_fit(examples[start:start + self.batch_size])
        return self

    def partial_fit(self, examples: Sequence[Example], y: object = None) -> Self:
        """Update the tree with a batch of examples (which are then forgotten).

        Routing the batch is one Prolog call; evaluating a leaf's candidate tests on the
        batch's examples in that leaf is one more call per leaf reached.
        """
        first = getattr(self, "tree_", None) is None
        if first:
            self._start()
        try:
            y_batch = self._encode(examples, first)
        except BaseException:
            if first:
                self.close()
            raise
        if first:
            self.minimal_cases_ = int(self._param("minimal_cases", 2))
            self.max_depth_ = int(self._param("max_depth", 8))
            self.significance_ = self._param("significance", 0.001)
            self.tree_ = Node(self.language_.root(), state=_LeafStats(0, np.zeros(self._width), seen=np.zeros(self._width)))
            self._refresh(self.tree_)
            self._compile()
        if not examples:
            return self
        self._check_open()
        ids = self.world_.load([replace(e, target=float(t)) for e, t in zip(examples, y_batch, strict=True)])
        try:
            self._account(y_batch)
            self.constants_.update(self.world_, self.settings_)
            self.fact_preds_ = sorted(set(self.fact_preds_) | set(self.world_.fact_predicates()))
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

    # -- hooks -------------------------------------------------------------------

    _width = 3

    def _encode(self, examples: Sequence[Example], first: bool) -> np.ndarray:
        """The number loaded as each example's target (checked; nothing changes yet)."""
        raise NotImplementedError

    def _account(self, y: np.ndarray) -> None:
        """Add a loaded batch to the prediction for examples the root query misses."""
        raise NotImplementedError

    def _sum(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _evaluate(self, ids: list[int], goals: Sequence[Test]) -> np.ndarray:
        raise NotImplementedError

    def _choose(self, passed: np.ndarray, seen: np.ndarray) -> int | None:
        raise NotImplementedError

    def _refresh(self, leaf: Node) -> None:
        """Set a leaf's count and prediction from its statistics."""
        raise NotImplementedError

    # -- growing -----------------------------------------------------------------

    def _update(self, leaf: Node, ids: list[int], y: np.ndarray) -> bool:
        stats: _LeafStats = leaf.state
        batch = self._sum(y)
        stats.prior += batch
        stats.seen += batch
        self._refresh(leaf)
        if stats.depth >= self.max_depth_:
            return False
        if stats.tests is None:
            stats.tests = self.language_.refinements(leaf.query)
            stats.passed = np.zeros((len(stats.tests), self._width))
        if not stats.tests:
            return False
        # the examples routed to a leaf satisfy its query: only the literals linked to
        # each test decide it (language.test_goal), and tests sharing them run as a pack
        goals = [pack_test(leaf.query, t) for t in stats.tests]
        stats.passed += self._evaluate(ids, goals)
        if self._seen(stats) < self.min_samples:
            return False
        return self._try_split(leaf, stats)

    def _seen(self, stats: _LeafStats) -> float:
        return float(stats.seen[0])

    def _try_split(self, leaf: Node, stats: _LeafStats) -> bool:
        best = self._choose(stats.passed, stats.seen)
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

    def _new_leaf(self, query: Query, depth: int, prior: np.ndarray) -> Node:
        node = Node(query)
        node.state = _LeafStats(depth, prior.copy(), seen=np.zeros_like(prior))
        self._refresh(node)
        return node


class TGRegressor(RegressorMixin, _TG):  # type: ignore[misc]
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

    def _encode(self, examples: Sequence[Example], first: bool) -> np.ndarray:
        if first:
            self.default_ = 0.0
            self._total = np.zeros(3)
        return self._targets(examples)

    def _account(self, y: np.ndarray) -> None:
        self._total += [len(y), y.sum(), (y ** 2).sum()]
        self.default_ = float(self._total[1] / self._total[0])

    def _sum(self, y: np.ndarray) -> np.ndarray:
        return np.array([len(y), y.sum(), (y * y).sum()])

    def _evaluate(self, ids: list[int], goals: Sequence[Test]) -> np.ndarray:
        return self.world_.evaluate(ids, goals)

    def _choose(self, passed: np.ndarray, seen: np.ndarray) -> int | None:
        return best_split(passed, seen, self.minimal_cases_, self.significance_)

    def _refresh(self, leaf: Node) -> None:
        prior = leaf.state.prior
        leaf.count = int(prior[0])
        leaf.value = float(prior[1] / prior[0]) if prior[0] else 0.0


class TGClassifier(ClassTree, ClassifierMixin, _TG):  # type: ignore[misc]
    """Incremental learner of a first-order classification tree: TG's leaf statistics
    are class counts, a leaf splits on the best gain ratio (or gain) once it has seen
    ``min_samples`` examples and a G-test finds the split significant at
    ``significance`` / K (K candidate tests), and a leaf predicts its majority class.

    The classes are those of ``classes/1`` in the settings, else those of the first
    batch; a later example of another class is an error (declare the classes).

    Args:
        settings, background, min_samples, significance, minimal_cases, max_depth,
        n_thresholds, batch_size: as :class:`TGRegressor`.
        heuristic: ``"gainratio"`` or ``"gain"`` (default: the settings' ``heuristic/1``,
            else gain ratio).
    """

    def __init__(self, settings: Settings | str | Path, background: Background = None,
                 min_samples: int = 100, significance: float | None = None,
                 minimal_cases: int | None = None, max_depth: int | None = None,
                 n_thresholds: int | None = None, batch_size: int = 100, heuristic: str | None = None) -> None:
        super().__init__(settings, background, min_samples, significance, minimal_cases, max_depth,
                         n_thresholds, batch_size)
        self.heuristic = heuristic

    def _encode(self, examples: Sequence[Example], first: bool) -> np.ndarray:
        for example in examples:
            if example.target is None:
                raise example_error(example, "every training example needs a target")
        if first:
            self.heuristic_ = self.heuristic or self.settings_.heuristic or "gainratio"
            if self.heuristic_ not in HEURISTICS:
                raise RRLError(f"heuristic {self.heuristic_!r}: expected one of {', '.join(HEURISTICS)}")
            self._set_classes(examples)
            self._width = len(self.labels_)
            self.default_distribution_ = np.zeros(self._width)
        return self._class_index(examples)

    def _account(self, y: np.ndarray) -> None:
        self.default_distribution_ = self.default_distribution_ + self._sum(y)
        self.default_ = self.labels_.values[int(np.argmax(self.default_distribution_))]

    def _sum(self, y: np.ndarray) -> np.ndarray:
        return np.bincount(y.astype(int), minlength=self._width).astype(float)

    def _evaluate(self, ids: list[int], goals: Sequence[Test]) -> np.ndarray:
        return self.world_.evaluate_classes(ids, goals, self._width)

    def _choose(self, passed: np.ndarray, seen: np.ndarray) -> int | None:
        return best_class_split(passed, seen, self.minimal_cases_, self.heuristic_, self.significance_)

    def _seen(self, stats: _LeafStats) -> float:
        return float(stats.seen.sum())

    def _refresh(self, leaf: Node) -> None:
        prior = leaf.state.prior
        leaf.count = int(prior.sum())
        leaf.distribution = prior
        leaf.value = self.labels_.values[int(np.argmax(prior if prior.sum() else self.default_distribution_))]
