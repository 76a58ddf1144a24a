"""The standard plots: scikit-learn's displays on our axes, saved atomically as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import average_precision_score, roc_auc_score

from mlstarter import plots

rng = np.random.default_rng(0)
Y = rng.integers(0, 2, 300)
P = np.clip(0.3 * Y + rng.uniform(0, 0.7, 300), 0, 1)


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        (lambda path: plots.roc(Y, P, path), f"AUC = {roc_auc_score(Y, P):.2f}"),
        (lambda path: plots.precision_recall(Y, P, path), f"AP = {average_precision_score(Y, P):.2f}"),
        (lambda path: plots.calibration(Y, P, path), "model"),
        (lambda path: plots.confusion(np.array([[50, 10], [5, 35]]), ["good", "bad"], path), "35"),
    ],
)
def test_each_plot_is_a_png_showing_its_numbers(tmp_path: Path, monkeypatch, draw, expected):
    texts: list[str] = []
    save = plots.save

    def spy(fig, path):  # what the figure says, read before it is saved
        for ax in fig.axes:
            legend = ax.get_legend().get_texts() if ax.get_legend() else []
            texts.extend(t.get_text() for t in [*ax.texts, *legend])
        return save(fig, path)

    monkeypatch.setattr(plots, "save", spy)
    path = draw(tmp_path / "plot.png")
    assert Image.open(path).format == "PNG" and [p.name for p in tmp_path.iterdir()] == ["plot.png"]
    assert any(expected in text for text in texts), texts
