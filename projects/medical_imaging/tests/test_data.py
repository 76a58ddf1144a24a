"""The data contract: the MedMNIST layout, and a clear error for every way a file can be wrong."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mlstarter.datasets import DataError, digest

from .. import data
from .conftest import toy_images, write_npz


def test_a_good_file_gives_three_splits(toy_npz: Path):
    splits = data.read_npz(toy_npz)
    images, labels = splits["train"]
    assert images.shape == (160, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (160,) and set(labels) == {0, 1}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"val_labels": np.full((64, 1), 2, np.uint8)}, "val_labels: value 2 at index 0 (64 bad in all)"),
        ({"test_images": np.zeros((64, 28, 28), np.float32)}, "test_images: dtype float32; expected uint8"),
        ({"train_images": np.zeros((160, 3, 28, 28), np.uint8)}, "train_images: shape (160, 3, 28, 28)"),
        ({"train_labels": np.zeros((150, 1), np.uint8)}, "train_labels: shape (150, 1); expected (160, 1)"),
        ({"val_images": toy_images(64, 1, side=32)[0]}, "different image shapes"),
        ({"val_labels": np.zeros((64, 1), np.float64)}, "val_labels: dtype float64; expected integers"),
        ({"test_labels": np.zeros((64, 1), np.uint8)}, "test_labels: only class 0 (normal)"),
        ({"train_images": np.zeros((160, 28, 32), np.uint8)}, "expected square images"),
        ({"train_images": np.full((160, 28, 28), 7, np.uint8)}, "every pixel has the same value"),
    ],
)
def test_a_bad_file_names_the_array_and_the_problem(tmp_path: Path, override: dict, message: str):
    path = write_npz(tmp_path / "bad.npz", **override)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        data.read_npz(path)
    assert str(error.value).count(str(path)) == 1 and "Save plain uint8" not in str(
        error.value
    )  # said once, no stray advice


def test_missing_arrays_are_listed(tmp_path: Path):
    np.savez(tmp_path / "x.npz", train_images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="missing arrays train_labels, val_images"):
        data.read_npz(tmp_path / "x.npz")


def test_not_an_npz_and_pickles_are_refused(tmp_path: Path):
    (tmp_path / "x.npz").write_bytes(b"definitely not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        data.read_npz(tmp_path / "x.npz")
    np.savez(
        tmp_path / "p.npz",
        **{f"{s}_{k}": np.array([{"a": 1}], dtype=object) for s in data.SPLITS for k in ("images", "labels")},
    )
    with pytest.raises(DataError):  # object arrays would need pickle, which is never allowed
        data.read_npz(tmp_path / "p.npz")


def test_the_real_sample(sample_npz: Path):
    splits = data.read_npz(sample_npz)
    assert {s: len(labels) for s, (_, labels) in splits.items()} == {"train": 2428, "val": 270, "test": 468}
    assert all(abs(labels.mean() - 0.5) < 0.01 for _, labels in splits.values())  # balanced, as its README says


def test_only_the_official_file_counts_as_the_official_split(toy_npz: Path, monkeypatch: pytest.MonkeyPatch):
    assert not data.is_official({toy_npz.name: toy_npz})  # a user's own file: its test split is another split
    as_if_official = replace(data.DATASET.files[0], md5=digest(toy_npz, "md5"))
    monkeypatch.setattr(data, "DATASET", replace(data.DATASET, files=(as_if_official,)))
    assert data.is_official({toy_npz.name: toy_npz})
