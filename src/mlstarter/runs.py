"""Run folders: everything one training run produced, in `runs/<project>/<run_id>/`.

    with runs.create(PROJECT, cfg, data_files=files, dry_run=args.dry_run) as run:
        model.save(run.dir, fitted)                        # the project's own files
        run.save_metrics(metrics)
    print(run.path)                                        # only now renamed to runs/credit_risk/<id>/

The run contract is kept here, in one place: `create` writes `config.json` and
`environment.json` (versions, seed, dataset checksums, git commit) when the run starts, and on
success `checksums.json` (the sha256 of every file training wrote, checked before serving). A
run becomes visible only once everything is written (write to a hidden folder, then rename), so
a crash never leaves a half run that `evaluate` or `serve` would pick up. `latest_run` returns
the newest complete run; `served_run` the run `make serve` uses: the one promoted with `make promote`
(recorded in `runs/<project>/promoted.json`), else the newest complete run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths
from .config import to_dict
from .datasets import checksums, sha256sum

INCOMPLETE_PREFIX = ".incomplete-"
CHECKSUMS = "checksums.json"  # sha256 of every file training wrote, checked before a model is served
REFERENCE = "reference.json"  # what the model learned from, saved by train.py: see Run.reference
PROMOTED = "promoted.json"  # in runs/<project>/: the run `make serve` uses by default, since when, and before it
UNCHECKED = {"metrics.json", CHECKSUMS}  # evaluate adds its results to metrics.json: not part of the model
RUN_FORMAT = 2  # the layout of a run folder; 2: each project's model.save/load and one metric name per quantity
PACKAGES = ("numpy", "pandas", "scikit-learn", "torch", "fastapi", "pydantic", "skops", "fairlearn", "matplotlib")


class RunNotFoundError(FileNotFoundError):
    """No complete run exists (or the named one does not)."""


class RunChangedError(ValueError):
    """A file of a run is missing or differs from what training wrote."""


class NonFiniteMetricsError(ValueError):
    """A run's metrics hold NaN or infinity: it is not saved as complete (it would mislead evaluate and serve)."""


class PromotionRefusedError(ValueError):
    """Promoting this run needs --force: it is a dry run, not evaluated, or worse than the promoted run."""


class OldRunError(RunNotFoundError):
    """A run saved in an older layout than this code reads."""


@dataclass(frozen=True)
class Run:
    project: str
    run_id: str
    path: Path

    def read_json(self, name: str) -> dict[str, Any]:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    @property
    def config(self) -> dict[str, Any]:
        return self.read_json("config.json")

    @property
    def metrics(self) -> dict[str, Any]:
        return self.read_json("metrics.json")

    def verify(self) -> None:
        """Check every file training wrote against its sha256 in checksums.json (runs saved before
        there were checksums are not checked). Raises RunChangedError naming the first file that differs."""
        path = self.path / CHECKSUMS
        if not path.is_file():
            return
        for name, expected in json.loads(path.read_text(encoding="utf-8")).items():
            file = self.path / name
            if not file.is_file():
                raise RunChangedError(f"{name} is missing from run {self.run_id}")
            if sha256sum(file) != expected:
                raise RunChangedError(f"{name} of run {self.run_id} has changed since training (its sha256 differs)")

    @property
    def reference(self) -> dict[str, Any] | None:
        """What the model learned from (reference.json: ranges, counts, vocabulary, ...), which serving warns
        against and monitoring compares with; None for a run saved before runs had one."""
        path = self.path / REFERENCE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    @property
    def environment(self) -> dict[str, Any]:
        path = self.path / "environment.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    @property
    def dry_run(self) -> bool:
        """Whether the run was trained with --dry-run (a tiny subset: not a real model)."""
        return bool(self.environment.get("dry_run"))

    def check_format(self) -> None:
        """Refuse, in one line that names the command to retrain, a run saved in an older layout."""
        found = self.environment.get("run_format", 1)
        if found != RUN_FORMAT:
            raise OldRunError(
                f"Run {self.run_id} of {self.project} was saved in an older layout (run format {found}; this code "
                f"reads {RUN_FORMAT}). Train a new one: make train PROJECT={self.project}"
            )


def project_runs_dir(project: str) -> Path:
    return paths.runs_dir() / project


