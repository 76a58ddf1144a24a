"""The statistics of evaluate.py."""

from __future__ import annotations

import numpy as np

from ..evaluate import bootstrap_ci


def test_bootstrap_interval_covers_the_estimate_and_shrinks_with_more_data():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)

    def sample(n):
        y = rng.integers(0, 2, n)
        return y, y * 0.6 + rng.uniform(size=n)  # an AUC of about 0.8

    y, p = sample(200)
    low, high = bootstrap_ci(y, p, roc_auc_score, n_resamples=500)
    assert low < roc_auc_score(y, p) < high
    y, p = sample(5000)
    low_big, high_big = bootstrap_ci(y, p, roc_auc_score, n_resamples=500)
    assert high_big - low_big < (high - low) / 3  # width ~ 1/sqrt(n): 5 times narrower for 25 times the data
