"""Hyperparameter search with Optuna: many short trainings, each scored on validation data.

    $ make tune PROJECT=credit_risk TRIALS=50
    $ make train PROJECT=credit_risk CONFIG=runs/credit_risk-tuning/logistic/best_config.json

A project declares which knobs may be searched, and over what ranges, in its `config.py`:

    def searchable(cfg: Config) -> dict[str, tuning.Param]:
        return {"model.logistic_c": tuning.Float(1e-3, 10, log=True)}

and its `tune.py` gives `run_study` an objective: train with one trial's config, return the
validation score. A neural model reports its score after every epoch (`report(epoch, score)`),
so that the pruner can stop a trial that is doing worse than the median of earlier trials at
the same epoch: hopeless trials end early and more of the budget goes to promising ones.

What `run_study` adds:
- the study lives in a database: a SQLite file in `runs/<project>-tuning/<study>/` unless
  `--storage` names another (`postgresql://user:password@host/db` lets many machines work on
  one study: start `make tune` on each with the same --storage and --study). Run the same
  command again after an interruption and the study goes on where it stopped; `--trials` is
  the study's total, not a number to add;
- TPE, Optuna's default sampler: after 10 random trials it proposes values near the best so far;
- a new study's first trial is the starting config itself (when its values lie in the ranges),
  so the summary says how much the search gained over it;
- in the study folder: `best_config.json` (the whole config, ready for `--config`),
  `trials.csv`, `summary.json` and plots of the optimisation history, the importance of
  each parameter and, with pruning, the per-epoch scores of every trial.

The score is always measured on validation data, never on the test split: after 50 trials
the best validation score is an optimistic estimate, so report the test score of a run
trained with the best config (make train + make evaluate), measured once.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from . import paths, runs
from .config import ConfigError, apply_overrides, to_dict, valid_keys
from .scripts import load_config, train_parser

C = TypeVar("C")
Report = Callable[[int, float], None]  # report(epoch, score): may raise optuna.TrialPruned to end the trial
# (one trial's config, report) -> the validation score, or {metric: score, other: value, ...}: the others
# (e.g. ROC AUC beside the cost that is optimised) are kept with the trial, in trials.csv and summary.json
Objective = Callable[[Any, Report], float | dict[str, float]]

STARTUP_TRIALS = 5  # the pruner stops nothing until this many trials have finished: it needs a median first


@dataclass(frozen=True)
class Float:
    """A real number between low and high; log=True for scales (learning rates, C): 1e-4..1e-1 evenly in log."""

    low: float
    high: float
    log: bool = False

    def suggest(self, trial: Any, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Int:
    """A whole number between low and high, both included."""

    low: int
    high: int
    log: bool = False

    def suggest(self, trial: Any, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Choice:
    """One of a few values, e.g. Choice(("cnn", "resnet")) or Choice((True, False))."""

    options: tuple[Any, ...]

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.options))


Param = Float | Int | Choice


def tune_parser(description: str | None) -> argparse.ArgumentParser:
    """A train.py's arguments (--set, --data, --config, --dry-run: the starting config) plus the study's."""
    parser = train_parser(description)
    parser.add_argument("--trials", type=int, default=50, help="Trials the study should have in all (default 50).")
    parser.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="Where the study lives: default a SQLite file in runs/<project>-tuning/<study>/; "
        "e.g. postgresql://user:password@host/db for many machines on one study.",
    )
    parser.add_argument(
        "--study", default=None, metavar="NAME", help="The study's name (default: the model kind being tuned)."
    )
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="Stop starting new trials after this long."
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=60,
        metavar="SECONDS",
        help="How often a worker records that it is alive (default 60). A trial whose worker has been silent "
        "for 3 heartbeats (it was killed, or its machine lost power) is marked failed by the next worker.",
    )
    parser.add_argument(
        "--sampler-seed",
        type=int,
        default=None,
        help="Seed TPE's proposals, for a repeatable single-worker study (default: random; "
        "several workers with one seed would propose the same values).",
    )
    return parser


def study_dir(project: str, study: str) -> Path:
    """runs/<project>-tuning/<study>/: beside the project's runs, never mistaken for one."""
    return paths.runs_dir() / f"{project}-tuning" / study


def base_config(config_cls: type[C], args: argparse.Namespace, dry_run_overrides: list[str]) -> C:
    """The config every trial starts from: defaults (or --config), the dry run's shrinking, --data, --set."""
    return load_config(config_cls, args, dry_run_overrides)


