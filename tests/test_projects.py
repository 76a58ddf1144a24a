"""Contract tests that run over every project in projects/ (see DESIGN.md, "A project folder").

For each project: the folder has the agreed files, with the same names for the same steps; a
dry-run trains; evaluate reads the run; the app serves it; and a copy of the folder under a new
name works with no edits.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlstarter import datasets, monitoring, predlog, runs, serving
from mlstarter.config import apply_overrides

from .conftest import Started, data_args, side_by_side

REPO = Path(__file__).resolve().parents[1]
PROJECTS = sorted(p.name for p in (REPO / "projects").iterdir() if (p / "train.py").is_file())
SCRIPTS = ["config.py", "data.py", "model.py", "train.py", "evaluate.py", "serve.py", "predict.py", "examples.py",
           "monitor.py", "simulate_drift.py", "explore.py"]  # fmt: skip


def needs_data(project: str) -> None:
    """Skip, saying why, when a project's dataset has no local copy (tests never download)."""
    dataset = getattr(importlib.import_module(f"projects.{project}.data"), "DATASET", None)
    if dataset is not None and not all(datasets.status(dataset).values()):
        pytest.skip(
            f"{project} needs the {dataset.name} dataset, which is in no data directory here and is not downloaded "
            f"in tests: run `make train PROJECT={project}` once online, or put it in a folder named by "
            "MLSTARTER_DATA_DIR (its own tests cover the project with other data)"
        )


def test_there_are_projects():
    assert {"credit_risk", "sentiment"} <= set(PROJECTS)


@pytest.mark.parametrize("project", PROJECTS)
def test_folder_layout(project: str):
    folder = REPO / "projects" / project
    notebook = ["walkthrough.py", "walkthrough.ipynb"]  # the walkthrough and its plain-text twin
    for name in ["README.md", "__init__.py", *SCRIPTS, "page.js", *notebook, "tests/__init__.py"]:
        assert (folder / name).is_file(), f"{project} lacks {name}"


# One vocabulary: the same names for the same steps in every project (README.md, "Anatomy of a project").
VOCABULARY = {
    "data.py": {"DATASET", "Data", "load"},  # load(cfg) -> Data: .splits by name and .files for the checksums
    "model.py": {"build", "save", "load"},  # build an unfitted model; save a run's model files; load them back
    "train.py": {"PROJECT", "DRY_RUN_OVERRIDES", "fit", "main"},
    "evaluate.py": {"PROJECT", "PROMOTE_ON", "main"},  # PROMOTE_ON: the test metrics make promote compares
    "serve.py": {"PROJECT", "router", "create_app", "example_requests"},
    "predict.py": {"PROJECT", "main"},  # make predict: a file scored by the predictor the API serves
    "examples.py": {"PROJECT", "main"},  # make examples: input files for every own-data path and the API
    "monitor.py": {"PROJECT", "checks", "parser", "main"},  # make monitor: the logged traffic against the training data
    "simulate_drift.py": {"PROJECT", "traffic", "main"},  # make simulate-drift: shifted traffic for the monitor to find
    "explore.py": {"PROJECT", "report", "main"},  # make explore: the data report, before any model
}
RETIRED = {"fit_model", "fit_network", "load_model", "save_model", "checkpoint_path", "checkpoint_dir"}  # old names
SPLITS = {"develop", "train", "val", "test", "series"}


