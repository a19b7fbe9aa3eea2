"""Pruning grown trees: C4.5's pessimistic error for classification trees, reduced error
on held-back examples for regression trees.

A tree grown until ``minimal_cases`` fits noise; pruning turns subtrees back into leaves
where they do not pay for themselves.  Tilde prunes classification trees the way C4.5
does, from the training counts alone, and regression trees on a validation set.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rrl.relational.tree import Node


def pessimistic_errors(n: float, errors: float, confidence: float = 0.25) -> float:
    """C4.5's pessimistic estimate of the errors of a leaf with ``n`` training examples of
    which ``errors`` are misclassified: ``n`` times the upper limit of the binomial
    confidence interval (level ``confidence``) of the error rate (Clopper-Pearson)."""
    from scipy.stats import beta

    if n <= 0:
        return 0.0
    if errors >= n:
        return float(n)
    return float(n * beta.ppf(1.0 - confidence, errors + 1.0, n - errors))


def prune_pessimistic(node: Node, confidence: float = 0.25) -> float:
    """Prune a classification tree in place, bottom-up: a subtree becomes a leaf when the
    leaf's pessimistic error is at most the sum over the subtree's leaves (plus C4.5's
    tolerance of 0.1 errors).  Nodes need ``distribution`` (their training counts).

    Returns:
        The pessimistic error of what remains of ``node``.
    """
    assert node.distribution is not None
    counts = node.distribution
    n = float(counts.sum())
    as_leaf = pessimistic_errors(n, n - float(counts.max(initial=0.0)), confidence)
    if node.is_leaf:
        return as_leaf
    assert node.yes is not None and node.no is not None
    subtree = prune_pessimistic(node.yes, confidence) + prune_pessimistic(node.no, confidence)
    if as_leaf <= subtree + 0.1:
        make_leaf(node)
        return as_leaf
    return subtree


def prune_reduced_error(node: Node, ids: list[int], route: Callable[[Node, list[int]], list[int]],
                        error: Callable[[Node, list[int]], float]) -> float:
    """Reduced-error pruning in place, bottom-up, on held-back examples: a subtree
    becomes a leaf when the leaf's error on the held-back examples that reach it is no
    larger than the subtree's.

    Args:
        node: the subtree.
        ids: the held-back examples that reach ``node``.
        route: ``route(node, ids)``: those of ``ids`` that pass the node's test.
        error: ``error(leaf, ids)``: the error of a leaf's prediction on ``ids``.

    Returns:
        The held-back error of what remains of ``node``.
    """
    as_leaf = error(node, ids)
    if node.is_leaf:
        return as_leaf
    assert node.yes is not None and node.no is not None
    passing = route(node, ids) if ids else []
    chosen = set(passing)
    subtree = (prune_reduced_error(node.yes, passing, route, error)
               + prune_reduced_error(node.no, [i for i in ids if i not in chosen], route, error))
    if as_leaf <= subtree + 1e-12 * max(abs(subtree), 1.0):
        make_leaf(node)
        return as_leaf
    return subtree


def make_leaf(node: Node) -> None:
    """Turn an internal node into a leaf (its value and counts are already the node's)."""
    node.test = node.yes = node.no = None


def majority(counts: np.ndarray) -> int:
    """Index of the most frequent class (the first on ties)."""
    return int(np.argmax(counts))
