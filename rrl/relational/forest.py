"""Relational random forests: bagged first-order trees with averaged predictions.

Beyond Tilde (which learns one tree): each of ``n_trees`` trees is grown by TILDE on a
bootstrap sample of the training examples (drawn with replacement; an example drawn
twice counts twice), and at every node only a random subset of the candidate
refinements is scored, so the trees differ and their errors partly cancel (Breiman's
random forest, with refinements in the place of features).  A forest predicts the mean
of its trees' class probabilities (classification) or values (regression).

All trees share one Prolog world: the examples are loaded once and every tree works on
its own list of keys.  The forest is written as Prolog too: one decision list per tree
and a rule that averages them, so plain ``swipl`` gives the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rrl.errors import RRLError
from rrl.relational.kb import Example
from rrl.relational.model import Background, frequencies
from rrl.relational.settings import Settings
from rrl.relational.tilde import TildeClassifier, TildeRegressor, _Tilde
from rrl.relational.tree import Leaf, Node, body, count_nodes, leaves, negations, tree_rules


class _Forest(_Tilde):
    n_trees: int
    max_candidates: float | str
    random_state: int | None

    def _fit_forest(self, examples: Sequence[Example]) -> None:
        if self.n_trees < 1:
            raise RRLError(f"n_trees must be at least 1, not {self.n_trees}")
        if not (self.max_candidates == "sqrt" or (not isinstance(self.max_candidates, str)
                                                  and float(self.max_candidates) > 0)):
            raise RRLError(f"max_candidates must be 'sqrt' or a positive number, not {self.max_candidates!r}")
        ids = self._begin(examples)
        if self.prune is None:  # forests average unpruned trees unless asked; prune/1 is for single trees
            self.prune_ = False
        rng = np.random.default_rng(self.random_state)
        try:
            self.trees_: list[Node] = []
            for _ in range(self.n_trees):
                sample = sorted(rng.choice(ids, size=len(ids), replace=True).tolist())
                self.trees_.append(self._fit_tree(sample, rng, self.max_candidates))
        finally:
            self.world_.unload(ids)
        self.tree_ = self.trees_[0]
        self._compile()

    def _compile(self) -> None:
        self.tree_leaves_ = [leaves(tree) for tree in self.trees_]
        self.leaves_ = [leaf for tree in self.tree_leaves_ for leaf in tree]
        for number, tree_leaves in enumerate(self.tree_leaves_):
            self.world_.compile(f"{self.name_}_{number}", [body(leaf) for leaf in tree_leaves])

    def apply(self, examples: Sequence[Example], shared_facts: Sequence[str] = ()) -> np.ndarray:
        """Leaf index of each example in each tree (-1 where a tree's root query fails):
        shape ``(examples, trees)``."""
        self._fitted()
        self._check_open()
        ids = self.world_.load(examples, shared_facts)
        try:
            routes = [self.world_.route(f"{self.name_}_{t}", ids) for t in range(len(self.trees_))]
        finally:
            self.world_.unload(ids)
        return np.stack(routes, axis=1) if routes else np.zeros((len(examples), 0), dtype=int)

    def abstract_state(self, example: Example) -> str | None:
        raise RRLError("a forest has no single abstract state: ask one of its trees (trees_)")

    @property
    def n_nodes(self) -> int:
        """Nodes of all the trees together."""
        self._fitted()
        return sum(count_nodes(tree) for tree in self.trees_)

    @property
    def n_leaves(self) -> int:
        """Leaves of all the trees together."""
        self._fitted()
        return sum(len(tree) for tree in self.tree_leaves_)

    def _header(self, kind: str, ask: str) -> list[str]:
        return [
            f"% Relational random forest ({kind}) learned by rrl from {self.n_examples_} examples:",
            f"% {len(self.trees_)} first-order trees grown by TILDE on bootstrap samples, "
            f"{self.n_leaves} leaves in all.",
            "% Use: consult the background knowledge and this file, assert the facts of one",
            f"% model (example), then ask  ?- {ask}",
            "% Each tree_N is a decision list; the forest averages their answers.",
        ]


class TildeForestClassifier(_Forest, TildeClassifier):
    """A relational random forest of first-order classification trees.

    Args:
        settings, background, minimal_cases, max_depth, n_thresholds, significance,
        heuristic, confidence: as :class:`TildeClassifier`, for every tree.
        prune: prune every tree; default False whatever the settings' ``prune/1`` says
            (a forest averages unpruned trees, as random forests do).
        n_trees: trees in the forest.
        max_candidates: candidate refinements scored at each node: ``"sqrt"`` (the
            square root of their number), a fraction in (0, 1), or a count.
        random_state: seed of the bootstrap samples and the candidate subsets.
    """

    def __init__(self, settings: Settings | str | Path, background: Background = None,
                 n_trees: int = 50, max_candidates: float | str = "sqrt", random_state: int | None = 0,
                 minimal_cases: int | None = None, max_depth: int | None = None,
                 n_thresholds: int | None = None, significance: float | None = None,
                 prune: bool | None = None, heuristic: str | None = None, confidence: float = 0.25) -> None:
        super().__init__(settings, background, minimal_cases, max_depth, n_thresholds, significance, prune,
                         heuristic, confidence)
        self.n_trees = n_trees
        self.max_candidates = max_candidates
        self.random_state = random_state

    def fit(self, examples: Sequence[Example], y: object = None) -> TildeForestClassifier:
        """Grow the forest on examples whose targets are classes; returns self."""
        self._fit_forest(examples)
        return self

    def predict_proba(self, examples: Sequence[Example], shared_facts: Sequence[str] = ()) -> np.ndarray:
        """The mean over the trees of their class probabilities (each tree's leaf class
        frequencies), summed tree by tree in order exactly as the Prolog rules do."""
        routes = self.apply(examples, shared_facts)
        total = np.zeros((len(examples), len(self.labels_)))
        for t, tree_leaves in enumerate(self.tree_leaves_):
            table = np.array([frequencies(n.distribution) for n in tree_leaves]
                             + [frequencies(self.default_distribution_)])
            total = total + table[routes[:, t]]
        return total / len(self.trees_)

    def leaves(self) -> list[Leaf]:
        """The leaves of every tree, tree after tree (each tree's in decision-list order)."""
        self._fitted()
        out = []
        for tree, tree_leaves in zip(self.trees_, self.tree_leaves_, strict=True):
            out += [Leaf(body(n), n.value, n.count, negated, self._distribution(n))
                    for n, negated in zip(tree_leaves, negations(tree), strict=True)]
        return out

    def to_prolog(self) -> str:
        """The forest as Prolog: ``tree_N(Class, Probabilities)`` for each tree,
        ``classify(Class, Probabilities)`` averaging them (the class with the largest
        mean probability, the first on ties) and ``predict(Class)``."""
        self._fitted()
        labels = self.labels_.texts
        lines = self._header("classification", "predict(Class).  or  ?- classify(Class, Probabilities).")
        if self.fact_preds_:
            lines.append(f":- dynamic {', '.join(self.fact_preds_)}.")
        calls = []
        for number, tree in enumerate(self.trees_, 1):
            lines.append("")
            lines.append(f"% tree {number}")
            lines += tree_rules(tree, f"tree_{number}", labels, self.default_distribution_)
            calls.append(f"tree_{number}(_, P{number})")
        lines += ["", "classify(Class, Probabilities) :-"]
        lines += [f"    {call}," for call in calls]
        lines += [f"    forest_mean([{', '.join(f'P{n}' for n in range(1, len(calls) + 1))}], Probabilities),",
                  "    forest_best(Probabilities, Class).", "", _AVERAGE,
                  "predict(Class) :-", "    classify(Class, _)."]
        return "\n".join(lines) + "\n"


# Plain Prolog (no library beyond lists): the mean of each class's probability over the
# trees, summed left to right as Python does, and the first class with the largest mean.
_AVERAGE = """\
forest_mean([First|Others], Mean) :-
    length([First|Others], N),
    findall(C-P,
            ( member(C-_, First),
              findall(X, ( member(Ps, [First|Others]), memberchk(C-X, Ps) ), Xs),
              foldl(forest_add, Xs, 0.0, Sum),
              P is Sum / N ),
            Mean).

forest_add(X, S0, S) :- S is S0 + X.

forest_best([C-P|Rest], Class) :- forest_best(Rest, C, P, Class).
forest_best([], C, _, C).
forest_best([C1-P1|Rest], C0, P0, Class) :-
    (   P1 > P0 -> forest_best(Rest, C1, P1, Class) ; forest_best(Rest, C0, P0, Class) ).
"""


class TildeForestRegressor(_Forest, TildeRegressor):
    """A relational random forest of first-order regression trees (mean of the trees'
    values).  Arguments as :class:`TildeForestClassifier` and :class:`TildeRegressor`."""

    def __init__(self, settings: Settings | str | Path, background: Background = None,
                 n_trees: int = 50, max_candidates: float | str = "sqrt", random_state: int | None = 0,
                 minimal_cases: int | None = None, max_depth: int | None = None,
                 n_thresholds: int | None = None, significance: float | None = None,
                 prune: bool | None = None) -> None:
        super().__init__(settings, background, minimal_cases, max_depth, n_thresholds, significance, prune)
        self.n_trees = n_trees
        self.max_candidates = max_candidates
        self.random_state = random_state

    def fit(self, examples: Sequence[Example], y: object = None) -> TildeForestRegressor:
        """Grow the forest on examples with numeric targets; returns self."""
        self._fit_forest(examples)
        return self

    def predict(self, examples: Sequence[Example], shared_facts: Sequence[str] = ()) -> np.ndarray:
        """The mean over the trees of their values, summed tree by tree in order."""
        routes = self.apply(examples, shared_facts)
        total = np.zeros(len(examples))
        for t, tree_leaves in enumerate(self.tree_leaves_):
            total = total + np.array([float(n.value) for n in tree_leaves] + [self.default_])[routes[:, t]]
        return total / len(self.trees_)

    def leaves(self) -> list[Leaf]:
        """The leaves of every tree, tree after tree."""
        self._fitted()
        out = []
        for tree, tree_leaves in zip(self.trees_, self.tree_leaves_, strict=True):
            out += [Leaf(body(n), n.value, n.count, negated)
                    for n, negated in zip(tree_leaves, negations(tree), strict=True)]
        return out

    def to_prolog(self) -> str:
        """The forest as Prolog: ``tree_N(Value)`` per tree and ``predict(Value)``, their mean."""
        self._fitted()
        lines = self._header("regression", "predict(Value).")
        if self.fact_preds_:
            lines.append(f":- dynamic {', '.join(self.fact_preds_)}.")
        for number, tree in enumerate(self.trees_, 1):
            lines.append("")
            lines.append(f"% tree {number}")
            lines += tree_rules(tree, f"tree_{number}", None, self.default_)
        names = [f"V{n}" for n in range(1, len(self.trees_) + 1)]
        lines += ["", "predict(Value) :-"]
        lines += [f"    tree_{n}({name})," for n, name in enumerate(names, 1)]
        lines += [f"    foldl(forest_add, [{', '.join(names)}], 0.0, Sum),",
                  f"    Value is Sum / {len(names)}.", "",
                  "forest_add(X, S0, S) :- S is S0 + X."]
        return "\n".join(lines) + "\n"