def top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def relative_imports(path: Path) -> set[str]:
    """The project's own modules a script imports (`from . import model`, `from .model import load`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
    return found


@pytest.mark.parametrize("project", PROJECTS)
def test_the_same_steps_have_the_same_names(project: str):
    folder = REPO / "projects" / project
    for script, expected in VOCABULARY.items():
        missing = expected - top_level_names(folder / script)
        assert not missing, f"{project}/{script} lacks {sorted(missing)}: every project names this step the same"
    for path in folder.rglob("*.py"):
        retired = RETIRED & top_level_names(path)
        assert not retired, f"{path.relative_to(REPO)} defines {sorted(retired)}: use build/fit/save/load"
    # a run's model is read in one place, model.load; evaluate and serve never import each other
    assert "serve" not in relative_imports(folder / "evaluate.py"), f"{project}/evaluate.py imports serve"
    assert not {"evaluate", "train", "predict"} & relative_imports(folder / "serve.py"), (
        f"{project}/serve.py imports a script"
    )
    # predict.py shares the API's input checks and predictor: it imports serve, never train or evaluate
    assert "serve" in relative_imports(folder / "predict.py") and not {"train", "evaluate"} & relative_imports(
        folder / "predict.py"
    ), f"{project}/predict.py must score with serve.py's predictor"
    for script in ("evaluate.py", "serve.py"):
        assert "model" in relative_imports(folder / script), f"{project}/{script} must load the run via model.load"
    # the run contract is the core's: train.py saves through runs.create, not by writing the files itself
    train = (folder / "train.py").read_text(encoding="utf-8")
    assert "runs.create(" in train and "config.json" not in train and "environment.json" not in train
    # tune.py, or the README says why this project has none
    assert (folder / "tune.py").is_file() or "tune.py" in (folder / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("project", PROJECTS)
def test_test_fixtures_come_from_the_core(project: str):
    """runs_dir and train_run come from the mlstarter.testing plugin, so a copied folder's tests find them too."""
    conftest = REPO / "projects" / project / "tests" / "conftest.py"
    if conftest.is_file():
        assert not {"runs_dir", "train_run"} & top_level_names(conftest), f"{project}'s conftest repeats core fixtures"


@pytest.mark.parametrize("project", PROJECTS)
def test_load_gives_named_splits_and_the_files_used(project: str):
    config = importlib.import_module(f"projects.{project}.config")
    data = importlib.import_module(f"projects.{project}.data")
    args = data_args(project)
    cfg = config.Config() if not args else apply_overrides(config.Config(), [f"data.path={args[1]}"])
    loaded = data.load(cfg)
    assert isinstance(loaded, data.Data) and loaded.splits and set(loaded.splits) <= SPLITS, sorted(loaded.splits)
    assert all(Path(p).is_file() for p in loaded.files.values()), loaded.files


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
                assert node.module != "mlstarter.cli", (
                    f"{project}/{script} imports the command line: use mlstarter.scripts"
                )
    for script in [
        "train.py",
        "evaluate.py",
        "serve.py",
        "predict.py",
        "examples.py",
        "monitor.py",
        "simulate_drift.py",
        "explore.py",
    ]:
        doc = ast.get_docstring(ast.parse((REPO / "projects" / project / script).read_text()))
        # the name in it may still be the source project's in a folder copied with `cp -r`
        target = script[:-3].replace("_", "-")  # simulate_drift.py: make simulate-drift
        assert f"make {target} PROJECT=" in doc, f"{project}/{script}'s docstring lacks its make command"
        assert "python -m projects." in doc, f"{project}/{script}'s docstring lacks its python -m command"


