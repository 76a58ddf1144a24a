"""What the walkthrough notebooks (projects/<name>/walkthrough.ipynb) share: showing a report or a run's plots.

    $ make notebook PROJECT=credit_risk      # opens the walkthrough in JupyterLab (pip install -e '.[notebook]')

A report (`make explore`, `make evaluate`'s model card, `make monitor`) is Markdown beside a plots/ folder. A
notebook shows the Markdown as it is, with every picture it links embedded in the output itself (a data URI),
so the pictures also show where the notebook is opened from another folder, or in a saved copy.
IPython is imported only when something is shown: the core never needs Jupyter.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from pathlib import Path

IMAGE_LINK = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<path>[^)\s]+\.png)\)")


def embed_images(markdown: str, folder: Path) -> str:
    """`![alt](plots/x.png)` -> `![alt](data:image/png;base64,...)`, for every PNG the Markdown links that
    exists under `folder`; links elsewhere are left as they are."""

    def inline(match: re.Match[str]) -> str:
        path = (folder / match["path"]).resolve()
        if not path.is_file() or not path.is_relative_to(folder.resolve()):
            return match[0]
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"![{match['alt']}](data:image/png;base64,{data})"

    return IMAGE_LINK.sub(inline, markdown)


def show_markdown(path: Path | str) -> None:
    """Display a Markdown file (report.md, MODEL_CARD.md) in the notebook, its pictures included."""
    from IPython.display import Markdown, display

    path = Path(path)
    display(Markdown(embed_images(path.read_text(encoding="utf-8"), path.parent)))


def show_plots(folder: Path | str, names: Iterable[str] | None = None, width: int = 520) -> None:
    """Display the PNG plots of a folder (a run's plots/): the named ones, or all of them."""
    from IPython.display import Image, Markdown, display

    folder = Path(folder)
    paths = [folder / f"{name.removesuffix('.png')}.png" for name in names] if names else sorted(folder.glob("*.png"))
    for path in paths:
        display(Markdown(f"**{path.stem.replace('_', ' ')}**"), Image(filename=str(path), width=width))


class NotebookError(RuntimeError):
    """A notebook cell failed: the message names the cell and ends with its error."""


def with_parameters(notebook, parameters: dict[str, object]):
    """A copy of `notebook` with a cell setting `parameters` right after its cell tagged "parameters"
    (papermill's convention: the notebook's own values stay visible, the new ones override them)."""
    import nbformat

    notebook = nbformat.from_dict(notebook)  # a copy
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    if not tagged:
        raise NotebookError("the notebook has no cell tagged 'parameters' to override")
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(tagged[0] + 1, injected)
    return notebook


def execute(
    path: Path | str,
    parameters: dict[str, object] | None = None,
    cells: int | None = None,
    timeout: float = 600,
    saved: Path | None = None,
):
    """Run the notebook at `path` top to bottom in a fresh Python kernel started in the notebook's folder (as
    Jupyter does), with `parameters` injected (see `with_parameters`); only its first `cells` cells if given.
    Returns the executed notebook, also written to `saved` if given (with the failing cell's error, on failure)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path).resolve()
    notebook = nbformat.read(path, as_version=4)
    if parameters:
        notebook = with_parameters(notebook, parameters)
    if cells is not None:
        notebook.cells = notebook.cells[:cells]
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": path.parent}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        failed = [i for i, cell in enumerate(notebook.cells) if any(o.get("output_type") == "error"
                                                                    for o in cell.get("outputs", []))]  # fmt: skip
        raise NotebookError(f"{path.name}, cell {failed[0] if failed else '?'} (counting from 0): {error}") from None
    finally:
        if saved is not None:
            saved.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, saved)
    return notebook
