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

import contextlib
import importlib
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from . import runs
from .paths import project_name


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs one worker per core), give each worker's PyTorch its share of the cores:
    two workers on 2 cores with two threads each would only wait on each other. Set before any test imports torch,
    and inherited by the training and serving processes the tests start. An OMP_NUM_THREADS of your own wins."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and "OMP_NUM_THREADS" not in os.environ:
        from .machine import usable_cores

        os.environ["OMP_NUM_THREADS"] = str(max(1, usable_cores() // int(workers)))


@contextlib.contextmanager
def interrupted_in_epoch(module: Any, epoch: int = 2) -> Iterator[None]:
    """Ctrl-C during the `epoch`-th training epoch: `module.train_one_epoch` raises KeyboardInterrupt on that call
    (`module`: mlstarter.training, or a project's train.py that has a loop of its own). For resume tests:

        with testing.interrupted_in_epoch(training), pytest.raises(KeyboardInterrupt):
            train.main(args)
    """
    real, calls = module.train_one_epoch, []

    def train_one_epoch(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == epoch:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "train_one_epoch", train_one_epoch)
        yield


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


@pytest.fixture(scope="module")
def trained_once(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable]:
    """For a module whose tests all use one model: `trained_once(*args)` trains it on the first call (in a runs/
    folder of the module's own, which stays MLSTARTER_RUNS_DIR for the module) and returns the same run after."""
    package, trained = request.module.__package__, {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLSTARTER_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))

        def once(*args: str) -> runs.Run:
            if args not in trained:
                trained[args] = train(package, *args)
            return trained[args]

        yield once


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


def missing(reason: str) -> NoReturn:
    """A real part this machine lacks (a database server, a browser): a skip that says what is missing on a
    learner's machine, but a failure under CI=true, where .ci/run installs every part and nothing may skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, so this test must run, but {reason}", pytrace=False)
    pytest.skip(reason)


def written_report(folder: Path) -> dict:
    """The report.json of a data report `make explore` wrote into `folder`, after checking that the report is
    whole: report.md embeds every plot of report.json, in order, with its caption under it, and each plot is a
    PNG file of its own in plots/ (no stray ones). What the captions say is each project's test to check."""
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    embedded = re.findall(r"!\[[^\]]*\]\((plots/[\w-]+\.png)\)\n\n\*(.+)\*", markdown)  # ![name](file) then *caption*
    assert embedded == [(p["file"], p["caption"]) for p in report["plots"].values()], "report.md and report.json differ"
    assert all((folder / file).read_bytes()[:4] == b"\x89PNG" for file, _ in embedded)
    assert sorted(p.name for p in (folder / "plots").iterdir()) == sorted(Path(f).name for f, _ in embedded)
    return report
