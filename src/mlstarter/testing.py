"""Fixtures every project's tests share: a pytest plugin, loaded in any test session once mlstarter is installed.

It is registered in pyproject.toml (`[project.entry-points.pytest11]`), so the tests inside a
copied project folder find these too, with no conftest.py to copy along:

    def test_a_dry_run_serves(runs_dir, train_run):        # runs go to a temporary folder
        run = train_run("--dry-run")                        # this project's train.py, then its newest run
        ...

    def real_sample() -> Path:
        return shared_file("pneumoniamnist-sample/pneumoniamnist_balanced.npz")   # or a skip that says why
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from . import runs
from .paths import project_name


def train(package: str, *args: str) -> runs.Run:
    """Run the train.py of the project that `package` belongs to (e.g. a test module's `__package__`,
    `projects.credit_risk.tests`) with these arguments; return the run it wrote."""
    project_package = package.removesuffix(".tests")
    assert importlib.import_module(f"{project_package}.train").main(list(args)) == 0
    return runs.latest_run(project_name(project_package))


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary runs/ folder for this test (MLSTARTER_RUNS_DIR)."""
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def train_run(request: pytest.FixtureRequest) -> Callable[..., runs.Run]:
    """`train_run(*args)`: train the test's own project with these arguments and return the run."""
    package = request.module.__package__
    return lambda *args: train(package, *args)


def shared_file(relative: str | Path) -> Path:
    """A real data file found in a folder of MLSTARTER_DATA_DIR (CI sets it to ../shared/datasets), or a skip
    that says which file is missing and how to provide it. Tests never download."""
    for folder in filter(None, os.environ.get("MLSTARTER_DATA_DIR", "").split(os.pathsep)):
        if (Path(folder) / relative).is_file():
            return Path(folder) / relative
    pytest.skip(f"needs the real data file {relative}: set MLSTARTER_DATA_DIR=../shared/datasets (as .ci/run does)")