def run_study(
    project: str,
    cfg: Any,
    space: dict[str, Param],
    objective: Objective,
    args: argparse.Namespace,
    *,
    metric: str,
    direction: Literal["maximize", "minimize"] = "maximize",
    study_name: str = "default",
    pruning: bool = False,
    warmup_epochs: int = 2,
) -> int:
    """Run (or go on with) a study of `args.trials` trials over `space`, then write the study folder.

    With `pruning`, a trial may be stopped after any epoch past the first `warmup_epochs`
    (epochs count from 1), when every network still looks bad and slow starters would be lost.
    """
    import optuna

    if args.trials < 1:
        raise ConfigError(f"--trials must be at least 1, not {args.trials}")
    unknown = sorted(set(space) - set(valid_keys(cfg)))
    if unknown:
        raise ConfigError(f"searchable() names keys the config lacks: {', '.join(unknown)}")
    if os.environ.get("WORLD_SIZE", "1") != "1":
        raise ConfigError(
            "tune.py runs one process per trial, not under torchrun: to run trials side by side, "
            "start the same command again in another terminal (or machine) on the same --storage"
        )
    name = (args.study or study_name) + ("-dry-run" if args.dry_run else "")
    folder = study_dir(project, name)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=warmup_epochs + 1)
        if pruning
        else optuna.pruners.NopPruner()
    )
    try:
        storage, study, created = open_study(
            args.storage, folder, name, direction, pruner, args.sampler_seed, args.heartbeat
        )
    except KeyboardInterrupt:
        print("Interrupted before the study opened: nothing was run.", file=sys.stderr)
        return 130
    _check_same_study(study, cfg, space, metric)
    _enqueue_baseline(study, cfg, space, created)

    def trial_objective(trial: optuna.Trial) -> float:
        params = {key: param.suggest(trial, key) for key, param in space.items()}
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which process ran it
        trial_cfg = apply_overrides(cfg, [f"{key}={value}" for key, value in params.items()])

        def report(epoch: int, score: float) -> None:
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"{metric} {score:.4f} at epoch {epoch} is below the median of earlier trials")

        result = objective(trial_cfg, report)
        if isinstance(result, dict):  # the score, and measures reported beside it
            for key, value in result.items():
                if key != metric:
                    trial.set_user_attr(key, float(value))
            result = result[metric]
        return float(result)

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    print(f"***** Tuning {project} *****")
    if done < args.trials:
        print(f"  study {name!r} in {_shown(storage.url)}: {done} of {args.trials} trials done")
    else:
        print(f"  study {name!r} in {_shown(storage.url)}: {done} trials done, --trials {args.trials} asks for no "
              "more (raise --trials to run more); writing its results")  # fmt: skip
    print(f"  searching {', '.join(space)}; {'maximising' if direction == 'maximize' else 'minimising'} {metric}")
    print(f"  pruning: {'trials below the median at the same epoch' if pruning else 'none (no per-epoch score)'}")
    began, interrupted = time.perf_counter(), False
    try:
        if done < args.trials:
            study.optimize(
                trial_objective,
                n_trials=args.trials - done,
                timeout=args.timeout,
                callbacks=[optuna.study.MaxTrialsCallback(args.trials, states=finished)],  # the study's total
                catch=(ConfigError, FloatingPointError),  # a combination the config refuses, or a diverging loss
            )
    except KeyboardInterrupt:
        interrupted = True  # Optuna marked the running trial as failed; the finished ones are in the database
    minutes = (time.perf_counter() - began) / 60
    ran_here = len(study.get_trials(deepcopy=False, states=finished)) - done
    summary = write_study(study, cfg, folder, metric, ran_here / minutes if minutes > 0 and ran_here else None)
    if summary is None:
        if interrupted:
            print("Interrupted before any trial completed: run the same command again to start.", file=sys.stderr)
            return 130
        failed = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)))
        print(f"No trial has completed ({failed} failed: their errors are above). Nothing to report.", file=sys.stderr)
        return 1
    baseline = summary["baseline_value"]
    also = "".join(f", {key} {value:.4f}" for key, value in summary["best_also"].items())
    print(
        f"\nBest {metric} {summary['best_value']:.4f}{also} in trial {summary['best_trial']} "
        f"({summary['complete']} complete, {summary['pruned']} pruned, {summary['failed']} failed)"
        + (f"; the starting config scored {baseline:.4f}." if baseline is not None else ".")
    )
    print(f"Study folder: {folder} (plots, trials.csv, summary.json)")
    command = f"make train PROJECT={project} CONFIG={paths.shown(folder / 'best_config.json')}"
    print(f"Train with the best config: {command}" + (" ARGS=--dry-run" if args.dry_run else ""))
    if interrupted:
        print("Interrupted: run the same command again to go on with the study.", file=sys.stderr)
        return 130
    return 0


