"""Fixtures for the sentiment tests. They live inside the project folder, so they travel with a copy of it.

Most tests train on a small generated CSV (`toy_csv`), so they run anywhere, offline. Tests that
need the real Rotten Tomatoes sentences use `real_data`, which skips, saying why, where no copy
is found (CI and development find one through MLSTARTER_DATA_DIR=../shared/datasets).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from mlstarter import datasets, runs

from .. import train
from ..data import DATASET

PROJECT = train.PROJECT
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
    found = datasets.status(DATASET)
    if not all(found.values()):
        pytest.skip(
            "needs the rt-polarity files, which are not here and are not downloaded in tests: "
            "set MLSTARTER_DATA_DIR=../shared/datasets (as .ci/run does), or run `make train PROJECT=sentiment` once online"
        )
    return {name: Path(path) for name, path in found.items()}


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def train_run(*args: str) -> runs.Run:
    """Run train.py's main with these arguments and return the run it wrote."""
    assert train.main(list(args)) == 0
    return runs.latest_run(PROJECT)