@dataclass(frozen=True)
class NewRun:
    run_id: str
    dir: Path  # write the run's files here: a hidden folder until the run is complete
    path: Path  # where the run lives once complete

    def save_metrics(self, metrics: dict[str, Any]) -> None:
        """Write metrics.json (prefixed keys: val_roc_auc, cv_roc_auc_mean, ...). Every run must have one.

        A metric that is NaN or infinite stops the run here, before it is published: such a run would
        become the newest and mislead `evaluate` and `serve`."""
        bad = [f"{key}={value}" for key, value in _numbers(metrics) if not math.isfinite(value)]
        if bad:
            raise NonFiniteMetricsError(
                f"the run's metrics are not numbers: {', '.join(bad[:8])}{' ...' if len(bad) > 8 else ''}, so the run "
                "was not saved as complete. Usually a split or a fold holds too few examples of a class (or none) to "
                "measure on, or a model's fit failed; the lines above say which. Use more data, or fewer folds."
            )
        write_json(self.dir / "metrics.json", metrics)


def _numbers(metrics: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every float in `metrics` (nested dicts and lists too), with its key path."""
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            yield from _numbers(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
    elif isinstance(metrics, list | tuple):
        for i, value in enumerate(metrics):
            yield from _numbers(value, f"{prefix}[{i}]")
    elif isinstance(metrics, float) or (hasattr(metrics, "dtype") and getattr(metrics, "ndim", 1) == 0):
        yield prefix, float(metrics)


@contextlib.contextmanager
def create(
    project: str, cfg: Any, *, data_files: dict[str, Path], dry_run: bool, **environment_extra: Any
) -> Iterator[NewRun]:
    """Start a run of `project` trained with `cfg` (a config dataclass) on `data_files`; yield its folder.

    Writes config.json and environment.json first (`environment_extra`, e.g. `processes=2`, is added
    to the latter); the caller writes the model and `run.save_metrics(...)`; on leaving the block
    the run gets its checksums and is published. An exception leaves it hidden and incomplete.
    """
    with _hidden_folder(project) as run:
        write_json(run.dir / "config.json", to_dict(cfg))
        write_json(
            run.dir / "environment.json",
            {
                **environment(seed=cfg.seed, dataset_checksums=checksums(data_files), dry_run=dry_run),
                **environment_extra,
            },
        )
        yield run
        if not (run.dir / "metrics.json").is_file():
            raise RuntimeError("a run must save its metrics before it is complete: call run.save_metrics(metrics)")


@contextlib.contextmanager
def _hidden_folder(project: str) -> Iterator[NewRun]:
    """Yield a hidden folder to write a run into; publish it under its run id on success (see `create`)."""
    run_id = _new_run_id(project)
    final = project_runs_dir(project) / run_id
    run = NewRun(run_id, final.with_name(INCOMPLETE_PREFIX + run_id), final)
    run.dir.mkdir(parents=True)
    try:
        yield run
    except BaseException:
        print(
            f"Run interrupted: its partial files stay in {run.dir} (evaluate and serve ignore them).", file=sys.stderr
        )
        raise
    files = sorted(p for p in run.dir.rglob("*") if p.is_file() and p.name not in UNCHECKED)
    write_json(run.dir / CHECKSUMS, {p.relative_to(run.dir).as_posix(): sha256sum(p) for p in files})
    os.replace(run.dir, run.path)


def complete_runs(project: str) -> list[Run]:
    """Every complete run of a project, oldest first."""
    folder = project_runs_dir(project)
    if not folder.is_dir():
        return []
    runs = [
        Run(project, p.name, p)
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "config.json").is_file()
    ]
    return sorted(runs, key=lambda r: _sort_key(r.run_id))


def latest_run(project: str, run_id: str | None = None) -> Run:
    """The named run, or the newest complete one; a clear error if there is none."""
    found = complete_runs(project)
    if run_id is not None:
        for run in found:
            if run.run_id == run_id:
                run.check_format()
                return run
        known = ", ".join(r.run_id for r in found) or "none yet"
        raise RunNotFoundError(
            f"No complete run {run_id!r} for {project} in {project_runs_dir(project)}. Runs: {known}"
        )
    if not found:
        raise RunNotFoundError(
            f"No trained run of {project} in {project_runs_dir(project)}. "
            f"Train one first: make train PROJECT={project}  (or: mlstarter train {project})"
        )
    if found[-1].dry_run:
        print(
            f"warning: the newest run of {project}, {found[-1].run_id}, is a --dry-run model trained on a tiny subset. "
            f"Train a real one with: make train PROJECT={project}",
            file=sys.stderr,
        )
    found[-1].check_format()
    return found[-1]


def promoted(project: str) -> dict[str, Any] | None:
    """The promotion record of `project` (`{"run_id", "since", "previous": [...]}`), or None before any promotion."""
    path = project_runs_dir(project) / PROMOTED
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def served_run(project: str, run_id: str | None = None) -> Run:
    """The run `make serve` and `make predict` use: the named one, else the promoted one, else the newest complete run."""
    if run_id is not None:
        return latest_run(project, run_id)
    record = promoted(project)
    if record is None:
        return latest_run(project)
    try:
        return latest_run(project, record["run_id"])
    except RunNotFoundError:
        raise RunNotFoundError(
            f"Run {record['run_id']} of {project} was promoted (in {project_runs_dir(project) / PROMOTED}) but is no "
            f"longer there. Promote another: make promote PROJECT={project} RUN=<run id>, or name one: RUN=<run id>"
        ) from None


def live(project: str, run: Run) -> dict[str, Any]:
    """How `run` came to be served, for /metadata: promoted (and since when), or the newest complete run."""
    record = promoted(project)
    if record is not None and record["run_id"] == run.run_id:
        return {"run_id": run.run_id, "chosen_by": "promoted", "since": record["since"]}
    newest = complete_runs(project)
    if newest and newest[-1].run_id == run.run_id and record is None:
        return {"run_id": run.run_id, "chosen_by": "newest complete run", "since": run.environment.get("created")}
    return {"run_id": run.run_id, "chosen_by": "named when the server started", "since": None}


def promote(project: str, run_id: str, *, compare: dict[str, str], force: bool = False) -> dict[str, Any]:
    """Make `run_id` the run `make serve` uses by default; return the new promotion record.

    `compare` names the test metrics that decide "worse" and which way is better (`{"test_roc_auc": "higher"}`).
    A dry run, a run with none of them (not evaluated yet) or one worse than the promoted run in any of them is
    refused with PromotionRefusedError, which says why, unless `force`."""
    run = latest_run(project, run_id)
    record = promoted(project)
    problems = []
    if run.dry_run:
        problems.append("it is a --dry-run model, trained on a tiny subset")
    metrics = run.metrics
    if not any(name in metrics for name in compare):
        problems.append(f"it has no test metrics yet ({', '.join(compare)}): evaluate it first: "
                        f"make evaluate PROJECT={project} RUN={run_id}")  # fmt: skip
    if record is not None and record["run_id"] != run_id:
        try:
            current = latest_run(project, record["run_id"]).metrics
        except RunNotFoundError:
            current = {}  # the promoted run is gone: nothing to compare with
        for name, better in compare.items():
            new, old = metrics.get(name), current.get(name)
            if new is None or old is None or new == old:
                continue
            if (new < old) if better == "higher" else (new > old):
                problems.append(f"its {name} is {new:.4g}, worse than {old:.4g} of the promoted run {record['run_id']} "
                                f"({better} is better)")  # fmt: skip
    if problems and not force:
        raise PromotionRefusedError(
            f"Run {run_id} of {project} was not promoted: {'; '.join(problems)}. To promote it all the same: "
            f"make promote PROJECT={project} RUN={run_id} ARGS=--force"
        )
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    previous = [] if record is None else [*record.get("previous", []), {k: record[k] for k in ("run_id", "since")}]
    new_record = {"run_id": run_id, "since": now, "forced": problems if problems else [], "previous": previous[-50:]}
    write_json(project_runs_dir(project) / PROMOTED, new_record)
    return new_record


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (numpy numbers and paths included; NaN, which JSON lacks, as null)."""
    write_text(path, json.dumps(_finite(data), indent=2, default=_jsonable, allow_nan=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # a name of its own: two processes writing the same file at once (e.g. two tuning workers) never share one
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the file is as readable as any other the project writes
    os.replace(tmp, path)


def update_json(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Merge `data` into the JSON object at `path` (atomically) and return the result."""
    merged = {**(json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}), **data}
    write_json(path, merged)
    return merged


def environment(*, seed: int, dataset_checksums: dict[str, str], dry_run: bool) -> dict[str, Any]:
    """What is needed to reproduce a run: versions, seed, data checksums, git commit."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "seed": seed,
        "dry_run": dry_run,
        "dataset_sha256": dataset_checksums,
        "git": _git_state(),
        "run_format": RUN_FORMAT,
    }


def _new_run_id(project: str) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = project_runs_dir(project)
    run_id, n = stamp, 1
    while (folder / run_id).exists() or (folder / (INCOMPLETE_PREFIX + run_id)).exists():
        n += 1
        run_id = f"{stamp}-{n}"
    return run_id


def _sort_key(run_id: str) -> tuple[str, int]:
    parts = run_id.split("-")
    counter = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1
    return ("-".join(parts[:2]), counter)


def _git_state() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=paths.repo_root(), capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain")
    return {"commit": commit, "dirty": bool(dirty) if dirty is not None else None}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):  # numpy arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
