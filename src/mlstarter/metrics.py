"""Binary-classification metrics as plain dicts, shared by every classifier project."""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm


def binary_metrics(y_true: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Ranking, probability and decision metrics for scores `p` = P(y = 1).

    The decision is `p >= threshold`. KS is the Kolmogorov-Smirnov statistic, the largest
    gap between the score distributions of the two classes: max(TPR - FPR).
    """
    y_true = np.asarray(y_true).astype(int)
    p = np.asarray(p, dtype=float)
    y_pred = (p >= threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    fpr, tpr, _ = skm.roc_curve(y_true, p)
    return {
        "roc_auc": float(skm.roc_auc_score(y_true, p)),
        "average_precision": float(skm.average_precision_score(y_true, p)),  # the area under the PR curve
        "brier": float(skm.brier_score_loss(y_true, p)),
        "log_loss": float(skm.log_loss(y_true, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "ks": float(np.max(tpr - fpr)),
        "ece": expected_calibration_error(y_true, p),
        "threshold": float(threshold),
        "accuracy": float((tp + tn) / len(y_true)),
        "sensitivity": float(tp / (tp + fn)) if tp + fn else float("nan"),
        "specificity": float(tn / (tn + fp)) if tn + fp else float("nan"),
        "precision": float(tp / (tp + fp)) if tp + fp else 0.0,  # no positive decision: 0, as f1 counts it
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "macro_f1": float(skm.f1_score(y_true, y_pred, average="macro", labels=[0, 1], zero_division=0)),
        "tn": int(tn),
        "fp": int(fp),
        "fn": int(fn),
        "tp": int(tp),
    }


def expected_calibration_error(y_true: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE = sum over equal-width bins of (bin share) * |mean predicted - observed rate|."""
    y_true, p = np.asarray(y_true, dtype=float), np.asarray(p, dtype=float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(p[in_bin].mean() - y_true[in_bin].mean())
    return float(ece)


def shown(value: float, digits: int = 3) -> str:
    """A number for people, that rounding never makes misleading: 0.9996 is "> 0.999", not "1.000".

    >>> shown(0.8014), shown(0.99962), shown(1.0), shown(0.00004), shown(1.0004), shown(float("nan"))
    ('0.801', '> 0.999', '1.000', '< 0.001', '1.0004', 'n/a')
    """
    if not math.isfinite(value):
        return "n/a"  # not measured here (e.g. a test of a model against itself)
    text = f"{value:.{digits}f}"
    step = 10.0**-digits
    if value == round(value) or float(text) != round(value):
        return text
    if 0 <= value <= 1:  # a share or a score rounded up to 1, or down to 0
        return f"> {1 - step:.{digits}f}" if value > 0.5 else f"< {step:.{digits}f}"
    while float(text) == round(value) and digits < 8:  # e.g. a MASE of 1.0004 is not a tie with 1: 1.0004
        digits += 1
        text = f"{value:.{digits}f}"
    return text


def prefixed(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    """{'roc_auc': 0.8} -> {'test_roc_auc': 0.8}, the key style of metrics.json."""
    return {f"{prefix}_{key}": value for key, value in metrics.items()}
