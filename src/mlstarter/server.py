"""Running a served project: uvicorn with one or more worker processes, logging, and Prometheus counts.

    $ mlstarter serve credit_risk --workers 2        # what `make serve PROJECT=credit_risk WORKERS=2` runs

The app itself (routes, limits, errors, metrics endpoint) is `mlstarter.serving`'s; this module
starts it: it loads and checks the model first (so a broken run stops with one line before any
server starts), then runs uvicorn, and with several workers gives each its own copy of the model
and one shared folder for the Prometheus counts.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import errno
import os
import shutil
import socket
import sys
import tempfile
from typing import Any

from . import paths, predlog
from .scripts import USER_ERRORS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mlstarter serve` and of every project's `python -m projects.<name>.serve`."""
    parser.add_argument("--run", default=None, help="run id to serve (default: the newest complete run)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes, each with its own copy of the model (default 1)"
    )
    parser.add_argument(
        "--log-db",
        default=None,
        help="where to log predictions for make monitor: a SQLite file, or a database URL "
        "(postgresql://user:password@host/db) that many workers or machines share "
        "(default: runs/<project>-monitoring/predictions.db)",
    )
    parser.add_argument("--no-log", action="store_true", help="do not log predictions")
    parser.add_argument("--log-days", type=float, default=predlog.Retention.max_age_days,
                        help="delete logged predictions older than this many days (default %(default)s)")  # fmt: skip
    parser.add_argument("--log-rows", type=int, default=predlog.Retention.max_rows,
                        help="keep at most this many logged predictions, the newest (default %(default)s)")  # fmt: skip


def log_options(project: str, args: argparse.Namespace) -> tuple[str | None, predlog.Retention]:
    """Where `serve`'s arguments say to log predictions (None: not at all), and for how long."""
    if args.no_log and args.log_db:
        raise paths.ProjectError("--no-log and --log-db contradict each other: give one")
    if args.log_days <= 0 or args.log_rows < 1:
        raise paths.ProjectError("--log-days and --log-rows must be above 0")
    target = None if args.no_log else (args.log_db or predlog.default_target(project))
    return target, predlog.Retention(max_age_days=args.log_days, max_rows=args.log_rows)


def main(project: str, argv: list[str] | None = None) -> int:
    """What a project's `python -m projects.<name>.serve` runs: the same as `mlstarter serve <name>`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m projects.{project}.serve", description=f"Serve a run of {project}."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        target, retention = log_options(project, args)
        return serve_project(project, args.run, args.host, args.port, args.workers, target, retention)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


class PortInUseError(paths.ProjectError):
    """Another program already listens on the address the server was asked to bind."""


def check_port(project: str, host: str, port: int) -> None:
    """Refuse, in one line that says how to choose another, a port that something already listens on.

    uvicorn alone would load the model, then log "[Errno 98] address already in use" among its start-up lines.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, OverflowError) as error:
        raise paths.ProjectError(f"cannot serve on {host}:{port}: {error}. Give a port from 1 to 65535 and an address "
                                 "of this machine (--host 127.0.0.1, the default)") from None  # fmt: skip
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:  # a port below 1024 without root, an address not on this machine
                raise paths.ProjectError(f"cannot serve on {host}:{port}: {error.strerror}") from None
            other = port + 1 if port < 65535 else port - 1
            raise PortInUseError(
                f"port {port} on {host} is in use ({error.strerror}): another server, perhaps an earlier make serve "
                f"still running, listens there. Stop it, or choose another port: make serve PROJECT={project} "
                f"PORT={other}  (or --port {other})"
            ) from None


GRACEFUL_SHUTDOWN_S = 30  # on Ctrl-C or SIGTERM, requests in flight get this long to finish


def serve_project(
    project: str,
    run_id: str | None,
    host: str,
    port: int,
    workers: int = 1,
    log_target: str | None = None,
    retention: predlog.Retention | None = None,
) -> int:
    """Serve a run with uvicorn. The model is loaded (and checked) here first, so a missing or damaged
    model stops with one clear line; with `workers` > 1 each worker process then loads its own copy.
    With a `log_target` (a SQLite file or a database URL) every prediction is logged there."""
    import uvicorn  # here, with the app's own modules: slow to import, and only serving needs them

    from . import serving

    if workers < 1:
        raise paths.ProjectError(f"--workers must be at least 1, not {workers}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: binding {host}: anyone who can reach this machine on port {port} can call the model, "
            "without a password. Put it behind a reverse proxy with TLS and authentication.",
            file=sys.stderr,
        )
    check_port(project, host, port)  # before the model loads: a busy port is said at once
    module = paths.import_script(project, "serve")
    app = module.create_app(run_id)
    run = serving.preload(app)  # RunNotFoundError or ModelLoadError: one line, before uvicorn starts
    retention = retention or predlog.Retention()
    if log_target is not None:
        predlog.engine(log_target).dispose()  # a bad URL or an unreachable database: one line, now
        serving.enable_log(app, log_target, retention)
    print(
        f"Serving {project} run {run.run_id} on http://{host}:{port} with {workers} worker(s)  "
        f"(try it: http://{host}:{port}/ · API docs: http://{host}:{port}/docs)\n"
        + (f"Logging predictions to {predlog.shown(log_target)} for make monitor (kept {retention.max_age_days:g} "
           f"days, {retention.max_rows:,} rows at most; --no-log to turn it off)" if log_target else
           "Not logging predictions (--no-log)"),
        flush=True,
    )  # fmt: skip
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
    os.environ.update({"MLSTARTER_SERVE_PROJECT": project, "MLSTARTER_SERVE_RUN": run.run_id,
                       "MLSTARTER_SERVE_LOG": log_target or "", "MLSTARTER_SERVE_LOG_DAYS": str(retention.max_age_days),
                       "MLSTARTER_SERVE_LOG_ROWS": str(retention.max_rows)})  # fmt: skip
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # /metrics then adds up the counts of every worker
        metrics_dir = tempfile.mkdtemp(prefix="mlstarter-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    uvicorn.run("mlstarter.server:worker_app", factory=True, workers=workers, **options)
    return 0


def worker_app() -> Any:
    """The app of one uvicorn worker process (see `serve_project`)."""
    module = paths.import_script(os.environ["MLSTARTER_SERVE_PROJECT"], "serve")
    app = module.create_app(os.environ["MLSTARTER_SERVE_RUN"])
    if os.environ.get("MLSTARTER_SERVE_LOG"):  # each worker writes to the one log (SQLite's WAL lets them)
        from . import serving

        retention = predlog.Retention(
            max_age_days=float(os.environ["MLSTARTER_SERVE_LOG_DAYS"]),
            max_rows=int(os.environ["MLSTARTER_SERVE_LOG_ROWS"]),
        )
        serving.enable_log(app, os.environ["MLSTARTER_SERVE_LOG"], retention)
    return app


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
