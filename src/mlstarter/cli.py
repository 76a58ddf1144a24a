"""The `mlstarter` command: what every `make` target runs.

    $ mlstarter list
    $ mlstarter train credit_risk --set model.kind=boosting
    $ mlstarter train --nproc 2 medical_imaging          # two processes with torchrun (DDP)
    $ mlstarter tune credit_risk --trials 50             # an Optuna study; the best config as a file
    $ mlstarter evaluate credit_risk [--run RUN_ID]
    $ mlstarter serve credit_risk [--run RUN_ID] [--port 8000] [--workers 2] [--host 127.0.0.1]
    $ mlstarter bench credit_risk
    $ mlstarter bench-serve credit_risk     # load and latency of the served model, against bare FastAPI
    $ mlstarter new my_loans --from credit_risk

Each command imports `projects.<name>.<script>` from the repository and calls its `main`,
the same function `python -m projects.<name>.<script>` runs.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import datasets, paths, persistence, runs
from .config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlstarter", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in [
        (
            "train",
            "train a project (--nproc N: in N processes; extra arguments go to its train.py: --set, --config, --data, --dry-run)",
        ),
        ("evaluate", "evaluate a run on held-out test data (extra arguments go to its evaluate.py: --run)"),
        ("bench", "full-size training and measurement; results go to bench/results/"),
        (
            "tune",
            "search hyperparameters with Optuna (extra arguments go to its tune.py: --trials, --storage, --study, --set)",
        ),
    ]:
        # no automatic -h: `mlstarter train credit_risk --help` shows the project script's own options
        sub = commands.add_parser(name, help=help_text, add_help=False)
        sub.add_argument("-h", "--help", action="store_true", help="this help; after a project: that script's help")
        if name == "train":
            sub.add_argument(
                "--nproc", type=int, default=1, help="train in this many processes with torchrun (default 1)"
            )
        sub.add_argument("project", nargs="?", help="one of the projects (mlstarter list)")
        sub.add_argument("args", nargs=argparse.REMAINDER, help="the script's own options, e.g. --set, --config")
        sub.set_defaults(parser=sub)
    serve = commands.add_parser("serve", help="serve a run over HTTP with uvicorn")
    serve.add_argument("project")
    serve.add_argument("--run", default=None, help="run id to serve (default: the newest complete run)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes, each with its own copy of the model (default 1)"
    )
    bench_serve = commands.add_parser(
        "bench-serve",
        help="load-test a served run (1, 8 and 64 clients) against bare FastAPI; results in bench/results/",
    )
    bench_serve.add_argument("project")
    bench_serve.add_argument("--run", default=None, help="run id to serve (default: the newest complete run)")
    bench_serve.add_argument("--requests", type=int, default=1000, help="requests per scenario at most (default 1000)")
    bench_serve.add_argument("--seconds", type=float, default=10, help="seconds per scenario at most (default 10)")
    bench_serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    new = commands.add_parser("new", help="copy a project under a new name")
    new.add_argument("project", help="the new project's name (a Python identifier, e.g. my_loans)")
    new.add_argument("--from", dest="source", required=True, help="the project to copy, e.g. credit_risk")
    commands.add_parser("list", help="the projects, their datasets and whether each is available offline")

    args = parser.parse_args(argv)
    sys.path.insert(0, str(paths.repo_root()))  # so that `projects.<name>` imports from the repository
    try:
        if getattr(args, "help", False) and args.project is None:  # mlstarter train --help
            args.parser.print_help()
            return 0
        if args.command == "list":
            return list_projects()
        if args.command == "new":
            return new_project(args.project, args.source)
        if args.command == "serve":
            return serve_project(args.project, args.run, args.host, args.port, args.workers)
        if args.command == "bench-serve":
            from . import bench

            _import(args.project, "serve")  # a clear error for an unknown project
            return bench.bench_serve(args.project, args.run, args.requests, args.seconds, args.workers)
        if args.command == "bench" and args.project is None:
            benched = [p for p in project_names() if (paths.projects_dir() / p / "bench.py").is_file()]
            return max([_import(p, "bench").main(args.args) or 0 for p in benched], default=0)
        if args.project is None or args.project.startswith("-"):
            parser.error(f"{args.command} needs a project: one of {', '.join(project_names())}")
        if args.command == "train":
            nproc, rest = _take_nproc(args.args, args.nproc)  # --nproc after the project works too
            if nproc != 1:
                return launch_distributed(args.project, nproc, rest)
            args.args = rest
        return _import(args.project, args.command).main(args.args) or 0
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _take_nproc(args: list[str], nproc: int) -> tuple[int, list[str]]:
    """`--nproc N` (or `--nproc=N`) taken out of a train script's arguments, wherever it stands."""
    rest, items = [], iter(args)
    for item in items:
        if item == "--nproc" or item.startswith("--nproc="):
            value = item.partition("=")[2] or next(items, "")
            if not value.isdigit():
                raise ProjectError(f"--nproc needs a number of processes, e.g. --nproc 2; got {value!r}")
            nproc = int(value)
        else:
            rest.append(item)
    return nproc, rest