@pytest.mark.parametrize("project", PROJECTS)
def test_dry_run_train_evaluate_serve(project: str, dry_run_runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The dry run (`train.main(["--dry-run", *data_args(project)]) == 0`, on the dataset or a sample of it, or a skip
    # that says why) is trained once per session by conftest's dry_run_runs, which the fuzz and fault tests serve too.
    # It is evaluated and served here from a copy, so nothing this test writes reaches the others.
    shutil.copytree(dry_run_runs(project), tmp_path / "runs")
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "runs"))
    evaluate = importlib.import_module(f"projects.{project}.evaluate")
    serve = importlib.import_module(f"projects.{project}.serve")

    run = runs.latest_run(project)
    assert {"config.json", "metrics.json", "environment.json", "checksums.json"} <= {p.name for p in run.path.iterdir()}
    assert evaluate.main([]) == 0
    assert (run.path / "MODEL_CARD.md").is_file() and any((run.path / "plots").glob("*.png"))
    # one name per quantity: ROC AUC is *_roc_auc* everywhere, never val_auc or test_auc (the area under the
    # precision-recall curve is average_precision, what scikit-learn computes)
    assert not [key for key in run.metrics if re.search(r"(?<!roc)_auc", key)], sorted(run.metrics)

    assert set(evaluate.PROMOTE_ON) <= set(runs.latest_run(project).metrics), "PROMOTE_ON names metrics evaluate writes"
    assert set(evaluate.PROMOTE_ON.values()) <= {"higher", "lower"}

    app = serve.create_app()
    serving.enable_log(app, str(tmp_path / "predictions.db"))  # as make serve does
    with TestClient(app) as client:
        assert client.get("/health").json()["run_id"] == run.run_id
        assert client.get("/metadata").json()["project"] == project
        example = REPO / "projects" / project / "example.json"
        if example.is_file():  # the request a project's README sends with curl -d @example.json
            [route] = [r.path for r in serve.router.routes if "POST" in r.methods and "batch" not in r.path]
            response = client.post(route, json=json.loads(example.read_text()))
            assert response.status_code == 200 and response.json()["model_version"] == run.run_id
            assert isinstance(response.json()["warnings"], list)
        assert_every_answer_documents_warnings(client.get("/openapi.json").json(), project)
        # every prediction route logs what it answered, for make monitor
        for name, request in serve.example_requests().items():
            before = app.state.prediction_log.written
            answer = monitoring.send(client, [request])
            app.state.prediction_log.flush()
            assert answer == {200: 1} and app.state.prediction_log.written > before, f"{name} request not logged"
    logged = predlog.read(str(tmp_path / "predictions.db"), project)
    assert set(logged["run_id"]) == {run.run_id} and logged.filter(like="input.").shape[1] > 0


