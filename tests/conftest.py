"""Shared fixtures: every test writes runs and downloads into its own temporary folders."""

from __future__ import annotations

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
