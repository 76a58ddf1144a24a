"""The `mlstarter` command: what every `make` target runs.

    $ mlstarter list
    $ mlstarter train credit_risk --set model.kind=boosting
    $ mlstarter train --nproc 2 medical_imaging          # two processes with torchrun (DDP)
    $ mlstarter tune credit_risk --trials 50             # an Optuna study; the best config as a file
    $ mlstarter evaluate credit_risk [--run RUN_ID]
    $ mlstarter predict credit_risk applicants.csv scores.csv [--run RUN_ID]   # score a file
    $ mlstarter examples medical_imaging                 # example input files, in runs/medical_imaging-examples/
    $ mlstarter explore credit_risk [--data FILE]        # a data report (Markdown, plots), in runs/credit_risk-explore/
    $ mlstarter serve credit_risk [--run RUN_ID] [--port 8000] [--workers 2] [--log-db URL | --no-log]
    $ mlstarter promote credit_risk RUN_ID [--force]     # the run serve uses by default
    $ mlstarter monitor credit_risk [--since 7d]         # drift report from the prediction log; exit 3 at "act"
    $ mlstarter simulate-drift credit_risk [--port 8000] # shifted traffic to a running server
    $ mlstarter bench credit_risk
    $ mlstarter bench-serve credit_risk     # load and latency of the served model, against bare FastAPI
    $ mlstarter fuzz credit_risk --seconds 600   # schemathesis, every check, against a served run
    $ mlstarter new my_loans --from credit_risk
    $ mlstarter notebook credit_risk        # the walkthrough notebook in JupyterLab (the `notebook` extra)

Each command imports `projects.<name>.<script>` from the repository and calls its `main`,
the same function `python -m projects.<name>.<script>` runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import datasets, paths, runs, scaffold, server
from .machine import usable_cores
from .scripts import USER_ERRORS


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
        ("predict", "score a file with a run: INPUT OUTPUT (extra arguments go to its predict.py: --run)"),
        (
            "examples",
            "write example input files for every own-data path and for the API (extra arguments go to its examples.py: --out)",
        ),
        (
            "explore",
            "write a data report of the project's data to runs/<project>-explore/ (extra arguments go to its "
            "explore.py: --data, --set, --out)",
        ),
        ("bench", "full-size training and measurement; results go to bench/results/"),
        (
            "tune",
            "search hyperparameters with Optuna (extra arguments go to its tune.py: --trials, --storage, --study, --set)",
        ),
        (
            "monitor",
            "drift report from the prediction log; exit status 3 at 'act' (extra arguments: --since, --log-db)",
        ),
        ("simulate-drift", "send shifted traffic to a running server (extra arguments: --port, --n, --unshifted)"),
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
    server.add_arguments(serve)
    bench_serve = commands.add_parser(
        "bench-serve",
        help="load-test a served run (1, 8 and 64 clients) against bare FastAPI; results in bench/results/",
    )
    bench_serve.add_argument("project")
    bench_serve.add_argument("--run", default=None, help="run id to serve (default: the newest complete run)")
    bench_serve.add_argument("--requests", type=int, default=1000, help="requests per scenario at most (default 1000)")
    bench_serve.add_argument("--seconds", type=float, default=10, help="seconds per scenario at most (default 10)")
    bench_serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    bench_page = commands.add_parser(
        "bench-page", help="the served run's page in Chromium: click-to-result time and the README's screenshot"
    )
    bench_page.add_argument("project")
    bench_page.add_argument("--run", default=None, help="run id to serve (default: the served run)")
    bench_predict = commands.add_parser(
        "bench-predict",
        help="make predict on a large input: rows per second and peak memory; results in bench/results/",
    )
    bench_predict.add_argument("project")
    bench_predict.add_argument("--rows", type=int, default=None, help="input size (default: the project's own)")
    fuzz = commands.add_parser(
        "fuzz", help="schemathesis with every check against a served run, for SECONDS; results in bench/results/"
    )
    fuzz.add_argument("project")
    fuzz.add_argument("--run", default=None, help="run id to serve (default: the newest complete run)")
    fuzz.add_argument("--seconds", type=float, default=600, help="how long to generate requests (default 600)")
    promoting = commands.add_parser("promote", help="make a run the one `serve` uses by default")
    promoting.add_argument("project")
    promoting.add_argument("run", help="the run id to serve from now on")
    promoting.add_argument("--force", action="store_true", help="promote a dry run, or a worse or unevaluated run, too")
    bench_monitor = commands.add_parser(
        "bench-monitor", help="false alarms on unshifted traffic and detections on shifted; results in bench/results/"
    )
    bench_monitor.add_argument("project")
    bench_monitor.add_argument("--run", default=None, help="run id (default: the served run)")
    bench_monitor.add_argument("--repeats", type=int, default=20, help="samples of each kind (default 20)")
    bench_monitor.add_argument("--n", type=int, default=500, help="requests per sample (default 500)")
    new = commands.add_parser("new", help="copy a project under a new name")
    new.add_argument("project", help="the new project's name (a Python identifier, e.g. my_loans)")
    new.add_argument("--from", dest="source", required=True, help="the project to copy, e.g. credit_risk")
    commands.add_parser("list", help="the projects, their datasets and whether each is available offline")
    notebook = commands.add_parser("notebook", help="open a project's walkthrough notebook in JupyterLab")
    notebook.add_argument("project")

    args = parser.parse_args(argv)
    try:
        if getattr(args, "help", False) and args.project is None:  # mlstarter train --help
            args.parser.print_help()
            return 0
        if args.command == "list":
            return list_projects()
        if args.command == "new":
            return scaffold.new_project(args.project, args.source)
        if args.command == "serve":
            target, retention = server.log_options(args.project, args)
            return server.serve_project(args.project, args.run, args.host, args.port, args.workers, target, retention)
        if args.command == "bench-serve":
            from . import bench

            paths.import_script(args.project, "serve")  # a clear error for an unknown project
            return bench.bench_serve(args.project, args.run, args.requests, args.seconds, args.workers)
        if args.command == "bench-page":
            from . import bench

            paths.import_script(args.project, "serve")  # a clear error for an unknown project
            return bench.bench_page(args.project, args.run)
        if args.command == "promote":
            return promote(args.project, args.run, args.force)
        if args.command == "notebook":
            return open_notebook(args.project)
        if args.command == "bench-monitor":
            from . import monitoring

            return monitoring.bench_monitor(args.project, args.run, args.repeats, args.n)
        if args.command == "bench-predict":
            from . import bench

            return bench.bench_predict(args.project, args.rows)
        if args.command == "fuzz":
            from . import bench

            paths.import_script(args.project, "serve")  # a clear error for an unknown project
            return bench.fuzz(args.project, args.run, args.seconds)
        if args.command == "bench" and args.project is None:
            benched = [p for p in paths.project_names() if (paths.projects_dir() / p / "bench.py").is_file()]
            return max([paths.import_script(p, "bench").main(args.args) or 0 for p in benched], default=0)
        if args.project is None or args.project.startswith("-"):
            parser.error(f"{args.command} needs a project: one of {', '.join(paths.project_names())}")
        if args.command == "train":
            nproc, rest = _take_nproc(args.args, args.nproc)  # --nproc after the project works too
            if nproc != 1:
                return launch_distributed(args.project, nproc, rest)
            args.args = rest
        return paths.import_script(args.project, args.command.replace("-", "_")).main(args.args) or 0
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def promote(project: str, run_id: str, force: bool) -> int:
    """Make `run_id` the run `serve` uses by default, unless it is worse than the promoted one (see runs.promote)."""
    compare = paths.import_script(project, "evaluate").PROMOTE_ON  # the test metrics that say "worse"
    record = runs.promote(project, run_id, compare=compare, force=force)
    for problem in record["forced"]:
        print(f"warning: promoted although {problem}", file=sys.stderr)
    print(f"Promoted {project} run {run_id}: make serve PROJECT={project} serves it from now on (a server already "
          "running keeps its model until restarted).")  # fmt: skip
    return 0


def open_notebook(project: str) -> int:
    """JupyterLab on the project's walkthrough.ipynb (from the `notebook` extra), or how to install it."""
    if project not in paths.project_names():
        raise paths.ProjectError(f"No project {project!r} in {paths.projects_dir()}. Projects: "
                                 f"{', '.join(paths.project_names())}")  # fmt: skip
    notebook = paths.projects_dir() / project / "walkthrough.ipynb"
    lab = Path(sys.executable).with_name("jupyter-lab")
    if not lab.is_file():
        print(f"error: JupyterLab is not installed in this environment. Install it with\n"
              f"  .venv/bin/pip install -e '.[notebook]'\nthen run make notebook PROJECT={project} again, or open "
              f"{paths.shown(notebook)} in VS Code or another Jupyter, with this .venv's Python as its kernel "
              "(its mlstarter and packages).", file=sys.stderr)  # fmt: skip
        return 1
    print(f"Opening {paths.shown(notebook)} in JupyterLab (Ctrl-C here stops it).", flush=True)
    return subprocess.run([str(lab), str(notebook)]).returncode


