"""Fixtures for the credit-risk tests. Each test session trains into a temporary runs folder.

These tests live inside the project folder, so they travel with a copy of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstarter import runs

from .. import train
from ..config import Config
from ..data import load, split

PROJECT = train.PROJECT


@pytest.fixture(scope="session")
def frame():
    """The full German Credit data (shipped in datasets/german_credit/, so always offline)."""
    return load(Config().data)[0]


@pytest.fixture(scope="session")
def splits(frame):
    cfg = Config()
    return split(frame, cfg.data, cfg.seed)


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def train_run(*args: str) -> runs.Run:
    """Run train.py's main with these arguments and return the run it wrote."""
    assert train.main(list(args)) == 0
    return runs.latest_run(PROJECT)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """Full-size models of every kind (seconds each), shared by the behaviour tests."""
    mp = pytest.MonkeyPatch()
    models = {}
    for kind in ("logistic", "boosting", "blend"):
        mp.setenv("MLSTARTER_RUNS_DIR", str(tmp_path_factory.mktemp(kind)))
        models[kind] = train_run("--set", f"model.kind={kind}")
    mp.undo()
    return models
