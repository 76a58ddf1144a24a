"""`make new`: copy a project under a new name, ready to run.

    $ make new PROJECT=my_loans FROM=credit_risk

A project finds its own name from its folder, so a plain `cp -r` works too; this also puts the
new name into the copy's docs wherever they name the project in a command or a path.
"""

from __future__ import annotations

import re
import shutil

from . import paths
from .paths import ProjectError


def new_project(name: str, source: str) -> int:
    if not name.isidentifier():
        raise ProjectError(f"{name!r} is not a valid project name: use letters, digits and underscores, e.g. my_loans")
    if source not in paths.project_names():
        raise ProjectError(f"No project {source!r} to copy. Projects: {', '.join(paths.project_names())}")
    target = paths.projects_dir() / name
    if target.exists():
        raise ProjectError(f"{target} already exists: pick another name or remove it first.")
    shutil.copytree(paths.projects_dir() / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # The code finds its own name from its folder; only the docs and comments name the source project,
    # in commands and paths: PROJECT=sentiment, projects.sentiment.train, runs/sentiment/. Prose such as
    # "the sentiment of a review" is left alone, and so is FROM=sentiment (the copy still came from it).
    in_command = (
        r"(?:(?<=PROJECT=)|(?<=projects\.)|(?<=projects/)|(?<=runs/)|(?<=runs/\.)|(?<=bench/results/)"
        r"|(?<=mlstarter monitor )|(?<=\d of ))"  # `mlstarter monitor credit_risk`; "Run 2026...-203926 of credit_risk"
        rf"{re.escape(source)}\b"
    )
    # the notebook too: its JSON holds the same text as walkthrough.py, renamed alike, so the two still match
    for path in [*target.rglob("*.py"), *target.rglob("*.md"), *target.rglob("*.ipynb")]:
        text = path.read_text(encoding="utf-8")
        # results measured for the source project keep its name: the copy has not been benchmarked yet
        blocks = r"(<!-- bench(?::\w+)?:start -->.*?<!-- bench(?::\w+)?:end -->)"  # bench:start, bench:tuning:start
        parts = re.split(blocks, text, flags=re.DOTALL)
        renamed = "".join(p if p.startswith("<!-- bench") else re.sub(in_command, name, p) for p in parts)
        if renamed != text:
            path.write_text(renamed, encoding="utf-8")
    print(
        f"Created {target} from {source}. Next:\n  make train PROJECT={name}\n  make evaluate PROJECT={name}\n  make serve PROJECT={name}"
    )
    return 0