class ProjectError(ValueError):
    """No such project, or a bad name for a new one."""


# Errors that a user's input causes: printed as one clear line, without a traceback.
USER_ERRORS = (
    ConfigError,
    ProjectError,
    runs.RunNotFoundError,
    datasets.DataError,
    datasets.DatasetNotFoundError,
    datasets.ChecksumError,
    persistence.ModelLoadError,  # UntrustedModelError included
)


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


def project_names() -> list[str]:
    root = paths.projects_dir()
    if not root.is_dir():
        raise ProjectError(
            f"No projects/ folder in {paths.repo_root()} or above: run mlstarter from the repository, "
            f"or set MLSTARTER_ROOT to it."
        )
    return sorted(p.name for p in root.iterdir() if (p / "__init__.py").is_file() and (p / "train.py").is_file())


def _import(project: str, script: str) -> ModuleType:
    if project not in project_names():
        raise ProjectError(f"No project {project!r} in {paths.projects_dir()}. Projects: {', '.join(project_names())}")
    if not (paths.projects_dir() / project / f"{script}.py").is_file():
        have = [p for p in project_names() if (paths.projects_dir() / p / f"{script}.py").is_file()]
        raise ProjectError(f"Project {project!r} has no {script}.py. Projects that do: {', '.join(have) or 'none'}")
    return importlib.import_module(f"projects.{project}.{script}")


def launch_distributed(project: str, nproc: int, args: list[str]) -> int:
    """Train in `nproc` processes on this machine: torchrun starts the project's train.py in each.

    torchrun is PyTorch's launcher (`python -m torch.distributed.run`); `--standalone` runs its
    rendezvous on this machine at a free port. For several machines, see mlstarter.distributed.
    """
    if nproc < 1:
        raise ProjectError(f"--nproc must be at least 1, not {nproc}")
    if not getattr(_import(project, "train"), "DISTRIBUTED", False):
        able = [p for p in project_names() if getattr(_import(p, "train"), "DISTRIBUTED", False)]
        raise ProjectError(
            f"{project} trains in one process: its train.py does not use mlstarter.distributed. "
            f"Projects that train in several: {', '.join(able) or 'none'}"
        )
    command = ["torchrun", "--standalone", f"--nproc-per-node={nproc}", "-m", f"projects.{project}.train", *args]
    print("Launching:", " ".join(command), flush=True)
    from .distributed import usable_cores  # here: importing torch is slow, and most commands never need it

    env = dict(os.environ)
    # each process its share of the cores (unless you set OMP_NUM_THREADS yourself), not one each, torchrun's default
    env.setdefault("OMP_NUM_THREADS", str(max(1, usable_cores() // nproc)))
    # from any folder: `projects.<name>` imports from the repository; --data and --config paths stay yours
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.repo_root()), env.get("PYTHONPATH")]))
    launcher = [sys.executable, "-m", "torch.distributed.run", *command[1:]]
    code = subprocess.run(launcher, env=env).returncode
    if code != 0:
        print(f"error: training in {nproc} processes failed (exit code {code}); the first error is above "
              "torchrun's report.", file=sys.stderr)  # fmt: skip
    return code


GRACEFUL_SHUTDOWN_S = 30  # on Ctrl-C or SIGTERM, requests in flight get this long to finish


