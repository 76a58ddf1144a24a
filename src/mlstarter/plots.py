"""Standard plots, saved as PNG files.

Figures are built with `matplotlib.figure.Figure` directly rather than pyplot, so no
display or global backend is involved: this works on servers, in tests and in CI. The
classifier plots are scikit-learn's own `*Display` classes drawn on our axes (`ax=`): the
library computes the curves and their summary numbers, we only title and save them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay


def save(fig: Figure, path: Path) -> Path:
    """Save as PNG atomically: a reader never sees half a file. The saved area grows to hold every
    label and title (`bbox_inches="tight"`), so a long name is never clipped at the edge."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight", pad_inches=0.1)
    os.replace(tmp, path)
    return path


def roc(y_true: np.ndarray, scores: np.ndarray, path: Path, title: str = "ROC curve") -> Path:
    """The ROC curve with its AUC, against the chance diagonal."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    RocCurveDisplay.from_predictions(y_true, scores, name="model", ax=ax, plot_chance_level=True)
    ax.set(title=title)
    return save(fig, path)


def precision_recall(y_true: np.ndarray, scores: np.ndarray, path: Path, title: str = "Precision-recall curve") -> Path:
    """Precision against recall with the average precision (AP), against the base rate (chance)."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    PrecisionRecallDisplay.from_predictions(y_true, scores, name="model", ax=ax, plot_chance_level=True)
    ax.set(title=title, ylim=(0, 1.02))
    return save(fig, path)


def calibration(y_true: np.ndarray, p: np.ndarray, path: Path, n_bins: int = 10, title: str = "Calibration") -> Path:
    """Observed frequency against mean predicted probability, in bins of equal counts."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    CalibrationDisplay.from_predictions(y_true, p, n_bins=n_bins, strategy="quantile", name="model", ax=ax)
    ax.legend(loc="upper left")  # the curve ends in the lower right and upper right: the legend stays off it
    ax.set(title=title)
    return save(fig, path)


def confusion(matrix: np.ndarray, labels: Sequence[str], path: Path, title: str = "Confusion matrix") -> Path:
    """Counts of actual (rows) against predicted (columns) classes."""
    fig = Figure(figsize=(4.5, 4))
    ax = fig.subplots()
    shown = ConfusionMatrixDisplay(confusion_matrix=matrix, display_labels=list(labels)).plot(
        ax=ax, cmap="Blues", colorbar=False, values_format="d"
    )
    for (i, j), text in np.ndenumerate(shown.text_):  # each count in black or white, whichever reads better there
        text.set_color(text_color(shown.im_.cmap(shown.im_.norm(matrix[i, j]))))
    ax.set(title=title)
    return save(fig, path)


def text_color(background: object) -> str:
    """Black or white, whichever contrasts more with `background` (WCAG contrast ratio of relative luminance)."""
    return "black" if contrast(background, "black") >= contrast(background, "white") else "white"


def contrast(a: object, b: object) -> float:
    """The WCAG contrast ratio of two colours, from 1 (the same) to 21 (black on white); text wants 4.5 or more."""

    def luminance(color: object) -> float:
        # relative luminance: linearised sRGB channels, weighted by the eye's sensitivity to each
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(color))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


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
    if np.all(np.mod(x, 1) == 0):  # whole numbers, such as epochs: no ticks at 1.5
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if mark_x is not None:
        ax.axvline(mark_x, linestyle="--", color="tab:red", label=mark_label)
        if mark_label:
            ax.legend()
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return save(fig, path)
