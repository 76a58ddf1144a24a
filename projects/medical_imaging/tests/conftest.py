"""Fixtures for the medical-imaging tests. They live inside the project folder, so they travel with a copy of it.

Most tests train on a small generated .npz in the MedMNIST layout (`toy_npz`): noise images,
where "pneumonia" images carry a bright blob. Tests that need real X-rays use `sample_npz`, the
shared PneumoniaMNIST-format sample, and skip, saying why, where it is absent. `runs_dir` and
`train_run` come from the core's pytest plugin (`mlstarter.testing`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlstarter.testing import shared_file

from .. import train

PROJECT = train.PROJECT
SAMPLE = "pneumoniamnist-sample/pneumoniamnist_balanced.npz"  # in MLSTARTER_DATA_DIR (CI: ../shared/datasets)


def toy_images(n: int, seed: int, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.normal(90, 25, size=(n, side, side))
    yy, xx = np.mgrid[:side, :side]
    for i in np.flatnonzero(labels):
        cy, cx = rng.integers(side // 4, 3 * side // 4, 2)
        images[i] += 110 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 12)  # a bright opacity
    return images.clip(0, 255).astype(np.uint8), labels.astype(np.uint8)[:, None]


def write_npz(path: Path, sizes=(160, 64, 64), **override) -> Path:
    arrays = {}
    for seed, (split, n) in enumerate(zip(("train", "val", "test"), sizes, strict=True)):
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = toy_images(n, seed)
    arrays.update(override)
    np.savez_compressed(path, **arrays)
    return path


@pytest.fixture(scope="session")
def toy_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_npz(tmp_path_factory.mktemp("toy") / "toy.npz")


@pytest.fixture(scope="session")
def sample_npz() -> Path:
    return shared_file(SAMPLE)