def open_study(
    url: str | None,
    folder: Path,
    name: str,
    direction: str,
    pruner: Any,
    sampler_seed: int | None,
    heartbeat: float = 60,
) -> tuple[Any, Any, bool]:
    """The study's database (a SQLite file in `folder` by default, or any SQLAlchemy URL), the study in it
    (created or, when it exists, loaded) and whether this call created it."""
    import optuna
    import sqlalchemy.exc

    if heartbeat <= 0:
        raise ConfigError(f"--heartbeat must be above 0 seconds, not {heartbeat:g}")
    if url is None:
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'study.db'}"
    check_driver(url)
    # SQLite: several local workers wait for each other's writes (up to a minute) instead of failing
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(1, 6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=heartbeat,  # a worker that dies (kill -9, power) stops beating: its trial
                    grace_period=3 * heartbeat,  # is marked failed by the next worker, 3 heartbeats later
                )
            options = {"study_name": name, "storage": storage, "sampler": optuna.samplers.TPESampler(seed=sampler_seed),
                       "pruner": pruner}  # fmt: skip
            try:
                return storage, optuna.create_study(direction=direction, **options), True
            except optuna.exceptions.DuplicatedStudyError:  # the same command again, or another worker: go on with it
                return storage, optuna.load_study(**options), False
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as error:
            # two workers starting at once on a new database both create its tables: the loser tries again
            if attempt == 5:
                raise ConfigError(f"--storage {_shown(url)}: cannot open the study database ({error})") from None
            time.sleep(0.5 * attempt)
        except Exception as error:  # SQLAlchemy's other errors: a bad URL, an unknown database, wrong credentials
            raise ConfigError(f"--storage {_shown(url)}: cannot open the study database ({error})") from None
    raise AssertionError("unreachable")


def write_study(study: Any, cfg: Any, folder: Path, metric: str, trials_per_minute: float | None) -> dict | None:
    """best_config.json, trials.csv, summary.json and plots/ in `folder`; None while no trial has completed."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return None
    best = study.best_trial
    best_cfg = apply_overrides(cfg, [f"{key}={value}" for key, value in best.params.items()])
    folder.mkdir(parents=True, exist_ok=True)
    runs.write_json(folder / "best_config.json", to_dict(best_cfg))
    runs.write_text(folder / "trials.csv", study.trials_dataframe().to_csv(index=False))
    states = [t.state for t in study.get_trials(deepcopy=False)]
    summary = {
        "study": study.study_name,
        "metric": metric,
        "direction": study.direction.name.lower(),
        "best_value": best.value,
        "best_trial": best.number,
        "best_params": best.params,
        "best_also": {k: v for k, v in best.user_attrs.items() if k not in ("worker", "baseline")},  # e.g. its ROC AUC
        "baseline_value": next((t.value for t in complete if t.user_attrs.get("baseline")), None),
        "complete": states.count(optuna.trial.TrialState.COMPLETE),
        "pruned": states.count(optuna.trial.TrialState.PRUNED),
        "failed": states.count(optuna.trial.TrialState.FAIL),
        "workers": sorted({t.user_attrs.get("worker", "?") for t in complete}),
        "trials_per_minute_while_running": trials_per_minute,  # the study's pace during this command, all workers
    }
    runs.write_json(folder / "summary.json", summary)
    save_plots(study, folder / "plots", metric)
    return summary


def save_plots(study: Any, folder: Path, metric: str) -> list[Path]:
    """Optuna's own plots, as PNGs: optimisation history, parameter importances, per-epoch scores."""
    import matplotlib
    from matplotlib import pyplot as plt
    from optuna import visualization

    folder.mkdir(parents=True, exist_ok=True)
    plots = {
        "optimization_history": lambda: visualization.matplotlib.plot_optimization_history(study, target_name=metric),
        "param_importances": lambda: visualization.matplotlib.plot_param_importances(study),
        "intermediate_values": lambda: visualization.matplotlib.plot_intermediate_values(study),
    }
    saved = []
    for name, plot in plots.items():
        if name == "intermediate_values" and not any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
            continue  # no per-epoch scores: a model without epochs
        # Optuna's plots switch matplotlib to its ggplot style for the whole process (plt.style.use): rc_context
        # puts every setting back afterwards, so plots drawn later in the same process look as they should
        with warnings.catch_warnings(), matplotlib.rc_context():
            warnings.simplefilter("ignore")  # the matplotlib plots are marked experimental
            try:
                axes = plot()
            except (ValueError, RuntimeError) as error:  # e.g. importances need two complete trials
                print(f"  (no {name} plot yet: {error})", file=sys.stderr)
                continue
            figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            figure.set_size_inches(8, 5)
            figure.tight_layout()
            partial = folder / f".{name}.{os.getpid()}.png"  # then renamed: another worker may be writing it too
            figure.savefig(partial, dpi=100)
            plt.close(figure)
        os.replace(partial, folder / f"{name}.png")
        saved.append(folder / f"{name}.png")
    return saved


