"""The walkthrough notebooks: every project has one, its .ipynb and its plain-text twin (walkthrough.py,
jupytext's percent format) hold the same cells, no outputs are committed, and it runs top to bottom.

After editing either file, make them match again:
    $ .venv/bin/jupytext --sync projects/<name>/walkthrough.ipynb
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlstarter import paths
from mlstarter.testing import missing

from .conftest import Started, data_args, side_by_side

REPO = Path(__file__).resolve().parents[1]
PROJECTS = paths.project_names()

try:
    import jupytext
    import nbclient  # noqa: F401  (the executing tests need it)
    import nbformat
except ImportError as error:  # the dev extra brings them
    jupytext = nbformat = None
    MISSING = f"the notebook tools are not installed ({error.name}): .venv/bin/pip install -e '.[dev]'"


def tools() -> None:
    if jupytext is None:
        missing(MISSING)


@pytest.mark.parametrize("project", PROJECTS)
def test_the_notebook_and_its_text_twin_hold_the_same_cells_without_outputs(project: str):
    tools()
    folder = REPO / "projects" / project
    notebook = nbformat.read(folder / "walkthrough.ipynb", as_version=4)
    text = jupytext.read(folder / "walkthrough.py")
    cells = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in notebook.cells]
    assert cells == [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in text.cells], (
        f"projects/{project}/walkthrough.ipynb and walkthrough.py differ: "
        f"run .venv/bin/jupytext --sync projects/{project}/walkthrough.ipynb"
    )
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert not any(c.outputs or c.execution_count for c in code), f"projects/{project}/walkthrough.ipynb has outputs"
    assert notebook.metadata["jupytext"]["formats"] == "ipynb,py:percent"  # JupyterLab keeps the twin in step
    # the first code cell imports the project's steps by its folder's name, so a copied folder runs its own code
    assert "PROJECT = Path.cwd().name" in code[0].source and "import_script(PROJECT" in code[0].source
    assert "parameters" in code[1].metadata.get("tags", []), "the second code cell holds the parameters"


# The notebook runs in a process of its own (one Jupyter kernel each): all five at once, side by side.
RUN_NOTEBOOK = """
import json, sys
from pathlib import Path
from mlstarter.notebook import execute

path, saved, parameters = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
notebook = execute(path, parameters, saved=saved)
shown = sum(o.get("output_type") == "display_data" for c in notebook.cells for o in c.get("outputs", []))
print(f"notebook ok: {len(notebook.cells)} cells, {shown} displays")
"""


@pytest.fixture(scope="module")
def notebooks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable]:
    def start(project: str) -> Started:
        tools()
        # a dry run, on the data found here (a skip if there is none), without the notebook's own settings
        parameters = {"DRY_RUN": True, "DATA_ARGS": data_args(project), "SETTINGS": []}
        folder = tmp_path_factory.mktemp(f"notebook-{project}")
        env = {**os.environ, "MLSTARTER_RUNS_DIR": str(folder / "runs"), "OMP_NUM_THREADS": "1", "MPLBACKEND": "agg"}
        notebook = REPO / "projects" / project / "walkthrough.ipynb"
        command = [sys.executable, "-c", RUN_NOTEBOOK, str(notebook), str(folder / "executed.ipynb")]
        return Started([*command, json.dumps(parameters)], folder, env=env)

    yield from side_by_side(request, test_the_notebook_runs_top_to_bottom, start)


@pytest.mark.slow
@pytest.mark.parametrize("project", PROJECTS)
def test_the_notebook_runs_top_to_bottom(project: str, notebooks: Callable[[str], Started]):
    """explore -> train (a dry run) -> evaluate -> the model answering in-process, with no error in any cell."""
    started = notebooks(project)
    done = started.result(timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "notebook ok" in done.stdout
    executed = nbformat.read(started.folder / "executed.ipynb", as_version=4)
    [run] = (started.folder / "runs" / project).iterdir()  # the dry run the notebook trained
    assert (run / "MODEL_CARD.md").is_file(), "the notebook evaluates the run it trained"
    assert (started.folder / "runs" / f"{project}-explore" / "report.md").is_file(), "the notebook explores first"
    images = [o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    markdown = [o for c in executed.cells for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
    assert images and markdown, "the notebook shows its plots and reports"
