"""evaluate.py: the ROC AUC of many resamples at once, its BCa bootstrap interval, and plots that can be read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from mlstarter.runs import Run

from .. import evaluate, ood
from ..config import Config
from ..evaluate import accuracy_at_half, confidence_interval, roc_auc
from ..model import TrainedModel, build, load, save, to_tensor
from .conftest import PROJECT, toy_images


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


@pytest.fixture
def trained(tmp_path: Path) -> TrainedModel:
    """An untrained network saved and loaded as a run's model is: enough to draw with."""
    torch.manual_seed(0)
    cfg = Config()
    network = build(cfg.model).eval()
    images, labels = toy_images(64, seed=0)
    f = ood.features(network, to_tensor(images, 0.4, 0.2), block=1)
    reference = ood.fit_reference(f, labels[:, 0], f, images, flag_rate=0.02, block=1)
    save(tmp_path, network, cfg=cfg, metrics={}, mean=0.4, std=0.2, threshold=0.5, image_side=28, reference=reference)
    return load(Run(PROJECT, "test", tmp_path))


def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures evaluate.py saves, kept for inspection (drawn, laid out, then not written)."""
    figures: list[Figure] = []

    def keep(fig: Figure, path: Path) -> Path:
        FigureCanvasAgg(fig)  # the canvas saving would use
        fig.tight_layout()
        fig.canvas.draw()  # lay the text out, as saving does
        figures.append(fig)
        return path

    monkeypatch.setattr(evaluate.plots, "save", keep)
    return figures


def clipped(fig: Figure) -> bool:
    """Whether anything drawn (titles, labels, legends) reaches past the figure's edge: cut off when saved."""
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())  # in inches, around everything drawn
    width, height = fig.get_size_inches()
    return drawn.x0 < -0.01 or drawn.y0 < -0.01 or drawn.x1 > width + 0.01 or drawn.y1 > height + 0.01


def test_the_gradcam_grid_titles_each_case_with_its_true_and_predicted_class(trained, monkeypatch):
    figures = drawn(monkeypatch)
    images, labels = toy_images(24, seed=1)
    p = np.linspace(0.01, 0.99, 24)
    evaluate.gradcam_grid(trained, images, labels[:, 0], p, Path("gradcam.png"))
    [fig] = figures
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles and all(t.startswith("true: ") and "\npredicted: " in t for t in titles)
    assert len(fig.axes) == 2 * len(titles)  # every X-ray beside its heatmap
    assert fig.get_size_inches()[0] / (2 * 4) >= 1.5  # each panel at least 1.5 inches wide: readable
    assert not clipped(fig)


def test_the_ood_plot_keeps_its_text_inside_and_its_ticks_plain(trained, monkeypatch):
    figures = drawn(monkeypatch)
    rng = np.random.default_rng(0)
    evaluate.ood_plot(rng.uniform(2, 8, 100), {"noise": rng.uniform(40, 60, 10)}, 7.0, Path("ood.png"))
    [fig] = figures
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all("times" not in t and "^" not in t for t in labels)  # 5, 10, 20: not 5x10^0
    assert not clipped(fig)
