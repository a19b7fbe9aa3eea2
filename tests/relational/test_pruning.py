"""Pruning: a tree grown on noisy labels shrinks and keeps (or gains) held-out accuracy;
the pessimistic error is C4.5's."""

from __future__ import annotations

import numpy as np
import pytest

from rrl.relational import TildeClassifier, TildeRegressor, synthetic
from rrl.relational.pruning import pessimistic_errors, prune_pessimistic
from rrl.relational.tree import Node


def test_pessimistic_errors_are_c45s_upper_confidence_limits():
    assert pessimistic_errors(6, 0) == pytest.approx(6 * 0.206, abs=0.005)  # Quinlan (1993), section 4.2
    assert pessimistic_errors(1, 0) == pytest.approx(0.75)  # 1 - 0.25 ** (1 / 1)
    assert pessimistic_errors(10, 10) == 10
    assert pessimistic_errors(0, 0) == 0
    # more evidence, smaller margin: the estimated rate approaches the observed one
    assert pessimistic_errors(1000, 100) / 1000 < pessimistic_errors(10, 1) / 10


def _node(counts: list[float], yes: Node | None = None, no: Node | None = None) -> Node:
    from rrl.relational.language import Query, Refinement

    node = Node(Query((), (), ()), distribution=np.array(counts, dtype=float), count=int(sum(counts)))
    if yes is not None:
        node.test, node.yes, node.no = Refinement((), (), 0), yes, no
    return node


def test_a_split_that_only_fits_noise_is_pruned_and_a_real_one_kept():
    # 6 + 4 examples split into two nearly identical halves: not worth a test
    noise = _node([6, 4], _node([3, 2]), _node([3, 2]))
    prune_pessimistic(noise)
    assert noise.is_leaf
    # 40 + 40 examples split into two pure halves: kept
    real = _node([40, 40], _node([40, 0]), _node([0, 40]))
    prune_pessimistic(real)
    assert not real.is_leaf and real.yes is not None and real.yes.is_leaf


def test_pruning_shrinks_a_noise_overfit_classification_tree_and_keeps_accuracy(tmp_path):
    settings = tmp_path / "mol.s"
    settings.write_text(synthetic.CLASS_SETTINGS)
    train = synthetic.make_molecules(400, seed=21, noise=0.15)
    held_out = synthetic.make_molecules(400, seed=22, prefix="h")  # clean labels
    grown = TildeClassifier(settings).fit(train)
    pruned = TildeClassifier(settings, prune=True).fit(train)
    assert len(grown.leaves()) >= 20
    assert len(pruned.leaves()) <= len(grown.leaves()) / 3
    assert pruned.score(held_out) >= grown.score(held_out)
    assert pruned.score(held_out) >= 0.95  # the rule survives, the noise does not
    assert pruned.leaves()[0].conjunction.endswith("bond(Atom1, Atom3, 2), atm(Atom3, o, Charge4)")


def test_reduced_error_pruning_shrinks_a_noise_overfit_regression_tree(files, train, held_out):
    grown = TildeRegressor(files["settings"], background=files["bg"], significance=1).fit(train)
    pruned = TildeRegressor(files["settings"], background=files["bg"], significance=1, prune=True).fit(train)
    truth = [e.target for e in held_out]
    assert pruned.n_nodes < grown.n_nodes / 3
    assert pruned.score(held_out, truth) >= grown.score(held_out, truth) - 0.005
    assert pruned.score(held_out, truth) >= 0.95
    assert sum(leaf.count for leaf in pruned.leaves()) < len(train)  # a third was held back
