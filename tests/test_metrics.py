from __future__ import annotations

import numpy as np
import pytest

from mlstarter.metrics import binary_metrics, expected_calibration_error, prefixed


def test_perfect_scores():
    y = np.array([0, 0, 1, 1])
    m = binary_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert m["roc_auc"] == 1.0 and m["ks"] == 1.0 and m["accuracy"] == 1.0
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (2, 0, 0, 2)


def test_known_values():
    y = np.array([0, 1, 0, 1])
    p = np.array([0.6, 0.4, 0.2, 0.8])
    m = binary_metrics(y, p, threshold=0.5)
    assert m["brier"] == pytest.approx((0.36 + 0.36 + 0.04 + 0.04) / 4)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (1, 1, 1, 1)
    assert m["sensitivity"] == 0.5 and m["specificity"] == 0.5


def test_calibration_error():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200_000)
    y_calibrated = rng.uniform(size=p.size) < p
    assert expected_calibration_error(y_calibrated, p) < 0.01
    assert expected_calibration_error(np.ones(10), np.full(10, 0.3)) == pytest.approx(0.7)


def test_prefixed():
    assert prefixed({"roc_auc": 0.8}, "test") == {"test_roc_auc": 0.8}
