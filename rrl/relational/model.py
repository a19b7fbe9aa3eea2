"""What TILDE and TG trees share: a world to evaluate in, prediction, abstract states."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from rrl.errors import RRLError, SettingsError
from rrl.relational.constants import Constants
from rrl.relational.engine import World
from rrl.relational.kb import Example
from rrl.relational.labels import ClassLabels, UnknownClass
from rrl.relational.language import Language
from rrl.relational.settings import Settings, read_settings
from rrl.relational.tree import (
    Leaf,
    Node,
    body,
    count_nodes,
    leaves,
    negations,
    to_prolog,
    to_prolog_classes,
)

_TREES = itertools.count(1)
Background = str | Path | Sequence[str | Path] | None


class NotFittedError(RRLError):
    """A tree was used before fit."""


def example_error(example: Example, problem: str) -> RRLError:
    """An error about one example: ``file:line: model Id: problem`` when it was read from
    a ``.kb`` (the line of its ``begin``), else ``example Id: problem``."""
    if example.line is not None:
        return SettingsError(example.source, example.line, f"model {example.id}: {problem}")
    return RRLError(f"example {example.id}: {problem}")


class TreeModel(BaseEstimator):  # type: ignore[misc]
    """Base of the relational tree learners (parameters are set by the subclasses)."""

    settings: Settings | str | Path
    background: Background
    minimal_cases: int | None
    max_depth: int | None
    n_thresholds: int | None
    tree_: Node | None
    _learner = "tree"

    # -- set-up --------------------------------------------------------------------

    def _start(self) -> None:
        """Read settings, open a fresh world with the background, reset the constants."""
        self.settings_ = self.settings if isinstance(self.settings, Settings) else read_settings(self.settings)
        if self.background is None:
            files: list[str | Path] = []
        elif isinstance(self.background, str | Path):
            files = [self.background]
        else:
            files = list(self.background)
        old = getattr(self, "world_", None)
        if old is not None:  # refitting: free the previous world's clauses
            old.close()
        self.world_ = World(files)
        self.world_.check_language(self.settings_)
        self.constants_ = Constants(self._n_thresholds(), discrete=self.settings_.discrete)
        self.language_ = Language(self.settings_, self.constants_)
        self.name_ = f"rrl_tree_{next(_TREES)}"
        self.n_examples_ = 0
        self.fact_preds_: list[str] = []

    @staticmethod
    def _targets(examples: Sequence[Example]) -> np.ndarray:
        """The targets of training examples as floats.

        Raises:
            RRLError: an example has no target, or one that is not a finite number
                (a SettingsError naming the file and the block's line for examples
                read from a ``.kb``).
        """
        values = []
        for example in examples:
            if example.target is None:
                raise example_error(example, "every training example needs a target")
            try:
                value = float(example.target)
            except (TypeError, ValueError):
                raise example_error(example, f"target {example.target!r} is not a number "
                                             "(a regression needs numbers; classes need a classifier)") from None
            if not np.isfinite(value):
                raise example_error(example, f"target {example.target!r} is not a finite number")
            values.append(value)
        return np.array(values, dtype=float)

    def close(self) -> None:
        """Free the Prolog world (background, loaded examples, compiled rules) the model
        holds; a world lives in the process-wide Prolog engine until it is closed.  The
        learned tree stays readable (:meth:`leaves`, :meth:`to_prolog`); :meth:`predict`
        and :meth:`apply` need a new :meth:`fit`.  Also ``with model: ...``."""
        world = getattr(self, "world_", None)
        if world is not None:
            world.close()
            del self.world_

    def __enter__(self) -> TreeModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _n_thresholds(self) -> int:
        """``n_thresholds`` when set, else the settings' ``discretization(bounds(N))``, else 9."""
        if self.n_thresholds is not None:
            return int(self.n_thresholds)
        return self.settings_.n_thresholds if self.settings_.n_thresholds is not None else 9

    def _param(self, name: str, default: float) -> float:
        own = getattr(self, name)
        if own is not None:
            return float(own)
        from_file = getattr(self.settings_, name)
        return float(from_file) if from_file is not None else default

    def _compile(self) -> None:
        self.leaves_ = leaves(self._fitted())
        self.world_.compile(self.name_, [body(leaf) for leaf in self.leaves_])

    def _check_open(self) -> None:
        if getattr(self, "world_", None) is None:
            raise NotFittedError(f"this {type(self).__name__} was closed: fit it again")

    def _fitted(self) -> Node:
        """The fitted tree (the first tree of a forest)."""
        tree = getattr(self, "tree_", None)
        if tree is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet")
        return tree

    # -- prediction ----------------------------------------------------------------

    def apply(self, examples: Sequence[Example], shared_facts: Sequence[str] = ()) -> np.ndarray:
        """Index (in :meth:`leaves` order) of the leaf each example reaches, -1 if none.

        Args:
            examples: the examples.
            shared_facts: facts true in every example, loaded once (see :meth:`predict`).

        One Prolog call loads the examples, one routes them all, one unloads them.
        """
        self._fitted()
        self._check_open()
        ids = self.world_.load(examples, shared_facts)
        try:
            return self.world_.route(self.name_, ids)
        finally:
            self.world_.unload(ids)

    def predict(self, examples: Sequence[Example], shared_facts: Sequence[str] = ()) -> np.ndarray:
        """Predicted value of each example (the training mean when the root query fails).

        Args:
            examples: the examples.
            shared_facts: facts that hold in every example, loaded once: for Q-values of
                the candidate actions of one state, pass the state's facts here and only
                each action's facts in the examples.

        Returns:
            One value per example.
        """
        index = self.apply(examples, shared_facts)
        values = np.array([leaf.value for leaf in self.leaves_] + [self.default_])
        return values[index]  # -1 selects the default

    def abstract_state(self, example: Example) -> str | None:
        """Algorithm 2: the abstract state of the first leaf (rule) covering the example,
        as a stand-alone description (:attr:`Leaf.description`: the leaf's conjunction
        and the negated tests of the no-branches above it); None when the root query
        fails."""
        index = int(self.apply([example])[0])
        return None if index < 0 else self.leaves()[index].description

    def leaves(self) -> list[Leaf]:
        """The abstract states in decision-list order, with value and training count.

        The order matters: a leaf's ``conjunction`` describes its examples only given
        that every earlier leaf's rule failed; its ``negated`` queries (the failed tests
        of the no-branches on its path) make ``description`` stand on its own.
        """
        tree = self._fitted()
        return [Leaf(body(n), n.value, n.count, negated)
                for n, negated in zip(self.leaves_, negations(tree), strict=True)]

    @property
    def n_nodes(self) -> int:
        """Number of nodes of the fitted tree."""
        return count_nodes(self._fitted())

    def to_prolog(self) -> str:
        """The tree as readable Prolog rules defining ``predict(Value)`` (see tree.to_prolog)."""
        return to_prolog(self._fitted(), self.fact_preds_, self.default_, self._learner, self.n_examples_)


