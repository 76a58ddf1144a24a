"""Where things live: the repository root, the runs folder and the data folders.

Every location can be moved with an environment variable, so tests and users can
point the project elsewhere without editing code:

- `MLSTARTER_ROOT`      the repository (default: the nearest folder above the
                        working directory that holds `projects/`)
- `MLSTARTER_RUNS_DIR`  where training writes runs (default: `<root>/runs`)
- `MLSTARTER_DATA_DIR`  extra folders searched for datasets before `<root>/datasets`
                        (several may be given, separated by `os.pathsep`)
"""

from __future__ import annotations

import os
from pathlib import Path


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


def runs_dir() -> Path:
    if env := os.environ.get("MLSTARTER_RUNS_DIR"):
        return Path(env).expanduser().resolve()
    return repo_root() / "runs"


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
