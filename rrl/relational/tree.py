"""First-order regression trees: nodes, leaves in decision-list order, Prolog output.

A node holds the query of its path (root query plus the tests of the yes-branches taken).
The yes-child of a node with test C has query ``Q, C``; the no-child keeps ``Q``.  Listing
the leaves depth first, yes before no, and cutting after each rule gives a decision list
equivalent to the tree: a rule is reached only when every earlier rule failed, which is
exactly the "no" of the tests that sent the example right.  Each rule is a standalone
clause, so no binding made while trying a failed rule survives into the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rrl.relational.language import Query, Refinement
from rrl.relational.terms import Lit, Term, Var, conjunction, format_number


@dataclass
class Node:
    """A tree node; a leaf when ``test`` is None.

    Attributes:
        query: conjunction of the path (root query and yes-tests above).
        value: prediction of a leaf: the mean target (regression) or the majority
            class (classification).
        count: training examples that reached the node.
        distribution: classification: training examples of each class at the node.
        test: the refinement tested here (internal nodes).
        yes, no: children.
        state: learner-specific data (TG's statistics).
    """

    query: Query
    value: Any = 0.0
    count: int = 0
    test: Refinement | None = None
    yes: Node | None = None
    no: Node | None = None
    state: Any = field(default=None, repr=False)
    distribution: np.ndarray | None = field(default=None, repr=False)

    @property
    def is_leaf(self) -> bool:
        return self.test is None


@dataclass(frozen=True)
class Leaf:
    """An abstract state: a leaf of the tree as a rule of the decision list.

    Attributes:
        conjunction: the leaf's query (root query and the tests of the yes-branches on
            its path).  Alone it also covers examples that an earlier rule took: in the
            decision list a rule is tried only after every earlier rule failed.
        value: the prediction: mean training target, or majority class.
        count: training examples that reached the leaf.
        negated: one query per no-branch on the path, the query of that node with its
            test, which failed for the leaf's examples: ``\\+ (negated_i)`` holds.
        distribution: classification: ``(class, training examples)`` for every class.
    """

    conjunction: str
    value: Any
    count: int
    negated: tuple[str, ...] = ()
    distribution: tuple[tuple[Any, int], ...] = ()

    @property
    def description(self) -> str:
        """The abstract state on its own, as one Prolog goal: the failed tests of the
        no-branches first, each ``\\+ (...)`` a closed query (its variables are its own;
        Prolog calls it while they are still unbound), then the conjunction.  It covers
        exactly the examples the decision list sends to this leaf."""
        return ", ".join([f"\\+ ({n})" for n in self.negated] + [self.conjunction])


def f_test(total_sse: float, split_sse: float, n: int) -> float:
    """p-value of the F-test that a binary split reduces squared error from ``total_sse``
    to ``split_sse`` on ``n`` examples more than chance (1 and n-2 degrees of freedom)."""
    from scipy.stats import f as f_dist

    if n <= 2:
        return 1.0
    residual = max(split_sse, 1e-12 * max(total_sse, 1.0)) / (n - 2)
    return float(f_dist.sf((total_sse - split_sse) / residual, 1, n - 2))


def best_split(passed: np.ndarray, total: np.ndarray | Sequence[float], minimal: int,
               significance: float | None = None) -> int | None:
    """The candidate test that best splits a node, or None when none may split it.

    Args:
        passed: one row ``(count, sum, sum of squares)`` of the targets of the examples
            that pass each candidate test; those that fail follow from ``total``.
        total: ``(count, sum, sum of squares)`` of all the node's targets.
        minimal: fewest examples on each side of a split.
        significance: when set (below 1; 1 turns the test off), the best split must also
            pass the F-test (:func:`f_test`) at this level divided by the number of
            eligible candidates (Bonferroni: the best of K tests is tried, so each is held
            to level / K).

    Returns:
        The index of the candidate with the smallest sum of squared errors of its two
        sides, provided both sides keep ``minimal`` examples, the error goes down and
        (with ``significance``) the reduction is significant.
    """
    n, s, q = (float(v) for v in total)
    if len(passed) == 0 or n == 0:
        return None
    n1, s1, q1 = passed[:, 0], passed[:, 1], passed[:, 2]
    n0, s0, q0 = n - n1, s - s1, q - q1
    with np.errstate(divide="ignore", invalid="ignore"):
        sse = (q1 - s1 * s1 / n1) + (q0 - s0 * s0 / n0)
    sse[(n1 < minimal) | (n0 < minimal) | ~np.isfinite(sse)] = np.inf
    best = int(np.argmin(sse))
    node_sse = q - s * s / n
    if not np.isfinite(sse[best]) or sse[best] >= node_sse - 1e-9 * max(node_sse, 1.0):
        return None
    if significance is not None and significance < 1:
        eligible = int(np.isfinite(sse).sum())
        if f_test(node_sse, float(sse[best]), int(n)) >= significance / eligible:
            return None
    return best


def entropy(counts: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row of class counts (0 for an empty row)."""
    counts = np.asarray(counts, dtype=float)
    n = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, counts / n, 0.0)
        terms = np.where(p > 0, -p * np.log2(p), 0.0)
    return np.asarray(terms.sum(axis=-1))


