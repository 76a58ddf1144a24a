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


@pytest.mark.parametrize("matrix", [[[50, 40], [45, 48]], [[120, 20], [30, 30]], [[140, 0], [60, 0]]])
def test_confusion_counts_are_readable_on_every_cell_colour(tmp_path: Path, monkeypatch, matrix):
    # scikit-learn picks the text colour by a halfway count: a count just above it (45 of 0..50) was
    # drawn near-white on mid-blue, a contrast of 2.4; text needs 4.5 (WCAG AA)
    cells: list[tuple[str, object, object]] = []
    save = plots.save

    def spy(fig, path):
        ax = fig.axes[0]
        image = ax.images[0]
        for text in ax.texts:
            x, y = text.get_position()
            value = image.get_array()[round(y), round(x)]
            cells.append((text.get_text(), text.get_color(), image.cmap(image.norm(value))))
        return save(fig, path)

    monkeypatch.setattr(plots, "save", spy)
    plots.confusion(np.array(matrix), ["good", "bad"], tmp_path / "confusion.png")
    assert len(cells) == 4
    for label, color, background in cells:
        assert plots.contrast(color, background) >= 4.5, (label, color, background)


def test_a_label_outside_the_axes_is_saved_whole_not_clipped(tmp_path: Path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    fig.text(1.05, 0.5, "a note to the right of the plot")  # starts beyond the figure's right edge
    width, height = Image.open(plots.save(fig, tmp_path / "plot.png")).size
    assert width > 4 * 110 + 100  # the saved area grew to hold the note (4 in at 110 dpi = 440 px)


def test_epochs_get_whole_number_ticks(tmp_path: Path, monkeypatch):
    ticks: list[float] = []
    save = plots.save

    def spy(fig, path):
        fig.canvas.draw()
        ticks.extend(fig.axes[0].get_xticks())
        return save(fig, path)

    monkeypatch.setattr(plots, "save", spy)
    plots.curve(np.array([1, 2, 3]), np.array([0.5, 0.4, 0.3]), tmp_path / "loss.png", title="t", xlabel="epoch",
                ylabel="loss")  # fmt: skip
    assert ticks and all(float(t).is_integer() for t in ticks), ticks  # not 1.25, 1.5, 1.75 between epochs
