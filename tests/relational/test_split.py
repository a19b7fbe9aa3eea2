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


def test_the_best_of_k_candidates_is_held_to_level_over_k():
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1, 40) + np.r_[np.zeros(20), np.full(20, 0.9)]
    total = _stats(y, np.ones(40, bool))
    candidate = _stats(y, np.arange(40) >= 20)
    n, s, q = total
    p = f_test(q - s * s / n, q - s * s / n - (candidate[1] ** 2 / 20 + (s - candidate[1]) ** 2 / 20 - s * s / n), 40)
    assert 1e-4 < p < 0.05
    assert best_split(np.array([candidate]), total, minimal=2, significance=2 * p) == 0
    # the same split among four candidates: Bonferroni asks for p < 2p / 4
    assert best_split(np.array([candidate] * 4), total, minimal=2, significance=2 * p) is None
    assert best_split(np.array([candidate] * 4), total, minimal=2, significance=5 * p) == 0
    # ineligible candidates (fewer than minimal cases on a side) do not count
    tiny = _stats(y, np.arange(40) == 0)
    assert best_split(np.array([candidate, tiny, tiny, tiny]), total, minimal=2, significance=2 * p) == 0
