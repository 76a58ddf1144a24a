"""Shared fixtures: every test writes runs and downloads into its own temporary folders."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tmp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway repository root: runs/ and the datasets/ cache live under tmp_path."""
    monkeypatch.setenv("MLSTARTER_ROOT", str(tmp_path))
    monkeypatch.delenv("MLSTARTER_RUNS_DIR", raising=False)
    monkeypatch.delenv("MLSTARTER_DATA_DIR", raising=False)
    return tmp_path


PROJECTS = sorted(p.name for p in (REPO / "projects").iterdir() if (p / "train.py").is_file())


def data_args(project: str) -> list[str]:
    """The training arguments that find a project's data offline, or a skip that says why there is none.

    The dataset itself if it is in a data directory; else a sample of it, a folder `<dataset>-sample/`
    holding one file in a data directory (as ../shared/datasets has for PneumoniaMNIST), passed as --data.
    """
    import importlib

    from mlstarter import datasets, paths

    from .test_projects import needs_data

    dataset = getattr(importlib.import_module(f"projects.{project}.data"), "DATASET", None)
    if dataset is None or all(datasets.status(dataset).values()):
        return []
    for folder in paths.data_dirs():
        files = sorted((folder / f"{dataset.name}-sample").glob("*"))
        if len(files) == 1:
            return ["--data", str(files[0])]
    needs_data(project)  # skips, naming the dataset and how to get it
    return []


@pytest.fixture(scope="session")
def dry_run_runs(tmp_path_factory: pytest.TempPathFactory):
    """`runs_dir(project)`: a runs folder holding one --dry-run of the project, trained once per test session."""
    import importlib

    trained: dict[str, Path] = {}

    def runs_dir(project: str) -> Path:
        if project not in trained:
            args = ["--dry-run", *data_args(project)]
            folder = tmp_path_factory.mktemp(f"runs-{project}")
            with pytest.MonkeyPatch.context() as env:
                env.setenv("MLSTARTER_RUNS_DIR", str(folder))
                assert importlib.import_module(f"projects.{project}.train").main(args) == 0
            trained[project] = folder
        return trained[project]

    return runs_dir


# Some tests check a command run in a process of its own, once per project (a copied project, `mlstarter serve` on a
# damaged model). One after another, those processes leave the machine's second core idle. So the test's fixture
# starts the command of every project at once, when the first of its tests asks (`side_by_side`), and each test
# waits for its own project's process and checks it: on 2 cores, about half the time.


class Started:
    """A command started in the background, its output written to files in `folder` (a pipe that no one reads yet
    could fill, and stop a talkative process until its turn came)."""

    def __init__(self, command: list[str], folder: Path, **popen):
        self.command, self.folder, self.out, self.err = command, folder, folder / "stdout.txt", folder / "stderr.txt"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, **popen)

    def result(self, timeout: float) -> subprocess.CompletedProcess[str]:
        """What subprocess.run(..., capture_output=True, text=True, timeout=timeout) gives: a hang fails the test."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        stdout, stderr = self.out.read_text(), self.err.read_text()
        return subprocess.CompletedProcess(self.command, self.process.returncode, stdout, stderr)


def side_by_side(
    request: pytest.FixtureRequest, test: Callable, start: Callable[[str], Started]
) -> Iterator[Callable[[str], Started]]:
    """For a fixture of `test`, parametrized by project: `start(project)` for every project this session runs the
    test for (all, unless -k or -m chose fewer), at once. Yields `started(project)`: that project's Started, or the
    skip that `start` raised for it (no data here, say)."""
    items = [item for item in request.session.items if getattr(item, "function", None) is test]
    processes: dict[str, Started | str] = {}
    for project in dict.fromkeys(item.callspec.params["project"] for item in items):
        try:
            processes[project] = start(project)
        except pytest.skip.Exception as skip:
            processes[project] = skip.msg

    def started(project: str) -> Started:
        if isinstance(processes[project], str):
            pytest.skip(processes[project])
        return processes[project]

    yield started
    for each in processes.values():
        if isinstance(each, Started):
            each.process.kill()  # a test that failed before waiting leaves no process behind
            each.process.wait()
