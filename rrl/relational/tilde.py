"""TILDE: top-down induction of first-order decision trees (batch), for regression and
for classification.

Growth is shared: at a node with query Q, every refinement Q, L the rmodes allow is
evaluated on all the node's examples in one Prolog call, a heuristic picks the best one
(least squared error for regression, gain ratio for classification), the yes-child
gets Q, L and the no-child keeps Q.  The two learners differ only in the statistics
the call returns, the heuristic, the leaves and the pruning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from rrl.errors import RRLError
from rrl.relational.engine import Test
from rrl.relational.kb import Example
from rrl.relational.language import Query, Refinement, pack_test, test_goal
from rrl.relational.model import Background, ClassTree, TreeModel, example_error
from rrl.relational.pruning import prune_pessimistic, prune_reduced_error
from rrl.relational.settings import HEURISTICS, Settings
from rrl.relational.terms import conjunction
from rrl.relational.tree import (
    Node,
    best_class_split,
    best_split,
)


class _Tilde(TreeModel):
    """Batch growth shared by :class:`TildeRegressor`, :class:`TildeClassifier` and the
    forests (:mod:`rrl.relational.forest`).  Subclasses say what a node's statistics
    are, how candidates are scored and what a leaf holds."""

    _learner = "TILDE"

    def __init__(self, settings: Settings | str | Path, background: Background = None,
                 minimal_cases: int | None = None, max_depth: int | None = None,
                 n_thresholds: int | None = None, significance: float | None = None,
                 prune: bool | None = None) -> None:
        self.settings = settings
        self.background = background
        self.minimal_cases = minimal_cases
        self.max_depth = max_depth
        self.n_thresholds = n_thresholds
        self.significance = significance
        self.prune = prune

    # -- hooks -------------------------------------------------------------------

    def _encode(self, examples: Sequence[Example]) -> np.ndarray:
        """The number loaded as each example's target (a class index when classifying)."""
        raise NotImplementedError

    def _stats(self, ids: list[int]) -> np.ndarray:
        """The node statistics of examples ``ids`` (in the form ``_evaluate`` returns)."""
        raise NotImplementedError

    def _evaluate(self, ids: list[int], goals: Sequence[Test]) -> np.ndarray:
        raise NotImplementedError

    def _choose(self, passed: np.ndarray, total: np.ndarray) -> int | None:
        raise NotImplementedError

    def _node(self, query: Query, stats: np.ndarray) -> Node:
        raise NotImplementedError

    def _pure(self, stats: np.ndarray, ids: list[int]) -> bool:
        raise NotImplementedError

    def _prune(self, tree: Node, held_back: list[int]) -> None:
        raise NotImplementedError

    # -- fitting -----------------------------------------------------------------

    def _begin(self, examples: Sequence[Example]) -> list[int]:
        """Fresh world with the examples loaded (targets encoded), constants and
        parameters set; returns the examples' keys."""
        if not examples:
            raise RRLError("TILDE needs at least one example")
        for example in examples:
            if example.target is None:
                raise example_error(example, "every training example needs a target")
        self._start()
        try:
            encoded = self._encode(examples)
        except BaseException:
            self.close()
            raise
        self.tree_ = None
        self.minimal_cases_ = int(self._param("minimal_cases", 2))
        self.max_depth_ = int(self._param("max_depth", 8))
        self.significance_ = self.significance if self.significance is not None else self.settings_.significance
        self.prune_ = bool(self.prune if self.prune is not None else self.settings_.prune)
        ids = self.world_.load([replace(e, target=float(t)) for e, t in zip(examples, encoded, strict=True)])
        self._first = ids[0]
        self._y = encoded
        try:
            self.constants_.update(self.world_, self.settings_)
        except BaseException:
            self.world_.unload(ids)
            raise
        self.fact_preds_ = self.world_.fact_predicates()
        self.n_examples_ = len(examples)
        return ids

    def _fit_tree(self, ids: list[int], rng: np.random.Generator | None = None,
                  max_candidates: float | str | None = None) -> Node:
        """Grow (and, when asked, prune) one tree on the loaded examples ``ids``."""
        held_back: list[int] = []
        grow = ids
        if self.prune_ and self._holds_back:  # a third of the distinct examples, seeded
            distinct = sorted(set(ids))
            order = np.random.default_rng(0 if rng is None else rng.integers(2**32)).permutation(len(distinct))
            kept_out = {distinct[i] for i in order[len(distinct) - len(distinct) // 3:]}
            grow = [i for i in ids if i not in kept_out]
            held_back = sorted(kept_out)
        root = self.language_.root()
        tree = self._grow(root, self._covered(root, grow), 0, rng, max_candidates)
        if self.prune_:
            self._prune(tree, self._covered(root, held_back) if held_back else [])
        return tree

    _holds_back = False  # pruning needs held-back examples (regression)

    def _covered(self, query: Query, ids: list[int]) -> list[int]:
        """Examples satisfying the root query (the others get the default value)."""
        if not query.literals or not ids:
            return ids
        self.world_.evaluate(ids, [conjunction(query.literals)])
        return self.world_.passing(0, ids)

    def _grow(self, query: Query, ids: list[int], depth: int, rng: np.random.Generator | None = None,
              max_candidates: float | str | None = None) -> Node:
        stats = self._stats(ids)
        node = self._node(query, stats)
        if not ids or depth >= self.max_depth_ or len(ids) < 2 * self.minimal_cases_ or self._pure(stats, ids):
            return node
        candidates = self.language_.refinements(query)
        if rng is not None and max_candidates is not None and candidates:
            candidates = _sample(candidates, max_candidates, rng)
        if not candidates:
            return node
        goals = [pack_test(query, c) for c in candidates]
        best = self._choose(self._evaluate(ids, goals), stats)
        if best is None:
            return node
        passing = self.world_.passing(best, ids)
        chosen = set(passing)
        refinement = candidates[best]
        node.test = refinement
        node.yes = self._grow(refinement.apply(query), passing, depth + 1, rng, max_candidates)
        node.no = self._grow(query, [i for i in ids if i not in chosen], depth + 1, rng, max_candidates)
        return node

    def _passing_test(self, node: Node, ids: list[int]) -> list[int]:
        """Those of ``ids`` (at ``node``) that pass the node's test."""
        assert node.test is not None
        self.world_.evaluate(ids, [conjunction(test_goal(node.query, node.test))])
        return self.world_.passing(0, ids)


def _sample(candidates: list[Refinement], max_candidates: float | str, rng: np.random.Generator) -> list[Refinement]:
    """A random subset of the candidate refinements (a forest's per-node choice): the
    square root of their number for ``"sqrt"``, a fraction of them for a number below 1,
    else that many; at least one."""
    k = len(candidates)
    if max_candidates == "sqrt":
        size = int(np.ceil(np.sqrt(k)))
    else:
        share = float(max_candidates)
        size = int(np.ceil(share * k)) if share < 1 else int(share)
    size = min(max(size, 1), k)
    if size == k:
        return candidates
    return [candidates[i] for i in sorted(rng.choice(k, size=size, replace=False))]


class TildeRegressor(RegressorMixin, _Tilde):  # type: ignore[misc]
    """Batch learner of a first-order regression tree.

    At each node every refinement of the node's query allowed by the rmodes is evaluated
    on all the node's examples in one Prolog call; the one that most reduces the sum of
    squared errors splits the node, provided each side keeps ``minimal_cases`` examples.

    Args:
        settings: a :class:`Settings` or the path of a ``.s`` file.
        background: ``.pl`` file(s) of background knowledge.
        minimal_cases: fewest examples in a leaf (default: the settings' value, else 2).
        max_depth: most tests on a path (default: the settings' value, else 8).
        n_thresholds: quantile thresholds per numeric type for ``#`` in comparisons
            (default: the settings' ``discretization(bounds(N))``, else 9).
        significance: a split must also pass TG's F-test at this level divided by the
            number of candidate tests (Bonferroni; keeps trees small on noisy targets);
            default: the settings' ``significance/1``, else off (any reduction of error
            splits).
        prune: hold back a third of the training examples, grow on the rest, then turn
            every subtree that does not lower the squared error on the held-back examples
            into a leaf (reduced-error pruning; the leaves keep the values of the growing
            examples).  Default: the settings' ``prune/1``, else False.
    """

    _holds_back = True

    def fit(self, examples: Sequence[Example], y: object = None) -> TildeRegressor:
        """Learn the tree from examples with targets.

        Args:
            examples: the training interpretations (every ``target`` set).
            y: ignored (targets travel with the examples); present for scikit-learn.

        Returns:
            self.
        """
        ids = self._begin(examples)
        try:
            self.tree_ = self._fit_tree(ids)
        finally:
            self.world_.unload(ids)
        self._compile()
        return self

    def _encode(self, examples: Sequence[Example]) -> np.ndarray:
        targets = self._targets(examples)
        # (set here, as a classifier sets its majority class, so that a forest has it too)
        self.default_ = float(targets.mean())
        return targets

    def _stats(self, ids: list[int]) -> np.ndarray:
        y = self._y[np.asarray(ids, dtype=int) - self._first] if ids else np.zeros(0)
        return np.array([len(y), y.sum(), float((y * y).sum())])

    def _evaluate(self, ids: list[int], goals: Sequence[Test]) -> np.ndarray:
        return self.world_.evaluate(ids, goals)

    def _choose(self, passed: np.ndarray, total: np.ndarray) -> int | None:
        return best_split(passed, total, self.minimal_cases_, self.significance_)

    def _node(self, query: Query, stats: np.ndarray) -> Node:
        n = int(stats[0])
        return Node(query, float(stats[1] / n) if n else self.default_, n)

    def _pure(self, stats: np.ndarray, ids: list[int]) -> bool:
        n, s, q = stats
        return bool(q - s * s / n <= 1e-12 * max(q, 1.0))

    def _prune(self, tree: Node, held_back: list[int]) -> None:
        def error(node: Node, ids: list[int]) -> float:
            y = self._y[np.asarray(ids, dtype=int) - self._first] if ids else np.zeros(0)
            return float(((y - node.value) ** 2).sum())

        prune_reduced_error(tree, held_back, self._passing_test, error)


class TildeClassifier(ClassTree, ClassifierMixin, _Tilde):  # type: ignore[misc]
    """Batch learner of a first-order classification tree (Tilde's classification mode).

    The targets are classes: atoms (``target(active)``), or numbers when the settings
    declare them with ``classes/1``.  A node splits on the refinement with the best gain
    ratio (or information gain), provided each side keeps ``minimal_cases`` examples; a
    leaf predicts its majority class and keeps its class distribution.

    Args:
        settings: a :class:`Settings` or the path of a ``.s`` file.
        background: ``.pl`` file(s) of background knowledge.
        minimal_cases: fewest examples in a leaf (default: the settings' value, else 2).
        max_depth: most tests on a path (default: the settings' value, else 8).
        n_thresholds: quantile thresholds per numeric type for ``#`` in comparisons
            (default: the settings' ``discretization(bounds(N))``, else 9).
        significance: a split must also pass a G-test at this level divided by the
            number of candidate tests (default: the settings' value, else off).
        prune: prune the grown tree with C4.5's pessimistic error estimate (default: the
            settings' ``prune/1``, else False).
        heuristic: ``"gainratio"`` or ``"gain"`` (default: the settings'
            ``heuristic/1``, else gain ratio).
        confidence: the confidence level of the pessimistic error (C4.5's 0.25).
    """

    def __init__(self, settings: Settings | str | Path, background: Background = None,
                 minimal_cases: int | None = None, max_depth: int | None = None,
                 n_thresholds: int | None = None, significance: float | None = None,
                 prune: bool | None = None, heuristic: str | None = None, confidence: float = 0.25) -> None:
        super().__init__(settings, background, minimal_cases, max_depth, n_thresholds, significance, prune)
        self.heuristic = heuristic
        self.confidence = confidence

    def fit(self, examples: Sequence[Example], y: object = None) -> TildeClassifier:
        """Learn the tree from examples whose targets are classes.

        Returns:
            self.
        """
        ids = self._begin(examples)
        try:
            self.tree_ = self._fit_tree(ids)
        finally:
            self.world_.unload(ids)
        self._compile()
        return self

    def _encode(self, examples: Sequence[Example]) -> np.ndarray:
        index = self._set_classes(examples)
        heuristic = self.heuristic if self.heuristic is not None else self.settings_.heuristic
        self.heuristic_ = heuristic or "gainratio"
        if self.heuristic_ not in HEURISTICS:
            raise RRLError(f"heuristic {self.heuristic_!r}: expected one of {', '.join(HEURISTICS)}")
        return index

    def _stats(self, ids: list[int]) -> np.ndarray:
        y = self._y[np.asarray(ids, dtype=int) - self._first] if ids else np.zeros(0, dtype=int)
        return np.bincount(y, minlength=len(self.labels_)).astype(float)

    def _evaluate(self, ids: list[int], goals: Sequence[Test]) -> np.ndarray:
        return self.world_.evaluate_classes(ids, goals, len(self.labels_))

    def _choose(self, passed: np.ndarray, total: np.ndarray) -> int | None:
        return best_class_split(passed, total, self.minimal_cases_, self.heuristic_, self.significance_)

    def _node(self, query: Query, stats: np.ndarray) -> Node:
        n = int(stats.sum())
        # a node no training example reaches (only the root can be one) answers as the
        # root query's failure does: with the classes of all training examples
        counts = stats.copy() if n else self.default_distribution_.copy()
        return Node(query, self.labels_.values[int(np.argmax(counts))], n, distribution=counts)

    def _pure(self, stats: np.ndarray, ids: list[int]) -> bool:
        return int((stats > 0).sum()) <= 1

    def _prune(self, tree: Node, held_back: list[int]) -> None:
        prune_pessimistic(tree, self.confidence)
