"""The split choice shared by TILDE and TG (tree.best_split)."""

from __future__ import annotations

import numpy as np

from rrl.relational.tree import best_split, f_test


def _stats(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    part = y[mask]
    return np.array([len(part), part.sum(), (part * part).sum()])


def test_best_split_picks_the_smallest_error_and_respects_minimal_cases():
    y = np.array([0.0, 0.1, 0.2, 5.0, 5.1, 5.2, 5.3, 9.0])
    total = _stats(y, np.ones(len(y), bool))
    good = _stats(y, y > 4)
    outlier = _stats(y, y > 8)  # one example: below minimal_cases=2
    useless = _stats(y, np.arange(len(y)) % 2 == 0)
    passed = np.array([useless, outlier, good])
    assert best_split(passed, total, minimal=2) == 2
    assert best_split(passed[:2], total, minimal=2) == 0
    assert best_split(passed[1:2], total, minimal=2) is None
    assert best_split(np.zeros((0, 3)), total, minimal=2) is None
    # nothing to gain: a split that leaves the error where it is
    flat = np.ones(6)
    assert best_split(np.array([_stats(flat, np.arange(6) < 3)]), _stats(flat, np.ones(6, bool)), 1) is None
