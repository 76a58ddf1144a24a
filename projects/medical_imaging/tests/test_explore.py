"""make explore: the data report is written whole, its numbers are right where the answer is known, and its
captions quote the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlstarter.config import apply_overrides
from mlstarter.datasets import DataError
from mlstarter.testing import written_report

from .. import examples, explore
from ..config import Config
from .conftest import toy_images, write_npz


def test_the_report_of_the_examples_file(sample_npz: Path, tmp_path: Path, runs_dir: Path, capsys):
    # the real PneumoniaMNIST-format sample (MLSTARTER_DATA_DIR, or a skip) -> make examples' small .npz -> explore
    assert examples.main(["--data", str(sample_npz), "--out", str(tmp_path)]) == 0
    own = tmp_path / "pneumoniamnist-small.npz"
    assert explore.main(["--data", str(own)]) == 0  # into runs/medical_imaging-explore/
    folder = runs_dir / f"{explore.PROJECT}-explore"
    report = written_report(folder)
    assert f"Report: {folder / 'report.md'}" in capsys.readouterr().out
    numbers, captions = report["numbers"], {name: plot["caption"] for name, plot in report["plots"].items()}
    sizes = {name: split["images"] for name, split in numbers["balance"].items()}
    assert sizes == examples.SMALL_SIZES
    assert report["title"].startswith(f"{own}: {sum(examples.SMALL_SIZES.values()):,} chest X-rays of 28x28 pixels")
    # the captions quote report.json's numbers
    assert f"ROC AUC {numbers['intensity']['roc_auc_brightness_alone']:.2f}" in captions["intensity"]
    mean_images = numbers["mean_images"]
    for part in ("interior", "frame"):
        assert (
            f"{mean_images[part]['difference']:+.0f} grey levels, t {mean_images[part]['t']:.1f}"
            in captions["mean_images"]
        )
    assert captions["near_duplicates"].startswith(f"{numbers['duplicates']['exact_copies']} validation and test images")


def test_known_answers(tmp_path: Path):
    # toy X-rays: "pneumonia" carries a bright blob (conftest); here also a bright strip along the bottom edge (a
    # burned-in marker: a shortcut), and two test images and one validation image are exact copies of training images
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
    assert numbers["mean_images"]["frame"]["at"][0] >= 26 and numbers["mean_images"]["shortcut_warning"]
    caption = next(p.caption for p in report.plots if p.name == "mean_images")
    assert "on the frame (the outer 2 pixels, 27% of the image) at the bottom" in caption
    assert caption.endswith("where no lung is: a shortcut warning.")
    assert numbers["intensity"]["roc_auc_brightness_alone"] > 0.9  # the blob and the strip brighten pneumonia
    assert numbers["balance"]["train"]["pneumonia_share"] == pytest.approx(float(np.mean(y_train)))
    assert [p.name for p in report.plots][-1] == "copies"  # the copies, shown beside their training image


@pytest.mark.parametrize("corner", [True, False])
def test_one_bright_corner_pixel_is_a_shortcut_warning_even_beside_the_lungs_difference(corner: bool, tmp_path: Path):
    # "pneumonia" images carry a central blob (conftest); with `corner`, also one bright pixel at the bottom left:
    # the blob's difference is larger in total, the corner's is clearer, and only the corner is on the frame
    X_train, y_train = toy_images(160, 0)
    if corner:
        X_train[y_train[:, 0] == 1, -1, 0] = 255
    path = write_npz(tmp_path / "toy.npz", train_images=X_train)
    report = explore.report(apply_overrides(Config(), [f"data.path={path}"]))
    found = report.numbers["mean_images"]
    caption = next(p.caption for p in report.plots if p.name == "mean_images")
    assert found["shortcut_warning"] == corner
    assert abs(found["interior"]["t"]) > found["chance_t"]  # the blob's difference is real either way
    if corner:
        assert found["frame"]["at"] == [27, 0] and found["frame"]["t"] > 20  # 255 against noise around 90
        assert f"at the bottom left (row 27, column 0): {found['frame']['difference']:+.0f} grey levels" in caption
        assert "a shortcut warning" in caption
    else:
        assert abs(found["frame"]["t"]) < found["chance_t"]
        assert caption.endswith("the frame's is within chance: no sign of a shortcut along the edges.")
        assert report.numbers["duplicates"]["exact_copies"] == 0 and "copies" not in [p.name for p in report.plots]


def test_a_bad_own_file_is_a_clear_data_error(tmp_path: Path):
    path = write_npz(tmp_path / "bad.npz", train_labels=np.full((160, 1), 3, np.uint8))
    with pytest.raises(DataError, match="expected 0 \\(normal\\) or 1 \\(pneumonia\\)"):
        explore.main(["--data", str(path), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report").exists()
