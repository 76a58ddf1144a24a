"""The evaluation plots are readable: no text on top of other text, none too small, digit grids at full size."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import evaluate, model, train
from ..config import Config


def texts(fig: Figure) -> list:
    """Every piece of text drawn in the figure (titles, axis labels, tick labels in view, legends), laid out
    and drawn as plots.save draws it."""
    fig.tight_layout()
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    found = [*fig.texts, *([fig._suptitle] if fig._suptitle else [])]
    for ax in fig.axes:
        found += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        if ax.axison:
            found += [*ax.get_xticklabels(), *ax.get_yticklabels()]
        if ax.get_legend():
            found += ax.get_legend().get_texts()
    return [t for t in dict.fromkeys(found) if t.get_visible() and t.get_text().strip()]  # each once


def check_readable(fig: Figure, name: str) -> None:
    shown = texts(fig)
    renderer = fig.canvas.get_renderer()
    for text in shown:
        assert text.get_fontsize() >= 8, f"{name}: {text.get_text()!r} is set in {text.get_fontsize()} pt"
    boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in shown]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), f"{name}: {a!r} is drawn over {b!r}"


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Figure]:
    """Every figure evaluate.py's plot functions build, by file name, drawn from small made-up inputs."""
    saved = {}
    monkeypatch.setattr(evaluate.plots, "save", lambda fig, path: saved.setdefault(path.name, fig))
    rng = np.random.default_rng(0)
    history = [{"epoch": e, "d_loss": 1.3, "g_loss": 0.9 + e / 10, "d_real": 0.7, "d_fake": 0.4, "val_fd": 40 / e}
               for e in range(1, 31)]  # fmt: skip
    evaluate.loss_plot(history, "nonsaturating", tmp_path / "losses.png")
    evaluate.fd_plot(history, {"val_fd_untrained": 900, "val_fd_real": 4, "val_best_epoch": 12}, tmp_path / "fd.png")
    generator, _ = model.build(Config(), side=8, channels=1, n_classes=10)
    evaluate.sample_plot(generator.eval(), {"n_classes": 10}, True, 0, tmp_path / "samples.png")
    for epoch in (5, 10, 15, 20, 25, 30):
        train.save_grid(
            rng.integers(0, 256, (80, 8, 8), dtype=np.uint8), tmp_path / "progress" / f"epoch_{epoch:03d}.png"
        )
    evaluate.progress_plot(tmp_path / "progress", tmp_path / "progress.png")
    fakes, real = rng.integers(0, 256, (2, 64, 8, 8), dtype=np.uint8)
    evaluate.real_vs_fake_plot(real, fakes, tmp_path / "real_vs_fake.png")
    evaluate.neighbours_plot(fakes, rng.random(64), np.arange(64), real, tmp_path / "neighbours.png")
    evaluate.nn_histogram(rng.random(64) / 4, rng.random(64) / 3, tmp_path / "nearest_distance.png")
    return saved


def test_no_text_is_drawn_over_other_text_or_too_small(figures: dict[str, Figure]):
    assert len(figures) == 7
    for name, fig in figures.items():
        check_readable(fig, name)


def test_the_progress_strip_shows_each_grid_at_its_full_size(figures: dict[str, Figure]):
    """A grid of 8x8 digits scaled 8 times is 521 x 651 pixels; drawn smaller, its 1-pixel gaps vanish at random."""
    fig = figures["progress.png"]
    texts(fig)  # laid out and drawn, as saved
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 6
    for ax in panels:
        height, width = ax.get_images()[0].get_array().shape[:2]
        box = ax.get_window_extent()  # in pixels at the figure's dpi (plots.save draws at a higher one)
        assert box.width >= width and box.height >= height, (box.width, box.height, width, height)


def test_the_sample_rows_name_their_class(figures: dict[str, Figure]):
    fig = figures["samples.png"]
    texts(fig)
    [ax] = fig.axes
    assert [label.get_text() for label in ax.get_yticklabels()] == [f"class {c}" for c in range(10)]