class ClassTree:
    """What every classification tree (TILDE's, TG's, a forest's) shares: its classes,
    class probabilities from the leaves' class counts, accuracy, and the Prolog form
    with ``classify/2``.  Mixed into a :class:`TreeModel`."""

    settings_: Settings
    labels_: ClassLabels
    classes_: np.ndarray
    default_distribution_: np.ndarray
    default_: object
    leaves_: list[Node]
    fact_preds_: list[str]
    n_examples_: int
    _learner: str

    def _set_classes(self, examples: Sequence[Example]) -> np.ndarray:
        """Set the classes (``labels_``, ``classes_``: those of classes/1, else those of
        the examples) and the class counts of the examples (``default_distribution_``,
        the prediction where the root query fails); return each example's class index.

        Raises:
            RRLError: a target is none of the classes (names the .kb file and line).
        """
        self.labels_ = ClassLabels.of([e.target for e in examples], self.settings_.classes)
        self.classes_ = np.array(self.labels_.values, dtype=object)
        index = self._class_index(examples)
        self.default_distribution_ = np.bincount(index, minlength=len(self.labels_)).astype(float)
        self.default_ = self.labels_.values[int(np.argmax(self.default_distribution_))]
        return index

    def _class_index(self, examples: Sequence[Example]) -> np.ndarray:
        """Each example's class index.

        Raises:
            RRLError: a target is none of the classes (names the .kb file and line).
        """
        try:
            return np.array(self.labels_.index([e.target for e in examples]), dtype=int)
        except UnknownClass as error:
            declared = (f" of classes/1 in {self.settings_.source}" if self.settings_.classes
                        else " (declare every class with classes/1 in the settings)")
            raise example_error(examples[error.position], f"{error}{declared}") from None

    def predict_proba(self, examples: Sequence[Example], shared_facts: Sequence[str] = ()) -> np.ndarray:
        """Class probabilities of each example: the class frequencies of the training
        examples in the leaf it reaches (of all training examples when the root query
        fails); columns in the order of ``classes_``."""
        index = self.apply(examples, shared_facts)  # type: ignore[attr-defined]
        table = np.array([frequencies(n.distribution) for n in self.leaves_]
                         + [frequencies(self.default_distribution_)])
        return table[index]  # type: ignore[no-any-return]

    def predict(self, examples: Sequence[Example], shared_facts: Sequence[str] = ()) -> np.ndarray:
        """The predicted class of each example (the largest probability, the first class
        on ties: a leaf's majority class)."""
        return self.classes_[np.argmax(self.predict_proba(examples, shared_facts), axis=1)]  # type: ignore[no-any-return]

    def score(self, examples: Sequence[Example], y: object = None, sample_weight: object = None) -> float:
        """Accuracy on examples with targets."""
        truth = self.labels_.index([e.target for e in examples])
        predicted = self.labels_.index(list(self.predict(examples)))
        return float(np.mean(np.array(truth) == np.array(predicted)))

    def leaves(self) -> list[Leaf]:
        """The abstract states in decision-list order, with majority class, training
        count and class distribution (see :meth:`TreeModel.leaves`)."""
        tree = self._fitted()  # type: ignore[attr-defined]
        return [Leaf(body(n), n.value, n.count, negated, self._distribution(n))
                for n, negated in zip(self.leaves_, negations(tree), strict=True)]

    def _distribution(self, node: Node) -> tuple[tuple[object, int], ...]:
        assert node.distribution is not None
        return tuple(zip(self.labels_.values, (int(c) for c in node.distribution), strict=True))

    def to_prolog(self) -> str:
        """The tree as Prolog rules defining ``classify(Class, Probabilities)`` and
        ``predict(Class)`` (see tree.to_prolog_classes)."""
        return to_prolog_classes(self._fitted(), self.fact_preds_, self.labels_.texts,  # type: ignore[attr-defined]
                                 self.default_distribution_, self._learner, self.n_examples_)


def frequencies(counts: np.ndarray | None) -> np.ndarray:
    """Class counts as frequencies (all zero for no examples)."""
    assert counts is not None
    return counts / max(float(counts.sum()), 1.0)
