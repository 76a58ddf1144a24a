"""The core's layers: one job per module, no import cycle, and the command line on top of everything."""

from __future__ import annotations

import ast
import re
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "src" / "mlstarter"
PROJECTS = Path(__file__).resolve().parents[1] / "projects"


def core_imports(path: Path) -> set[str]:
    """The core modules one module imports, at its top or inside a function (`from . import x`, `from .x import y`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlstarter."):
            found.add(node.module.split(".")[1])
    return found


GRAPH = {path.stem: core_imports(path) for path in CORE.glob("*.py") if path.stem != "__init__"}


def test_no_module_of_the_core_imports_one_that_imports_it_back():
    def cycle_from(module: str, trail: list[str]) -> list[str] | None:
        for imported in sorted(GRAPH.get(module, ())):
            if imported in trail:
                return [*trail[trail.index(imported) :], imported]
            found = cycle_from(imported, [*trail, imported])
            if found:
                return found
        return None

    for module in GRAPH:
        cycle = cycle_from(module, [module])
        assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_the_command_line_is_the_top_layer():
    assert not [m for m, imported in GRAPH.items() if "cli" in imported], "a core module imports mlstarter.cli"
    for path in PROJECTS.glob("*/*.py"):  # the scripts (their tests may run the command, as a user does)
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"mlstarter\.cli\b|from mlstarter import [^\n]*\bcli\b", text), f"{path} imports the cli"
