"""make examples: the files it writes work as written: the .npz with --data (train, then evaluate)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlstarter import runs

from .. import data, evaluate, examples


def test_the_examples_train_and_evaluate(runs_dir: Path, train_run, tmp_path: Path, capsys: pytest.CaptureFixture):
    out = tmp_path / "examples"
    assert examples.main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    npz = out / "digits-small.npz"
    assert f'ARGS="--data {npz}"' in printed and f"OUTPUT={out / 'generated'} " in printed  # each file, its command
    with np.load(npz) as arrays:  # the MedMNIST layout, as --data reads it
        assert arrays["train_images"].shape == (600, 8, 8) and arrays["train_labels"].shape == (600, 1)
        assert arrays["val_images"].dtype == np.uint8 and len(arrays["test_labels"]) == 150
    assert {len(labels) for _, labels in data.read_npz(npz).values()} == {600, 150}
    real = out / "real"
    assert len(list(real.glob("class_*_*.png"))) == 40 and Image.open(real / "class_7_0.png").size == (8, 8)
    assert Image.open(real / "grid.png").size == (10 * 65 + 1, 4 * 65 + 1)  # one class a column, as predict's grid

    run = train_run("--data", str(npz), "--dry-run", "--set", "train.epochs=1", "--set", "judge.epochs=1")  # as printed
    assert run.read_json("environment.json")["dataset_sha256"].keys() == {npz.name}
    assert evaluate.main([]) == 0
    assert "test_fd" in runs.latest_run(run.project).metrics
