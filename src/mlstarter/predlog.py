"""The prediction log: what a served model was asked and answered, for drift monitoring (`make monitor`).

    $ make serve PROJECT=credit_risk                       # logs to runs/credit_risk-monitoring/predictions.db
    $ make serve PROJECT=credit_risk ARGS="--log-db postgresql://user@host/db"   # many workers or machines
    $ make serve PROJECT=credit_risk ARGS=--no-log

One row per prediction: when, which run, which route, the inputs in the form the monitor needs (for
images and long texts, summary numbers, never the raw content), the output, the warnings' codes and
the request's latency. The project's route says what to log (`serving.log_prediction`); this module
writes it:

- **off the request path**: a request only puts its rows on an in-memory queue (microseconds); a
  thread of its own writes them in batches, one transaction each. When the queue is full (the
  database is down or too slow) rows are dropped and counted, never waited for: logging can never
  fail or slow a request;
- **bounded**: rows older than `max_age_days`, and all but the newest `max_rows`, are deleted once a minute;
- **crash-safe and shared**: SQLite in WAL mode (a killed server loses at most the rows not yet
  written, never the database; several worker processes write to one file), or PostgreSQL for
  several machines. SQLAlchemy (installed with Optuna already) speaks to both.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import paths

logger = logging.getLogger("mlstarter.predlog")

DATABASE = "predictions.db"  # in runs/<project>-monitoring/
MAX_QUEUE = 10_000  # rows waiting to be written; beyond this, new rows are dropped (and counted)
BATCH_ROWS = 500  # rows written in one transaction at most
FLUSH_SECONDS = 0.5  # a row waits at most about this long before it is written
PRUNE_SECONDS = 60  # how often old rows are deleted


class LogError(paths.ProjectError):
    """The prediction log cannot be opened or read (a bad URL, a missing driver, an unreachable server)."""


def monitoring_dir(project: str) -> Path:
    """runs/<project>-monitoring/: the prediction log and the monitoring reports of a project."""
    return paths.runs_dir() / f"{project}-monitoring"


def report_dir(project: str) -> Path:
    """runs/<project>-monitoring/report/: the latest drift report of `make monitor`."""
    return monitoring_dir(project) / "report"


def latest_report(project: str) -> dict[str, Any] | None:
    """The latest drift report's JSON (None before the first `make monitor`): what /metrics turns into gauges."""
    path = report_dir(project) / "report.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def default_target(project: str) -> str:
    return str(monitoring_dir(project) / DATABASE)


def shown(target: str) -> str:
    """A log's file or URL as it can be printed: a URL's password masked."""
    if "://" not in target:
        return target
    try:
        return sa.engine.make_url(target).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):  # not a URL SQLAlchemy reads: mask what stands for a password
        scheme, _, rest = target.partition("://")
        if "@" not in rest:
            return target
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def engine(target: str) -> Any:
    """A SQLAlchemy engine for a file path (SQLite, in WAL mode) or a database URL; the table created if missing.
    Anything wrong with the target (a bad URL, a missing driver, a folder that cannot be made, a server that
    does not answer) is a LogError that says which, in one line."""
    if target.startswith("postgres://"):
        raise LogError(f"{shown(target)}: SQLAlchemy names PostgreSQL postgresql://, not postgres:// (as Heroku "
                       "does): write postgresql://user:password@host/db")  # fmt: skip
    try:
        if "://" not in target:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            url, options = f"sqlite:///{target}", {}
        else:
            url = target
            is_postgres = sa.engine.make_url(url).get_backend_name() == "postgresql"
            options = {"connect_args": {"connect_timeout": 5}} if is_postgres else {}  # a dropped host: 5 s, not 2 min
        # hide_parameters: a failed write's error never repeats the logged values (personal data) in the server log
        found = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True, **options)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError, ValueError, OSError) as error:
        fix = " Install the driver: .venv/bin/pip install -e '.[postgres]'" if isinstance(error, ImportError) else ""
        raise LogError(f"cannot use {shown(target)} as the prediction log: {error}.{fix}") from None
    if found.dialect.name == "sqlite":

        @sa.event.listens_for(found, "connect")
        def _pragmas(connection: Any, _: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA busy_timeout=10000")  # first: another worker writing, even switching to WAL: wait
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; a crash never corrupts
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL's safe setting: a power cut loses the last batch only
            cursor.close()

    try:
        try:
            TABLE.metadata.create_all(found)
        except sa.exc.DBAPIError:  # two workers starting at once: one creates the table, the other fails to
            if not sa.inspect(found).has_table(TABLE.name):
                raise
    except sa.exc.SQLAlchemyError as error:
        found.dispose()
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise LogError(f"cannot open the prediction log {shown(target)}: {reason}") from None
    return found


TABLE = sa.Table(
    "predictions",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.Float, nullable=False, index=True),  # seconds since 1970 (UTC)
    sa.Column("project", sa.String(100), nullable=False),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("route", sa.String(100), nullable=False),
    sa.Column("latency_ms", sa.Float),
    sa.Column("inputs", sa.Text, nullable=False),  # JSON: what the monitor compares with the training data
    sa.Column("output", sa.Text, nullable=False),  # JSON: what the model answered
    sa.Column("warnings", sa.Text, nullable=False),  # JSON: the codes of the answer's warnings
)


@dataclass
class Retention:
    max_age_days: float = 90  # a purpose-bound limit: long enough to see a seasonal drift, then gone
    max_rows: int = 1_000_000  # about 1 GB at most for the largest rows; the newest are kept