def assert_every_answer_documents_warnings(schema: dict, project: str) -> None:
    """Every answer of the project's own routes (each JSON 200, or each item of its list of predictions) has
    `warnings`, a list of the one PredictionWarning shape (code, field, message): inputs unlike the training data."""
    components = schema["components"]["schemas"]
    assert set(components["PredictionWarning"]["properties"]) == {"code", "field", "message"}

    def resolve(node: dict) -> dict:
        return components[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node

    routes = [(m, path, op) for path, item in schema["paths"].items() for m, op in item.items()]
    own = [(m, path, op) for m, path, op in routes if project in op.get("tags", [])]
    assert own, f"{project} has no routes of its own tagged {project!r}"
    for method, path, operation in own:
        answer = resolve(operation["responses"]["200"]["content"]["application/json"]["schema"])
        lists = [
            resolve(p["items"]) for p in answer["properties"].values() if p.get("type") == "array" and "items" in p
        ]
        answers = [a for a in [answer, *lists] if "warnings" in a.get("properties", {})]
        assert answers, f"{method.upper()} {path}: its answer has no warnings list"
        for a in answers:
            assert a["properties"]["warnings"]["items"] == {"$ref": "#/components/schemas/PredictionWarning"}, path


def code_strings(path: Path) -> list[str]:
    """The string constants of a Python file that its code uses: its docstrings (instructions for people) left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            if id(n) not in docstrings]  # fmt: skip


@pytest.mark.parametrize("project", PROJECTS)
def test_no_code_names_its_own_project(project: str):
    """A copied folder is a new project only if nothing in it, tests included, names the old one: the name comes
    from the package (`project_name(__package__)`), so the copy's runs, studies and tests take the copy's name."""
    name = re.compile(rf"(^|[./\\-]){project}($|[./\\-])")
    for path in (REPO / "projects" / project).rglob("*.py"):
        named = [text for text in code_strings(path) if name.search(text)]
        assert not named, f"{path.relative_to(REPO)} names its project in code: {named}; use project_name(__package__)"


# What the copy runs, in one interpreter: train, evaluate and serve under the copy's name, then the collection of
# its own tests (every test module imports under the new name; they run the original's code, which the suite runs).
COPY_SCRIPT = """
import json, sys
from pathlib import Path
import pytest
from fastapi.testclient import TestClient
from mlstarter import cli, runs
from projects.my_copy import serve

assert cli.main(["train", "my_copy", "--dry-run", *sys.argv[1:]]) == 0
assert cli.main(["evaluate", "my_copy"]) == 0
run = runs.latest_run("my_copy")
with TestClient(serve.create_app()) as client:
    assert client.get("/health").json()["run_id"] == run.run_id
    assert client.get("/metadata").json()["project"] == "my_copy"
    example = Path("projects/my_copy/example.json")
    if example.is_file():
        [route] = [r.path for r in serve.router.routes if "POST" in r.methods and "batch" not in r.path]
        assert client.post(route, json=json.loads(example.read_text())).status_code == 200
assert pytest.main(["-q", "-p", "no:cacheprovider", "--collect-only", "projects/my_copy/tests"]) == 0

# the copy's notebook imports the copy's modules: its first cells (the title, the imports), then a look at them
import nbformat
from nbclient import NotebookClient
folder = Path("projects/my_copy").resolve()
notebook = nbformat.read(folder / "walkthrough.ipynb", as_version=4)
notebook.cells = notebook.cells[:2] + [nbformat.v4.new_code_cell("print(PROJECT, train.__file__, serve.__file__)")]
NotebookClient(notebook, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
assert notebook.cells[-1].outputs[0]["text"].split() == ["my_copy", str(folder / "train.py"), str(folder / "serve.py")]
print("copy ok", run.path)
"""


@pytest.fixture(scope="module")
def copies(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable]:
    """`cp -r projects/<project> projects/my_copy` and COPY_SCRIPT run in it, for every project at once (see
    conftest.side_by_side)."""

    def start(project: str) -> Started:
        args = data_args(project)  # the dataset, or a sample of it (a skip that says why if neither is here)
        root = tmp_path_factory.mktemp(f"copy-{project}") / "repo"
        (root / "projects").mkdir(parents=True)
        shutil.copy(REPO / "pyproject.toml", root)
        shutil.copy(REPO / "projects" / "__init__.py", root / "projects")
        shutil.copytree(
            REPO / "projects" / project, root / "projects" / "my_copy", ignore=shutil.ignore_patterns("__pycache__")
        )
        data_dirs = [p for p in [os.environ.get("MLSTARTER_DATA_DIR", ""), str(REPO / "datasets")] if p]
        env = {**os.environ, "MLSTARTER_ROOT": str(root), "MLSTARTER_DATA_DIR": os.pathsep.join(data_dirs)}
        env.pop("MLSTARTER_RUNS_DIR", None)
        env["OMP_NUM_THREADS"] = "1"  # one thread each: the copies run side by side on the machine's cores
        return Started([sys.executable, "-c", COPY_SCRIPT, *args], root.parent, cwd=root, env=env)

    yield from side_by_side(request, test_a_copied_project_works_with_no_edits, start)


@pytest.mark.slow
@pytest.mark.parametrize("project", PROJECTS)
def test_a_copied_project_works_with_no_edits(project: str, copies: Callable[[str], Started]):
    """`cp -r projects/<project> projects/my_copy`: it trains, evaluates and serves under its new name."""
    copy = copies(project)  # started with the others' (a skip that says why if the project's data is not here)
    done = copy.result(timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    root = copy.folder / "repo"
    [run_dir] = (root / "runs" / "my_copy").iterdir()  # runs take the copy's folder name
    assert f"copy ok {run_dir}" in done.stdout
    assert (run_dir / "MODEL_CARD.md").is_file()


@pytest.fixture(scope="module")
def bad_options(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable]:
    """`python -m projects.<project>.train --set no_such.key=1` for every project at once (see conftest.side_by_side)."""

    def start(project: str) -> Started:
        command = [sys.executable, "-m", f"projects.{project}.train", "--set", "no_such.key=1"]
        return Started(command, tmp_path_factory.mktemp(f"bad-option-{project}"), cwd=REPO)

    yield from side_by_side(request, test_a_bad_option_is_one_clear_line_not_a_traceback, start)


@pytest.mark.parametrize("project", PROJECTS)
def test_a_bad_option_is_one_clear_line_not_a_traceback(project: str, bad_options: Callable[[str], Started]):
    done = bad_options(project).result(timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("error: Unknown config key 'no_such.key'. Valid keys: seed")
    assert "Traceback" not in done.stderr
