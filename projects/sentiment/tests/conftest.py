"""Toy data for the sentiment tests. It lives inside the project folder, so it travels with a copy of it.

Most tests train on a small generated CSV (`toy_csv`), so they run anywhere, offline. Tests that
need the real Rotten Tomatoes sentences use `real_data`, which skips, saying why, where no copy
is found (CI and development find one through MLSTARTER_DATA_DIR=../shared/datasets).
The fixtures every project shares, `runs_dir` and `train_run`, come from the `mlstarter.testing` plugin.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from mlstarter.testing import shared_file

from ..data import DATASET

POSITIVE = ["wonderful", "moving", "brilliant", "funny", "charming", "gripping", "superb", "delightful"]
NEGATIVE = ["boring", "dull", "awful", "tedious", "clumsy", "bland", "mess", "lifeless"]
NEUTRAL = ["film", "movie", "story", "plot", "cast", "director", "ending", "script", "scene", "actor"]


def toy_reviews(n: int = 300, seed: int = 0) -> list[tuple[str, int]]:
    """Short generated reviews whose label follows their sentiment words (with 5% label noise)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        words = rng.sample(NEUTRAL, 3) + rng.sample(POSITIVE if label else NEGATIVE, 2)
        rng.shuffle(words)
        noisy = label if rng.random() > 0.05 else 1 - label
        rows.append((f"the {' '.join(words)} .", noisy))
    return rows


def write_csv(path: Path, rows: list[tuple[str, object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def toy_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("toy") / "reviews.csv", toy_reviews())


@pytest.fixture(scope="session")
def real_data() -> dict[str, Path]:
    """The two files of the real dataset, or a skip that says how to provide them."""
    return {file.name: shared_file(f"{DATASET.name}/{file.name}") for file in DATASET.files}