class PredictionLog:
    """Writes rows to the log from a thread of its own. `put` never blocks and never raises."""

    def __init__(self, target: str, project: str, retention: Retention | None = None) -> None:
        self.target, self.project = target, project
        self.retention = retention or Retention()
        self.engine = engine(target)  # a bad URL or an unreachable server is said now, at start-up
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=MAX_QUEUE)
        self.written = self.dropped = self.failed = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._write_loop, name="prediction-log", daemon=True)
        self._last_prune = 0.0
        self._thread.start()

    def put(self, rows: list[dict[str, Any]]) -> None:
        """Queue rows to be written (called on the request path: returns at once)."""
        for row in rows:
            try:
                self.queue.put_nowait(row)
            except queue.Full:
                self.dropped += 1

    def flush(self, timeout: float = 30) -> None:
        """Wait until every row queued so far is written (for tests, benchmarks and shutdown)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self, timeout: float = 10) -> None:
        """Write what is queued (for up to `timeout` seconds), then stop the thread."""
        self.flush(timeout)
        self._done.set()
        self._thread.join(timeout=2)
        self.engine.dispose()

    def _write_loop(self) -> None:
        while not self._done.is_set():
            try:
                first = self.queue.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                self._prune_now_and_then()
                continue
            batch = [first]
            deadline = time.monotonic() + FLUSH_SECONDS
            while len(batch) < BATCH_ROWS and time.monotonic() < deadline:
                try:
                    batch.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            self._write(batch)
            for _ in batch:
                self.queue.task_done()
            self._prune_now_and_then()

    def _write(self, batch: list[dict[str, Any]]) -> None:
        rows = []
        for record in batch:  # a row that cannot be written as JSON is lost alone, not with its batch
            try:
                rows.append(_row(self.project, record))
            except (KeyError, TypeError, ValueError):
                self.failed += 1
        if len(rows) < len(batch):
            logger.warning("prediction log: %d rows could not be written as JSON", len(batch) - len(rows))
        if not rows:
            return
        try:
            with self.engine.begin() as connection:
                connection.execute(TABLE.insert(), rows)
            self.written += len(rows)
        except Exception as error:  # never let the log stop: say it (without the rows' values), count, go on
            self.failed += len(rows)
            reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
            logger.warning("prediction log: %d rows not written to %s: %s: %s", len(rows), shown(self.target),
                           type(error).__name__, reason)  # fmt: skip

    def _prune_now_and_then(self) -> None:
        if time.monotonic() - self._last_prune < PRUNE_SECONDS:
            return
        self._last_prune = time.monotonic()
        try:
            prune(self.engine, self.project, self.retention)
        except Exception as error:
            logger.warning("prediction log: old rows not deleted from %s: %s", shown(self.target), error)


def _row(project: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "time": record["time"],
        "project": project,
        "run_id": record["run_id"],
        "route": record["route"],
        "latency_ms": record.get("latency_ms"),
        "inputs": json.dumps(record["inputs"], default=_plain, allow_nan=False),
        "output": json.dumps(record["output"], default=_plain, allow_nan=False),
        "warnings": json.dumps(record.get("warnings", [])),
    }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def prune(engine: Any, project: str, retention: Retention) -> int:
    """Delete `project`'s rows older than the retention age, then all but its newest `max_rows`; return how many
    went. Other projects sharing the database keep theirs."""
    cutoff = time.time() - retention.max_age_days * 86400
    mine = TABLE.c.project == project
    with engine.begin() as connection:
        gone = connection.execute(TABLE.delete().where(mine, TABLE.c.time < cutoff)).rowcount
        oldest_kept = connection.execute(
            sa.select(TABLE.c.id).where(mine).order_by(TABLE.c.id.desc()).offset(retention.max_rows - 1).limit(1)
        ).scalar()
        if oldest_kept is not None:
            gone += connection.execute(TABLE.delete().where(mine, TABLE.c.id < oldest_kept)).rowcount
    return gone


def parse_since(since: str | None) -> float | None:
    """`--since` as seconds since 1970: a date or time (2026-11-30, 2026-11-30T12:00) or an age (90m, 24h, 7d)."""
    if not since:
        return None
    age = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([mhd])", since.strip())
    if age:
        return time.time() - float(age[1]) * {"m": 60, "h": 3600, "d": 86400}[age[2]]
    try:
        moment = dt.datetime.fromisoformat(since.strip())
    except ValueError:
        raise LogError(
            f"--since {since!r} is neither a date (2026-11-30, 2026-11-30T12:00) nor an age (90m, 24h, 7d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def read(target: str, project: str, since: float | None = None, run_id: str | None = None) -> Any:
    """The logged predictions of `project` (optionally since a time, of one run) as a DataFrame, oldest first:
    `time`, `run_id`, `route`, `latency_ms`, `warnings` (a list of codes), and one column per input and output
    (`input.<name>`, `output.<name>`)."""
    import pandas as pd

    if "://" not in target and not Path(target).is_file():
        raise LogError(
            f"no prediction log at {target}: serve the model first (make serve PROJECT={project}; it logs by "
            "default), send it requests, then monitor"
        )
    query = sa.select(TABLE).where(TABLE.c.project == project).order_by(TABLE.c.id)
    if since is not None:
        query = query.where(TABLE.c.time >= since)
    if run_id is not None:
        query = query.where(TABLE.c.run_id == run_id)
    found = engine(target)
    try:
        with found.connect() as connection:
            rows = connection.execute(query).mappings().all()
    finally:
        found.dispose()
    frame = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in TABLE.columns])
    inputs = pd.json_normalize([json.loads(x) for x in frame["inputs"]]).add_prefix("input.")
    outputs = pd.json_normalize([json.loads(x) for x in frame["output"]]).add_prefix("output.")
    frame["warnings"] = [json.loads(x) for x in frame["warnings"]]
    return pd.concat([frame.drop(columns=["inputs", "output"]), inputs, outputs], axis=1)
