"""The statistics of evaluate.py: the ROC AUC of many resamples at once, and its BCa bootstrap interval."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from ..evaluate import accuracy_at_half, confidence_interval, roc_auc


def sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    return y, y * 0.6 + rng.uniform(size=n)  # an AUC of about 0.8


def test_the_rank_auc_is_sklearns_auc_for_every_row_at_once():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (5, 40))
    p = rng.integers(0, 6, (5, 40)) / 5  # few distinct scores: many ties, each counting half
    expected = [roc_auc_score(y[i], p[i]) for i in range(5)]
    assert np.allclose(roc_auc(y, p), expected)
    assert np.isnan(roc_auc(np.ones(4), np.arange(4.0)))  # one class: no AUC, not an error


def test_the_interval_covers_the_estimate_and_shrinks_with_more_data():
    rng = np.random.default_rng(1)
    y, p = sample(200, rng)
    low, high = confidence_interval(y, p, roc_auc, n_resamples=500)
    assert low < roc_auc_score(y, p) < high
    y, p = sample(1800, rng)
    low_big, high_big = confidence_interval(y, p, roc_auc, n_resamples=500)
    assert high_big - low_big < (high - low) / 2  # width ~ 1/sqrt(n): 3 times narrower for 9 times the data


def test_the_same_seed_gives_the_same_resamples():
    y, p = sample(300, np.random.default_rng(2))
    assert confidence_interval(y, p, roc_auc, seed=7) == confidence_interval(y, p, roc_auc, seed=7)
    low, high = confidence_interval(y, p, accuracy_at_half, seed=7)
    assert 0 <= low <= accuracy_at_half(y, p) <= high <= 1


def test_a_perfectly_separated_test_set_has_the_interval_1_to_1():
    y = np.array([0] * 30 + [1] * 30)
    p = np.r_[np.linspace(0, 0.4, 30), np.linspace(0.6, 1, 30)]  # every resample's AUC is 1: BCa has nothing to correct
    assert confidence_interval(y, p, roc_auc) == (1.0, 1.0)
