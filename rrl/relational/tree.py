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
        value: prediction (mean target) of a leaf.
        count: training examples that reached the node.
        test: the refinement tested here (internal nodes).
        yes, no: children.
        state: learner-specific data (TG's statistics).
    """

    query: Query
    value: float = 0.0
    count: int = 0
    test: Refinement | None = None
    yes: Node | None = None
    no: Node | None = None
    state: Any = field(default=None, repr=False)

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
        value: the prediction (mean training target).
        count: training examples that reached the leaf.
        negated: one query per no-branch on the path, the query of that node with its
            test, which failed for the leaf's examples: ``\\+ (negated_i)`` holds.
    """

    conjunction: str
    value: float
    count: int
    negated: tuple[str, ...] = ()

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
        significance: when set, the best split must also pass the F-test (:func:`f_test`)
            at this level divided by the number of eligible candidates (Bonferroni: the
            best of K tests is tried, so each is held to level / K).

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
    if significance is not None:
        eligible = int(np.isfinite(sse).sum())
        if f_test(node_sse, float(sse[best]), int(n)) >= significance / eligible:
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
    parts = _segments(root, [root.query.literals] if root.query.literals else [])
    lines = [
        f"% First-order regression tree learned by rrl ({learner}) from {n_examples} examples:",
        f"% {len(parts)} leaves, {count_nodes(root)} nodes, written as a decision list.",
        "% Use: consult the background knowledge and this file, assert the facts of one",
        "% model (example), then ask  ?- predict(Value).",
        "% The first rule whose body holds gives the value; its body is the abstract state.",
    ]
    if fact_preds:
        lines.append(f":- dynamic {', '.join(fact_preds)}.")
    for number, (leaf, segments) in enumerate(parts, 1):
        segments = _mark_singletons(segments)
        lines.append("")
        lines.append(f"% leaf {number}: {leaf.count} training examples, mean target {leaf.value:.6g}")
        lines.append("predict(Value) :-")
        for segment in segments:
            lines.append(f"    {conjunction(segment)},")
        lines.append("    !,")
        lines.append(f"    Value = {format_number(float(leaf.value))}.")
    lines.append("")
    lines.append("% no rule above applies (the root query fails): the mean of all training targets")
    lines.append(f"predict({format_number(float(default))}).")
    return "\n".join(lines) + "\n"
