"""make explore: the data report is written whole, its numbers are right where the answer is known, and its
captions quote the data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mlstarter.config import apply_overrides
from mlstarter.datasets import DataError

from .. import examples, explore
from ..config import Config
from .conftest import toy_images, write_npz


def written_report(folder: Path) -> dict:
    """report.json, after checking that report.md embeds every plot, each with a caption, and that each exists."""
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    embedded = re.findall(r"!\[[^\]]*\]\((plots/[\w-]+\.png)\)\n\n\*(.+)\*", markdown)
    assert embedded and [file for file, _ in embedded] == [p["file"] for p in report["plots"].values()]
    assert all((folder / file).stat().st_size > 1000 for file, _ in embedded)
    assert sorted(p.name for p in (folder / "plots").iterdir()) == sorted(Path(f).name for f, _ in embedded)
    assert all(re.search(r"\d", caption) for _, caption in embedded), "every caption quotes the data"
    return report


def test_the_report_of_the_examples_file(sample_npz: Path, tmp_path: Path, runs_dir: Path, capsys):
    # the real PneumoniaMNIST-format sample (MLSTARTER_DATA_DIR, or a skip) -> make examples' small .npz -> explore
    assert examples.main(["--data", str(sample_npz), "--out", str(tmp_path)]) == 0
    own = tmp_path / "pneumoniamnist-small.npz"
    assert explore.main(["--data", str(own)]) == 0  # into runs/medical_imaging-explore/
    folder = runs_dir / f"{explore.PROJECT}-explore"
    report = written_report(folder)
    assert f"Report: {folder / 'report.md'}" in capsys.readouterr().out
    sizes = {name: split["images"] for name, split in report["numbers"]["balance"].items()}
    assert sizes == examples.SMALL_SIZES
    assert report["title"].startswith(f"{own}: {sum(examples.SMALL_SIZES.values()):,} chest X-rays of 28x28 pixels")


def test_known_answers(tmp_path: Path):
    # toy X-rays: "pneumonia" carries a bright blob (conftest); here also a bright strip along the bottom edge (a
    # burned-in marker: a shortcut),
    # and two test images and one validation image are exact copies of training images
    X_train, y_train = toy_images(160, 0)
    X_val, y_val = toy_images(64, 1)
    X_test, y_test = toy_images(64, 2)
    for X, y in ((X_train, y_train), (X_val, y_val), (X_test, y_test)):
        X[y[:, 0] == 1, -2:, 4:] = 255
    X_test[[0, 5]] = X_train[[10, 11]]
    X_val[7] = X_train[12]
    path = write_npz(tmp_path / "toy.npz", train_images=X_train, val_images=X_val, test_images=X_test)
    report = explore.report(apply_overrides(Config(), [f"data.path={path}"]))
    numbers = report.numbers
    assert numbers["duplicates"]["exact_copies"] == 3 and numbers["duplicates"]["exact_copies_in_test"] == 2
    assert numbers["duplicates"]["near_copies"] == 3  # the noise images are otherwise far apart
    assert numbers["mean_images"]["largest_difference_at"][0] >= 25 and numbers["mean_images"]["shortcut_warning"]
    caption = next(p.caption for p in report.plots if p.name == "mean_images")
    assert caption.startswith("The classes differ most at the bottom") and "shortcut warning" in caption
    assert numbers["intensity"]["roc_auc_brightness_alone"] > 0.9  # the blob and the strip brighten pneumonia
    assert numbers["balance"]["train"]["pneumonia_share"] == pytest.approx(float(np.mean(y_train)))
    assert [p.name for p in report.plots][-1] == "copies"  # the copies, shown beside their training image


def test_no_warning_where_the_classes_differ_only_inside(tmp_path: Path):
    report = explore.report(apply_overrides(Config(), [f"data.path={write_npz(tmp_path / 'toy.npz')}"]))
    assert not report.numbers["mean_images"]["shortcut_warning"]  # the blob lies in the middle half of the image
    assert report.numbers["duplicates"]["exact_copies"] == 0 and "copies" not in [p.name for p in report.plots]


def test_a_bad_own_file_is_a_clear_data_error(tmp_path: Path):
    path = write_npz(tmp_path / "bad.npz", train_labels=np.full((160, 1), 3, np.uint8))
    with pytest.raises(DataError, match="expected 0 \\(normal\\) or 1 \\(pneumonia\\)"):
        explore.main(["--data", str(path), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report").exists()
