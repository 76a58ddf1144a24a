from __future__ import annotations

import numpy as np
import pytest

from mlstarter import metrics
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


def test_macro_f1_averages_both_classes():
    y = np.array([1, 1, 1, 0])
    m = binary_metrics(y, np.array([0.9, 0.9, 0.9, 0.9]))  # all predicted positive
    assert m["f1"] == pytest.approx(6 / 7)  # positive class: precision 3/4, recall 1
    assert m["macro_f1"] == pytest.approx((6 / 7 + 0) / 2)  # negative class: never predicted, F1 0


def test_calibration_error():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200_000)
    y_calibrated = rng.uniform(size=p.size) < p
    assert expected_calibration_error(y_calibrated, p) < 0.01
    assert expected_calibration_error(np.ones(10), np.full(10, 0.3)) == pytest.approx(0.7)


def test_prefixed():
    assert prefixed({"roc_auc": 0.8}, "test") == {"test_roc_auc": 0.8}


def test_plots_are_written_as_png(tmp_path):
    from mlstarter import plots

    y, p = np.array([0, 0, 1, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    paths = [
        plots.roc(y, p, tmp_path / "roc.png"),
        plots.precision_recall(y, p, tmp_path / "pr.png"),
        plots.calibration(y, p, tmp_path / "cal.png", n_bins=2),
        plots.confusion(np.array([[2, 1], [0, 3]]), ["no", "yes"], tmp_path / "cm.png"),
        plots.bars(["a", "b"], [0.3, -0.1], tmp_path / "bars.png", title="t", xlabel="x"),
        plots.curve(np.arange(3), np.arange(3), tmp_path / "c.png", title="t", xlabel="x", ylabel="y", mark_x=1),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # no temp files left


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.8014, "0.801"), (0.99962, "> 0.999"), (1.0, "1.000"), (0.00004, "< 0.001"), (0.0, "0.000"),
     (1.0004, "1.0004"), (0.9996 + 1, "1.9996"), (2.5, "2.500"), (float("nan"), "n/a")],
)  # fmt: skip
def test_rounding_never_makes_a_number_look_perfect_or_tied(value: float, expected: str):
    # 0.9996 was printed as 1.000 (a perfect AUC), a MASE of 1.0004 as 1.000 (a tie with the random walk)
    assert metrics.shown(value) == expected