def _take_nproc(args: list[str], nproc: int) -> tuple[int, list[str]]:
    """`--nproc N` (or `--nproc=N`) taken out of a train script's arguments, wherever it stands."""
    rest, items = [], iter(args)
    for item in items:
        if item == "--nproc" or item.startswith("--nproc="):
            value = item.partition("=")[2] or next(items, "")
            if not value.isdigit():
                raise paths.ProjectError(f"--nproc needs a number of processes, e.g. --nproc 2; got {value!r}")
            nproc = int(value)
        else:
            rest.append(item)
    return nproc, rest


def launch_distributed(project: str, nproc: int, args: list[str]) -> int:
    """Train in `nproc` processes on this machine: torchrun starts the project's train.py in each.

    torchrun is PyTorch's launcher (`python -m torch.distributed.run`); `--standalone` runs its
    rendezvous on this machine at a free port. For several machines, see mlstarter.distributed.
    """
    if nproc < 1:
        raise paths.ProjectError(f"--nproc must be at least 1, not {nproc}")
    if not getattr(paths.import_script(project, "train"), "DISTRIBUTED", False):
        able = [p for p in paths.project_names() if getattr(paths.import_script(p, "train"), "DISTRIBUTED", False)]
        raise paths.ProjectError(
            f"{project} trains in one process: its train.py does not use mlstarter.distributed. "
            f"Projects that train in several: {', '.join(able) or 'none'}"
        )
    command = ["torchrun", "--standalone", f"--nproc-per-node={nproc}", "-m", f"projects.{project}.train", *args]
    print("Launching:", " ".join(command), flush=True)
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


def list_projects() -> int:
    rows = []
    for name in paths.project_names():
        module = paths.import_script(name, "data")
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
