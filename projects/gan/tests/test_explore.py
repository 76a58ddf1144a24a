"""make explore: the data report is written whole, its numbers are right where the answer is known, and its
captions quote the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlstarter.config import apply_overrides
from mlstarter.datasets import DataError
from mlstarter.explore import nearest_distances
from mlstarter.testing import written_report

from .. import data, evaluate, examples, explore
from ..config import Config
from .conftest import toy_images, write_npz


def test_the_report_of_the_digits(runs_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert explore.main([]) == 0  # scikit-learn's digits (bundled), into runs/gan-explore/
    folder = runs_dir / f"{explore.PROJECT}-explore"
    report = written_report(folder)
    assert f"Report: {folder / 'report.md'}" in capsys.readouterr().out
    numbers, captions = report["numbers"], {name: plot["caption"] for name, plot in report["plots"].items()}
    assert numbers["classes"]["splits"] == {"train": 1257, "val": 270, "test": 270}
    assert sum(numbers["classes"]["train_per_class"]) == 1257
    neighbours = numbers["nearest_neighbours"]
    assert 0 < neighbours["near_copy_line"] < neighbours["median_test_to_train"]  # the 5th percentile, below the median
    assert not neighbours["near_copy_line_estimated"]  # every test image against every training image, as evaluate.py
    assert f"here {neighbours['near_copy_line']:.3f};" in captions["nearest_neighbours"]
    assert f"of {numbers['pixels']['distinct_values']} distinct values" in captions["pixels"]
    # the line is evaluate.py's own: its nearest-training-image distances of the test images, its percentile
    X_train, X_test = (data.load(Config()).splits[name][0] for name in ("train", "test"))
    real_nn, _ = evaluate.nearest_training_image(X_test, X_train)
    assert neighbours["near_copy_line"] == pytest.approx(
        np.percentile(real_nn, evaluate.NEAR_COPY_PERCENTILE), abs=1e-4
    )


def test_above_the_sample_size_the_line_is_an_estimate_from_random_images(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(explore, "MAX_COMPARED", 100)  # the digits' 270 test and 1,257 training images: a sample
    searched = []  # the training images searched among the others (the `skip` they pass)

    def spy(queries: np.ndarray, references: np.ndarray, skip: np.ndarray | None = None):
        searched.append(skip)
        return nearest_distances(queries, references, skip=skip)

    monkeypatch.setattr(explore, "nearest_distances", spy)
    report = explore.report(Config())
    neighbours = report.numbers["nearest_neighbours"]
    assert neighbours["near_copy_line_estimated"]
    assert neighbours["compared"] == {"test": 100, "train": 100, "references": 1257}  # against every training image
    caption = next(p.caption for p in report.plots if p.name == "nearest_neighbours")
    assert f"here about {neighbours['near_copy_line']:.3f};" in caption
    assert "(random samples: 100 of 270 test images and 100 of 1,257 training images searched among" in caption
    # the training images searched among the others are drawn at random from all of them, not the first 100
    own = next(skip for skip in searched if skip is not None)
    assert len(own) == 100 and own.max() > 1000 and own.tolist() != list(range(100))


def test_nearest_distances_by_hand():
    a = np.zeros((1, 2, 2), np.uint8)
    references = np.stack([np.full((2, 2), 255, np.uint8), np.full((2, 2), 51, np.uint8), a[0]])
    distance, index = nearest_distances(a, references)
    assert index[0] == 2 and distance[0] == 0  # itself
    distance, index = nearest_distances(a, references, skip=np.array([2]))  # itself skipped: the 51s, 0.2 away
    assert index[0] == 1 and distance[0] == pytest.approx(0.2)


def test_known_answers(tmp_path: Path):
    # toy images in 3 classes (conftest); four test images are exact copies of training images, and class 2 is rare
    X_train, y_train = toy_images(96, 0)
    X_test, y_test = toy_images(48, 2)
    X_test[[3, 4, 5, 6]] = X_train[[20, 21, 22, 23]]
    keep = np.flatnonzero((y_train[:, 0] != 2) | (np.arange(96) < 30))  # class 2: only 10 of its 32 images
    path = write_npz(tmp_path / "toy.npz", train_images=X_train[keep], train_labels=y_train[keep],
                     test_images=X_test, test_labels=y_test)  # fmt: skip
    report = explore.report(apply_overrides(Config(), [f"data.path={path}"]))
    numbers = report.numbers
    assert numbers["classes"]["train_per_class"] == [32, 32, 10]
    assert "Class 2 has the fewest training images (10)" in next(p.caption for p in report.plots if p.name == "classes")
    assert numbers["nearest_neighbours"]["exact_test_copies"] == 4
    assert numbers["nearest_neighbours"]["near_copy_line"] == 0.0  # 4 of 48 copies (8%): the 5th percentile is a copy
    assert numbers["pixels"]["share_at_0"] == pytest.approx(float((X_train[keep] == 0).mean()))


def test_the_examples_file_is_explored_the_same_way(tmp_path: Path):
    assert examples.main(["--out", str(tmp_path)]) == 0
    own = tmp_path / "digits-small.npz"
    report = explore.report(apply_overrides(Config(), [f"data.path={own}"]))  # as --data own sets it
    assert report.title.startswith("digits-small.npz: 900 grayscale images of 8x8 pixels, 10 classes")
    assert report.numbers["classes"]["train_per_class"] == [examples.PER_CLASS["train"]] * 10


def test_a_bad_own_file_is_a_clear_data_error(tmp_path: Path):
    path = write_npz(tmp_path / "bad.npz", train_images=np.zeros((96, 16, 16), np.float32))
    with pytest.raises(DataError, match="dtype float32; expected uint8"):
        explore.main(["--data", str(path), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report").exists()