def serve_project(project: str, run_id: str | None, host: str, port: int, workers: int = 1) -> int:
    """Serve a run with uvicorn. The model is loaded (and checked) here first, so a missing or damaged
    model stops with one clear line; with `workers` > 1 each worker process then loads its own copy."""
    import uvicorn

    from . import serving

    if workers < 1:
        raise ProjectError(f"--workers must be at least 1, not {workers}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: binding {host}: anyone who can reach this machine on port {port} can call the model, "
            "without a password. Put it behind a reverse proxy with TLS and authentication.",
            file=sys.stderr,
        )
    module = _import(project, "serve")
    app = module.create_app(run_id)
    run = serving.preload(app)  # RunNotFoundError or ModelLoadError: one line, before uvicorn starts
    print(
        f"Serving {project} run {run.run_id} on http://{host}:{port} with {workers} worker(s)  "
        f"(API docs: http://{host}:{port}/docs)",
        flush=True,
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": log_config(),
        "access_log": False,  # mlstarter.access logs each request, with its latency and the run id
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }
    if workers == 1:
        uvicorn.run(app, **options)
        return 0
    # Several workers: uvicorn starts each as a fresh process from an import string, and each loads the model
    # once at its own start-up. They find the project and run through the environment they inherit.
    del app  # the check is done; the workers load their own copies
    os.environ.update({"MLSTARTER_SERVE_PROJECT": project, "MLSTARTER_SERVE_RUN": run.run_id})
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # /metrics then adds up the counts of every worker
        metrics_dir = tempfile.mkdtemp(prefix="mlstarter-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    uvicorn.run("mlstarter.cli:worker_app", factory=True, workers=workers, **options)
    return 0


def worker_app() -> Any:
    """The app of one uvicorn worker process (see `serve_project`)."""
    sys.path.insert(0, str(paths.repo_root()))
    module = importlib.import_module(f"projects.{os.environ['MLSTARTER_SERVE_PROJECT']}.serve")
    return module.create_app(os.environ["MLSTARTER_SERVE_RUN"])


def log_config() -> dict[str, Any]:
    """uvicorn's logging set-up, plus our loggers: one line per request on stderr, with time and process id."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["mlstarter"] = {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"}
    config["handlers"]["mlstarter"] = {
        "formatter": "mlstarter",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["mlstarter"] = {"handlers": ["mlstarter"], "level": "INFO", "propagate": False}
    return config


def new_project(name: str, source: str) -> int:
    if not name.isidentifier():
        raise ProjectError(f"{name!r} is not a valid project name: use letters, digits and underscores, e.g. my_loans")
    if source not in project_names():
        raise ProjectError(f"No project {source!r} to copy. Projects: {', '.join(project_names())}")
    target = paths.projects_dir() / name
    if target.exists():
        raise ProjectError(f"{target} already exists: pick another name or remove it first.")
    shutil.copytree(paths.projects_dir() / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # The code finds its own name from its folder; only the docs and comments name the source project,
    # in commands and paths: PROJECT=sentiment, projects.sentiment.train, runs/sentiment/. Prose such as
    # "the sentiment of a review" is left alone, and so is FROM=sentiment (the copy still came from it).
    in_command = (
        r"(?:(?<=PROJECT=)|(?<=projects\.)|(?<=projects/)|(?<=runs/)|(?<=runs/\.)|(?<=bench/results/))"
        rf"{re.escape(source)}\b"
    )
    for path in [*target.rglob("*.py"), *target.rglob("*.md")]:
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


def list_projects() -> int:
    rows = []
    for name in project_names():
        module = _import(name, "data")
        dataset = getattr(module, "DATASET", None)
        if dataset is None:  # data that ships inside an installed package, e.g. time_series's S&P 500 in `arch`
            bundled = getattr(module, "BUNDLED", None)
            rows.append((name, bundled, "yes: installed with a package") if bundled else (name, "-", "-"))
            continue
        found = datasets.status(dataset)
        offline = (
            "yes" if all(found.values()) else f"no: {', '.join(f for f, p in found.items() if p is None)} to download"
        )
        rows.append((name, dataset.name, offline))
    width = [max(len(r[i]) for r in [("project", "dataset", "offline"), *rows]) for i in range(3)]
    for row in [("project", "dataset", "offline"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
