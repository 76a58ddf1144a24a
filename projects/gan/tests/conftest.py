"""Toy data for the GAN tests. They live inside the project folder, so they travel with a copy of it.

The default data, scikit-learn's digits, is bundled, so most tests train on it offline in seconds.
`write_npz` writes a small MedMNIST-layout file (grayscale or colour) for the `--data` path, and
`write_idx` writes MNIST-format IDX files, so the MNIST code is tested without the download. Tests
that need real X-rays use the shared PneumoniaMNIST-format sample (`sample_npz`), and skip, saying
why, without it. `runs_dir` and `train_run` come from the core's pytest plugin, mlstarter.testing.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from mlstarter import runs, testing
from mlstarter.testing import shared_file

SAMPLE = Path("pneumoniamnist-sample") / "pneumoniamnist_balanced.npz"


def toy_images(n: int, seed: int, side: int = 16, colour: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of noisy pictures: a bright square top-left (0), bottom-right (1), or a bar (2)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = rng.normal(40, 15, size=(n, side, side))
    half = side // 2
    for i, label in enumerate(labels):
        if label == 0:
            images[i, :half, :half] += 150
        elif label == 1:
            images[i, half:, half:] += 150
        else:
            images[i, :, half - 2 : half + 2] += 150
    images = images.clip(0, 255).astype(np.uint8)
    if colour:
        images = np.stack([images, images // 2, 255 - images], axis=-1)  # (n, side, side, 3)
    return images, labels.astype(np.uint8)[:, None]


def write_npz(path: Path, sizes=(96, 48, 48), colour: bool = False, **override) -> Path:
    arrays = {}
    for seed, (split, n) in enumerate(zip(("train", "val", "test"), sizes, strict=True)):
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = toy_images(n, seed, colour=colour)
    arrays.update(override)
    np.savez_compressed(path, **arrays)
    return path


def write_idx(path: Path, array: np.ndarray) -> Path:
    """An IDX file as MNIST publishes them: 0, 0, type 0x08 (unsigned byte), ndim, big-endian sizes, values."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    return path


@pytest.fixture(scope="session")
def sample_npz() -> Path:
    """The real PneumoniaMNIST-format sample of MLSTARTER_DATA_DIR, or a skip that says how to provide it."""
    return shared_file(SAMPLE)


@pytest.fixture(scope="session")
def served_dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, runs.Run]:
    """One --dry-run of the default model (conditional, on the digits) that the API tests serve: trained once per
    session, in a runs folder of its own, which those tests point MLSTARTER_RUNS_DIR at. Returns (folder, run)."""
    folder = tmp_path_factory.mktemp("served-runs")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLSTARTER_RUNS_DIR", str(folder))
        return folder, testing.train(__package__, "--dry-run")
