"""Standard plots, saved as PNG files.

Figures are built with `matplotlib.figure.Figure` directly rather than pyplot, so no
display or global backend is involved: this works on servers, in tests and in CI.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve


def save(fig: Figure, path: Path) -> Path:
    """Save as PNG atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)
    return path


def roc(y_true: np.ndarray, scores: np.ndarray, path: Path, title: str = "ROC curve") -> Path:
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    fpr, tpr, _ = roc_curve(y_true, scores)
    ax.plot(fpr, tpr, label=f"model (AUC {roc_auc_score(y_true, scores):.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance (AUC 0.500)")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title=title)
    ax.legend(loc="lower right")
    return save(fig, path)


def precision_recall(y_true: np.ndarray, scores: np.ndarray, path: Path, title: str = "Precision-recall curve") -> Path:
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    precision, recall, _ = precision_recall_curve(y_true, scores)
    ax.plot(recall, precision, label=f"model (AP {average_precision_score(y_true, scores):.3f})")
    base_rate = float(np.mean(y_true))
    ax.axhline(base_rate, linestyle="--", color="grey", label=f"chance (AP {base_rate:.3f})")
    ax.set(xlabel="Recall", ylabel="Precision", title=title, ylim=(0, 1.02))
    ax.legend(loc="upper right")
    return save(fig, path)


def calibration(y_true: np.ndarray, p: np.ndarray, path: Path, n_bins: int = 10, title: str = "Calibration") -> Path:
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    observed, predicted = calibration_curve(y_true, p, n_bins=n_bins, strategy="quantile")
    ax.plot(predicted, observed, "o-", label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.set(xlabel="Mean predicted probability", ylabel="Observed frequency", title=title)
    ax.legend(loc="upper left")
    return save(fig, path)


def confusion(matrix: np.ndarray, labels: Sequence[str], path: Path, title: str = "Confusion matrix") -> Path:
    fig = Figure(figsize=(4.5, 4))
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", color="black", fontsize=12)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="Predicted", ylabel="Actual", title=title)
    return save(fig, path)


def bars(names: Sequence[str], values: Sequence[float], path: Path, title: str, xlabel: str) -> Path:
    """Horizontal bars, largest at the top (e.g. feature importance)."""
    order = np.argsort(values)
    fig = Figure(figsize=(7, 0.3 * len(names) + 1.2))
    ax = fig.subplots()
    ax.barh(np.asarray(names)[order], np.asarray(values)[order])
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set(xlabel=xlabel, title=title)
    return save(fig, path)


def curve(
    x: np.ndarray,
    y: np.ndarray,
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    mark_x: float | None = None,
    mark_label: str = "",
) -> Path:
    """A single line, with an optional vertical marker (e.g. the chosen threshold)."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(x, y)
    if mark_x is not None:
        ax.axvline(mark_x, linestyle="--", color="tab:red", label=mark_label)
        if mark_label:
            ax.legend()
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return save(fig, path)
