"""Where things live: the repository root, the projects in it, the runs folder and the data folders.

Every location can be moved with an environment variable, so tests and users can
point the project elsewhere without editing code:

- `MLSTARTER_ROOT`      the repository (default: the nearest folder above the
                        working directory that holds `projects/`)
- `MLSTARTER_RUNS_DIR`  where training writes runs (default: `<root>/runs`)
- `MLSTARTER_DATA_DIR`  extra folders searched for datasets before `<root>/datasets`
                        (several may be given, separated by `os.pathsep`)
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType


def repo_root() -> Path:
    """The repository root: `MLSTARTER_ROOT`, else the nearest parent holding `projects/`."""
    if env := os.environ.get("MLSTARTER_ROOT"):
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "projects").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    return here


def projects_dir() -> Path:
    return repo_root() / "projects"


class ProjectError(ValueError):
    """No such project or script, or a bad name for a new project."""


def project_names() -> list[str]:
    """Every folder of projects/ that is a project: a package with a train.py."""
    root = projects_dir()
    if not root.is_dir():
        raise ProjectError(
            f"No projects/ folder in {repo_root()} or above: run mlstarter from the repository, "
            f"or set MLSTARTER_ROOT to it."
        )
    return sorted(p.name for p in root.iterdir() if (p / "__init__.py").is_file() and (p / "train.py").is_file())


def import_script(project: str, script: str) -> ModuleType:
    """`projects.<project>.<script>` from the repository, or a ProjectError that lists what exists."""
    if project not in project_names():
        raise ProjectError(f"No project {project!r} in {projects_dir()}. Projects: {', '.join(project_names())}")
    if not (projects_dir() / project / f"{script}.py").is_file():
        have = [p for p in project_names() if (projects_dir() / p / f"{script}.py").is_file()]
        raise ProjectError(f"Project {project!r} has no {script}.py. Projects that do: {', '.join(have) or 'none'}")
    if str(repo_root()) not in sys.path:
        sys.path.insert(0, str(repo_root()))  # so that `projects.<name>` imports from the repository
    return importlib.import_module(f"projects.{project}.{script}")


def runs_dir() -> Path:
    if env := os.environ.get("MLSTARTER_RUNS_DIR"):
        return Path(env).expanduser().resolve()
    return repo_root() / "runs"


def examples_dir(project: str) -> Path:
    """Where `make examples` writes a project's example input files: `runs/<project>-examples/`."""
    return runs_dir() / f"{project}-examples"


def explore_dir(project: str) -> Path:
    """Where `make explore` writes a project's data report: `runs/<project>-explore/` (report.md, plots/)."""
    return runs_dir() / f"{project}-explore"


def shown(path: Path) -> str:
    """A path as a user would type it from here: relative to the working folder when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cache_dir() -> Path:
    """The repository's `datasets/` folder: searched for data, and where downloads land."""
    return repo_root() / "datasets"


def data_dirs() -> list[Path]:
    """Folders searched for a dataset, in order: `MLSTARTER_DATA_DIR` entries, then the cache."""
    dirs = [Path(p).expanduser().resolve() for p in os.environ.get("MLSTARTER_DATA_DIR", "").split(os.pathsep) if p]
    return [*dirs, cache_dir()]


def project_name(package: str | None) -> str:
    """The project's name is its folder's name, so a copied folder names its own runs.

    >>> project_name("projects.credit_risk")
    'credit_risk'
    """
    if not package:
        raise ValueError("Run project scripts as modules: python -m projects.<name>.train")
    parts = package.split(".")
    return parts[1] if parts[0] == "projects" and len(parts) > 1 else parts[0]