def g_test(table: np.ndarray) -> float:
    """p-value of the G-test (likelihood ratio) that the class distribution of the two
    rows of ``table`` (examples passing / failing a test, counts per class) differs."""
    from scipy.stats import chi2

    table = np.asarray(table, dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        g = 2.0 * np.where(table > 0, table * np.log(table / expected), 0.0).sum()
    return float(chi2.sf(g, table.shape[1] - 1))


def best_class_split(passed: np.ndarray, total: np.ndarray | Sequence[float], minimal: int,
                     heuristic: str = "gainratio", significance: float | None = None) -> int | None:
    """The candidate test that best splits a node of a classification tree, or None.

    Args:
        passed: one row per candidate test: how many examples of each class pass it;
            those that fail follow from ``total``.
        total: examples of each class at the node.
        minimal: fewest examples on each side of a split.
        heuristic: ``"gainratio"`` (Tilde's default, after C4.5): information gain
            divided by the split's own information, among the tests whose gain is at
            least the average gain of the eligible tests (C4.5's guard against tests
            that win only by splitting off a handful of examples); ``"gain"``:
            information gain.
        significance: when set (below 1; 1 turns the test off), the chosen test must also
            pass a G-test at this level divided by the number of eligible tests
            (Bonferroni, as :func:`best_split`).

    Returns:
        The index of the chosen test, provided both sides keep ``minimal`` examples and
        it gains information; the first such test on ties.
    """
    passed = np.asarray(passed, dtype=float)
    total = np.asarray(total, dtype=float)
    n = total.sum()
    if len(passed) == 0 or n == 0:
        return None
    failed = total - passed
    n1, n0 = passed.sum(axis=1), failed.sum(axis=1)
    gain = entropy(total) - (n1 / n) * entropy(passed) - (n0 / n) * entropy(failed)
    eligible = (n1 >= minimal) & (n0 >= minimal) & (gain > 1e-12)
    if not eligible.any():
        return None
    if heuristic == "gain":
        score = gain.copy()
    else:
        score = gain / np.maximum(entropy(np.stack([n1, n0], axis=1)), 1e-12)
        eligible = eligible & (gain >= gain[eligible].mean() - 1e-12)
    score[~eligible] = -np.inf
    best = int(np.argmax(score))
    if significance is not None and significance < 1:
        count = int(((n1 >= minimal) & (n0 >= minimal) & (gain > 1e-12)).sum())
        if g_test(np.stack([passed[best], failed[best]])) >= significance / count:
            return None
    return best


def leaves(root: Node) -> list[Node]:
    """Leaves in decision-list order (depth first, yes-branch first)."""
    if root.is_leaf:
        return [root]
    assert root.yes is not None and root.no is not None
    return leaves(root.yes) + leaves(root.no)


def negations(root: Node, failed: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """For each leaf (in :func:`leaves` order), the queries ``Q, C`` of the nodes on its
    path where it took the no-branch (test ``C`` failed on query ``Q``)."""
    if root.is_leaf:
        return [failed]
    assert root.yes is not None and root.no is not None and root.test is not None
    here = conjunction(root.query.literals + root.test.literals)
    return negations(root.yes, failed) + negations(root.no, (*failed, here))


def count_nodes(root: Node) -> int:
    """Number of nodes (internal and leaves)."""
    if root.is_leaf:
        return 1
    assert root.yes is not None and root.no is not None
    return 1 + count_nodes(root.yes) + count_nodes(root.no)


def body(node: Node) -> str:
    """The rule body (conjunction text) of a leaf."""
    return conjunction(node.query.literals)


def _segments(root: Node, prefix: list[tuple[Lit, ...]]) -> list[tuple[Node, list[tuple[Lit, ...]]]]:
    if root.is_leaf:
        return [(root, prefix)]
    assert root.yes is not None and root.no is not None and root.test is not None
    return _segments(root.yes, [*prefix, root.test.literals]) + _segments(root.no, prefix)


def _mark_singletons(segments: list[tuple[Lit, ...]]) -> list[tuple[Lit, ...]]:
    """Prefix variables used once in a rule with ``_`` so plain swipl loads it silently."""
    uses: dict[str, int] = {}
    for segment in segments:
        for lit in segment:
            for var in lit.variables():
                uses[var.name] = uses.get(var.name, 0) + 1

    def mark(term: Term) -> Term:
        if isinstance(term, Var) and uses[term.name] == 1 and not term.name.startswith("_"):
            return Var("_" + term.name)
        return term

    return [tuple(Lit(lit.pred, tuple(mark(a) for a in lit.args)) for lit in seg) for seg in segments]


def _header(kind: str, learner: str, n_examples: int, n_leaves: int, n_nodes: int, ask: str) -> list[str]:
    return [
        f"% First-order {kind} tree learned by rrl ({learner}) from {n_examples} examples:",
        f"% {n_leaves} leaves, {n_nodes} nodes, written as a decision list.",
        "% Use: consult the background knowledge and this file, assert the facts of one",
        f"% model (example), then ask  ?- {ask}",
        f"% The first rule whose body holds gives the {'value' if kind == 'regression' else 'class'}; "
        "its body is the abstract state.",
    ]


def _rule(head: str, segments: list[tuple[Lit, ...]], result: list[str]) -> list[str]:
    lines = [f"{head} :-"]
    lines.extend(f"    {conjunction(segment)}," for segment in _mark_singletons(segments))
    lines.append("    !,")
    lines.extend(f"    {line}," for line in result[:-1])
    lines.append(f"    {result[-1]}.")
    return lines


def describe_counts(labels: Sequence[str], counts: np.ndarray) -> str:
    """``"active: 38, inactive: 2"``: a class distribution for comments."""
    return ", ".join(f"{label}: {int(c)}" for label, c in zip(labels, counts, strict=True))


def probabilities_text(labels: Sequence[str], probabilities: np.ndarray) -> str:
    """A Prolog list ``[Class-P, ...]`` (probabilities written exactly)."""
    return "[" + ", ".join(f"{label}-{format_number(float(p))}"
                           for label, p in zip(labels, probabilities, strict=True)) + "]"


def tree_rules(root: Node, head: str, labels: Sequence[str] | None, default: float | np.ndarray) -> list[str]:
    """The decision list of one tree: a commented rule per leaf, then the rule for
    examples the root query does not cover.

    Args:
        root: the tree.
        head: the predicate name: ``head(Value)`` for regression, ``head(Class,
            Probabilities)`` for classification (leaves carry ``distribution``).
        labels: the classes as Prolog text, in the order of the distributions; None
            for a regression tree.
        default: the mean training target, or the class counts of all training
            examples, used when the root query fails.
    """
    lines: list[str] = []
    for number, (leaf, segments) in enumerate(_segments(root, [root.query.literals] if root.query.literals else []), 1):
        lines.append("")
        if labels is None:
            lines.append(f"% leaf {number}: {leaf.count} training examples, mean target {leaf.value:.6g}")
            lines.extend(_rule(f"{head}(Value)", segments, [f"Value = {format_number(float(leaf.value))}"]))
            continue
        assert leaf.distribution is not None
        counts = leaf.distribution
        seen = (f"{leaf.count} training examples: {describe_counts(labels, counts)}" if leaf.count
                else "no training example: the classes of all of them")
        lines.append(f"% leaf {number}: {seen}")
        lines.extend(_rule(f"{head}(Class, Probabilities)", segments,
                           [f"Class = {labels[int(np.argmax(counts))]}",
                            f"Probabilities = {probabilities_text(labels, counts / max(counts.sum(), 1))}"]))
    lines.append("")
    if labels is None:
        lines.append("% no rule above applies (the root query fails): the mean of all training targets")
        lines.append(f"{head}({format_number(float(default))}).")
    else:
        counts = np.asarray(default, dtype=float)
        lines.append("% no rule above applies (the root query fails): the classes of all training examples")
        lines.append(f"{head}({labels[int(np.argmax(counts))]}, "
                     f"{probabilities_text(labels, counts / max(counts.sum(), 1))}).")
    return lines


def to_prolog_classes(root: Node, fact_preds: list[str], labels: Sequence[str], default: np.ndarray,
                      learner: str, n_examples: int) -> str:
    """A classification tree as a decision list defining ``classify(Class, Probabilities)``
    (the leaf's majority class and its class frequencies) and ``predict(Class)``.

    Args:
        root: the tree (leaves carry ``distribution``).
        fact_preds: ``name/arity`` of the example facts (declared dynamic).
        labels: the classes as Prolog text, in the order of the distributions.
        default: class counts used when the root query fails (all training examples).
        learner: name written in the header.
        n_examples: training examples, for the header.
    """
    lines = _header("classification", learner, n_examples, len(leaves(root)), count_nodes(root),
                    "predict(Class).  or  ?- classify(Class, Probabilities).")
    if fact_preds:
        lines.append(f":- dynamic {', '.join(fact_preds)}.")
    lines += tree_rules(root, "classify", labels, default)
    lines += ["", "predict(Class) :-", "    classify(Class, _)."]
    return "\n".join(lines) + "\n"


def to_prolog(root: Node, fact_preds: list[str], default: float, learner: str, n_examples: int) -> str:
    """The tree as a decision list defining ``predict(Value)``.

    Args:
        root: the tree.
        fact_preds: ``name/arity`` of the example facts (declared dynamic so that a model
            lacking some of them still runs in plain ``swipl``).
        default: value when the root query itself fails.
        learner: name written in the header.
        n_examples: training examples, for the header.

    Returns:
        Prolog source text.
    """
    lines = _header("regression", learner, n_examples, len(leaves(root)), count_nodes(root), "predict(Value).")
    if fact_preds:
        lines.append(f":- dynamic {', '.join(fact_preds)}.")
    lines += tree_rules(root, "predict", None, default)
    return "\n".join(lines) + "\n"
