"""What every project script shares: its command-line arguments, its config, and clear errors.

    args = train_parser(__doc__).parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)        # defaults -> --config -> dry run -> --data -> --set
    ...
    if __name__ == "__main__":
        raise SystemExit(run_script(main))                    # a user's mistake is one line, not a traceback

This is the bottom layer a script stands on; the `mlstarter` command (`mlstarter.cli`) is
built on top of the scripts and is never imported by them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from . import datasets, paths, persistence, runs
from .config import ConfigError, from_file, validate, with_overrides

C = TypeVar("C")

# Errors that a user's input causes: printed as one clear line, without a traceback.
USER_ERRORS = (
    ConfigError,
    paths.ProjectError,
    runs.RunNotFoundError,
    runs.NonFiniteMetricsError,
    runs.PromotionRefusedError,
    datasets.DataError,
    datasets.DatasetNotFoundError,
    datasets.ChecksumError,
    persistence.ModelLoadError,  # UntrustedModelError included
)


def train_parser(description: str | None, *, resumable: bool = False) -> argparse.ArgumentParser:
    """The arguments every `train.py` takes: `--set`, `--data`, `--config` and `--dry-run`; with `resumable`
    (a script that keeps a `Checkpoint`), also `--resume`."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    if resumable:
        parser.add_argument(
            "--resume",
            action="store_true",
            help="Continue the interrupted run with the same settings from its last epoch.",
        )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override one config value, e.g. --set seed=7. Repeat for several; the keys are in config.py.",
    )
    parser.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help="Train on your own file in the dataset's format instead of the canonical dataset.",
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="Start from this JSON config (a run's config.json, or the best_config.json of `make tune`) "
        "instead of the defaults in config.py; --set still wins.",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Train on a tiny subset for a few seconds, to check that everything runs.",
    )
    return parser


def evaluate_parser(description: str | None) -> argparse.ArgumentParser:
    """The arguments every `evaluate.py` takes: which run to load."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--run", default=None, metavar="RUN_ID", help="The run to use (default: the newest complete run)."
    )
    return parser


def predict_parser(description: str | None) -> argparse.ArgumentParser:
    """The arguments every `predict.py` takes: the input, the output and which run to use."""
    parser = evaluate_parser(description)
    parser.add_argument("input", type=Path, help="The file (or folder) to score.")
    parser.add_argument("output", type=Path, help="Where to write the results (written whole, or not at all).")
    return parser


def examples_parser(description: str | None, project: str) -> argparse.ArgumentParser:
    """The arguments every `examples.py` takes: where to write, and the data to take the examples from."""
    parser = argparse.ArgumentParser(
        prog=f"python -m projects.{project}.examples",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=paths.examples_dir(project),
        help=f"The folder to write the example files to (default: {paths.examples_dir(project)}).",
    )
    parser.add_argument(
        "--data", default=None, metavar="PATH", help="Take the examples from this file instead of the project's data."
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="Override a config value."
    )
    return parser


def load_config(config_cls: type[C], args: argparse.Namespace, dry_run_overrides: Sequence[str] = ()) -> C:
    """Build the config, then validate it once: the dataclass defaults (or `--config`'s file), then the
    dry run's overrides (with `--dry-run`), then `--data` (as an absolute path, so the run works from
    any folder), then each `--set`, which always wins."""
    config_file = getattr(args, "config", None)
    base = from_file(config_cls, Path(config_file)) if config_file else config_cls()
    overrides = list(dry_run_overrides) if getattr(args, "dry_run", False) else []
    if getattr(args, "data", None) is not None:
        overrides.append(f"data.path={Path(args.data).expanduser().resolve()}")
    return validate(with_overrides(base, [*overrides, *args.overrides]))


def run_script(main: Callable[[list[str] | None], int]) -> int:
    """What a project script's `if __name__ == "__main__":` calls: its main, with clear errors."""
    try:
        code = main(None) or 0
    except USER_ERRORS as error:
        if os.environ.get("RANK", "0") == "0":  # started by torchrun: every process has the same error; say it once
            print(f"error: {error}", file=sys.stderr)
        code = 1
    if "torch" in sys.modules:  # one of several processes that torchrun started: leave the group cleanly
        from .distributed import finish

        finish(code)
    return code