def _enqueue_baseline(study: Any, cfg: Any, space: dict[str, Param], created: bool) -> None:
    """Make the starting config a trial of its own: the first of a new study, or again if that one failed
    (e.g. Ctrl-C during it). Only the worker that created the study adds it, so two never both do."""
    import optuna

    state = optuna.trial.TrialState
    baselines = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("baseline")]
    failed_only = baselines and all(t.state == state.FAIL for t in baselines)
    if (created or failed_only) and (start := _starting_values(cfg, space)):
        study.enqueue_trial(start, user_attrs={"baseline": True})


def _starting_values(cfg: Any, space: dict[str, Param]) -> dict[str, Any] | None:
    """The config's own values of the searched keys, if every one lies in its range (a grid of several does not)."""
    values = {}
    for key, param in space.items():
        value = cfg
        for part in key.split("."):
            value = getattr(value, part)
        if isinstance(value, tuple) and len(value) == 1:  # a one-value grid, e.g. logistic_c=(0.1,)
            value = value[0]
        if isinstance(param, Choice):
            fits = value in param.options
        else:
            number = isinstance(value, int if isinstance(param, Int) else (int, float)) and not isinstance(value, bool)
            fits = number and param.low <= value <= param.high
        if not fits:
            return None
        values[key] = value
    return values


def _check_same_study(study: Any, cfg: Any, space: dict[str, Param], metric: str) -> None:
    """A study goes on only with the settings it started with; else its trials would not be comparable."""
    settings = {"base_config": to_dict(cfg), "search_space": {k: repr(v) for k, v in space.items()}, "metric": metric}
    saved = study.user_attrs.get("settings")
    if saved is None:
        study.set_user_attr("settings", json.loads(json.dumps(settings)))
        return
    now = json.loads(json.dumps(settings))
    if saved != now:
        before, after = dict(_flat(saved)), dict(_flat(now))
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        raise ConfigError(
            f"study {study.study_name!r} was started with other settings (changed: {', '.join(changed)}): "
            "its trials would not be comparable. Start a new one with --study NEW_NAME, or use the same --set values."
        )


def _flat(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """('base_config.model.kind', 'cnn'), ...: where two settings differ, by name."""
    if not isinstance(data, dict):
        return [(prefix, data)]
    return [item for key, value in data.items() for item in _flat(value, f"{prefix}.{key}" if prefix else key)]


# The driver each database needs, as the extra of pyproject.toml that installs it
DRIVER_EXTRAS = {"postgresql": "postgres"}


def check_driver(url: str) -> None:
    """Refuse, in one line that names the install command, a storage URL whose database driver is missing."""
    import sqlalchemy.engine
    import sqlalchemy.exc

    try:
        dialect = sqlalchemy.engine.make_url(url).get_dialect()
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError):
        return  # not a URL SQLAlchemy knows: opening the study says so, with SQLAlchemy's reason
    try:
        dialect.import_dbapi()
    except ImportError as error:
        extra = DRIVER_EXTRAS.get(dialect.name)
        fix = (
            f".venv/bin/pip install -e '.[{extra}]'"
            if extra and dialect.driver == "psycopg"
            else f"install the Python package of the {dialect.driver} driver"
        )
        raise ConfigError(
            f"--storage {_shown(url)} needs the {dialect.name} driver {dialect.driver!r}, which is not installed "
            f"({error}): {fix}"
        ) from None


def _shown(url: str) -> str:
    """A storage URL as it can be printed: its password, if it has one, masked."""
    import sqlalchemy.engine
    import sqlalchemy.exc

    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url.split("@", 1)[-1] if "@" in url else url  # not a URL: at least no credentials
