"""Contract tests that run over every project in projects/ (see DESIGN.md, "A project folder").

For each project: the folder has the agreed files; a dry-run trains; evaluate reads the run;
the app serves it; and a copy of the folder under a new name works with no edits.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlstarter import runs

REPO = Path(__file__).resolve().parents[1]
PROJECTS = sorted(p.name for p in (REPO / "projects").iterdir() if (p / "train.py").is_file())
SCRIPTS = ["config.py", "data.py", "model.py", "train.py", "evaluate.py", "serve.py"]


def test_there_are_projects():
    assert "credit_risk" in PROJECTS


@pytest.mark.parametrize("project", PROJECTS)
def test_folder_layout(project: str):
    folder = REPO / "projects" / project
    for name in ["README.md", "__init__.py", *SCRIPTS, "tests/__init__.py"]:
        assert (folder / name).is_file(), f"{project} lacks {name}"


@pytest.mark.parametrize("project", PROJECTS)
def test_scripts_say_how_to_run_them_and_import_no_other_project(project: str):
    for script in SCRIPTS:
        tree = ast.parse((REPO / "projects" / project / script).read_text())
        assert ast.get_docstring(tree), f"{project}/{script} has no docstring"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not (node.module or "").startswith("projects"), (
                    f"{project}/{script} imports {node.module}: use relative imports"
                )
    for script in ["train.py", "evaluate.py", "serve.py"]:
        doc = ast.get_docstring(ast.parse((REPO / "projects" / project / script).read_text()))
        assert f"make {script[:-3]} PROJECT={project}" in doc, f"{project}/{script}'s docstring lacks its make command"


@pytest.mark.parametrize("project", PROJECTS)
def test_dry_run_train_evaluate_serve(project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path))
    train = importlib.import_module(f"projects.{project}.train")
    evaluate = importlib.import_module(f"projects.{project}.evaluate")
    serve = importlib.import_module(f"projects.{project}.serve")

    assert train.main(["--dry-run"]) == 0
    run = runs.latest_run(project)
    assert {"config.json", "metrics.json", "environment.json"} <= {p.name for p in run.path.iterdir()}
    assert evaluate.main([]) == 0
    assert (run.path / "MODEL_CARD.md").is_file() and any((run.path / "plots").glob("*.png"))

    with TestClient(serve.create_app()) as client:
        assert client.get("/health").json()["run_id"] == run.run_id
        assert client.get("/metadata").json()["project"] == project
        example = REPO / "projects" / project / "example.json"
        if example.is_file():
            response = client.post("/predict", json=json.loads(example.read_text()))
            assert response.status_code == 200 and response.json()["model_version"] == run.run_id


@pytest.mark.slow
@pytest.mark.parametrize("project", PROJECTS)
def test_a_copied_project_works_with_no_edits(project: str, tmp_path: Path):
    """`make new PROJECT=my_copy FROM=<project>` then train, evaluate and the copy's own API tests."""
    root = tmp_path / "repo"
    (root / "projects").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copy(REPO / "projects" / "__init__.py", root / "projects")
    shutil.copytree(
        REPO / "projects" / project, root / "projects" / project, ignore=shutil.ignore_patterns("__pycache__")
    )
    data_dirs = [p for p in [os.environ.get("MLSTARTER_DATA_DIR", ""), str(REPO / "datasets")] if p]
    env = {**os.environ, "MLSTARTER_ROOT": str(root), "MLSTARTER_DATA_DIR": os.pathsep.join(data_dirs)}
    env.pop("MLSTARTER_RUNS_DIR", None)

    def mlstarter(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mlstarter.cli", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    mlstarter("new", "my_copy", "--from", project)
    assert "Run saved to" in mlstarter("train", "my_copy", "--dry-run")
    [run_dir] = (root / "runs" / "my_copy").iterdir()  # runs take the copy's folder name
    mlstarter("evaluate", "my_copy")
    assert (run_dir / "MODEL_CARD.md").is_file()
    api_tests = root / "projects" / "my_copy" / "tests" / "test_api.py"
    if api_tests.is_file():  # the project's own tests travel with the copy
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(api_tests)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
