"""The prediction log: written after the answer, bounded, never able to fail a request, safe when killed,
shared by two worker processes, and the same in PostgreSQL."""

from __future__ import annotations

import queue
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.testclient import TestClient

from mlstarter import predlog, serving

from .test_serving import Doubler, Item, write_demo_run
from .test_tuning_postgres import postgres_url  # noqa: F401  (a fixture: PostgreSQL of the test's own)

router = APIRouter()


@router.post("/predict")
def predict(item: Item, model: Annotated[Doubler, Depends(serving.get_predictor)], request: Request) -> dict:
    y = model(item.x)
    warnings = [serving.PredictionWarning(code="large", field="x", message="large")] if item.x > 9 else []
    serving.log_prediction(request, {"x": item.x}, {"y": y}, warnings)
    return {"y": y}


def app_logging_to(target: str, **retention: float):
    app = serving.create_app(project="demo", router=router, load_predictor=Doubler, input_model=Item)
    serving.enable_log(app, target, predlog.Retention(**retention) if retention else None)
    return app


def test_each_answered_prediction_is_logged_with_its_latency_and_run(tmp_root: Path):
    run = write_demo_run()
    target = str(tmp_root / "log" / predlog.DATABASE)
    with TestClient(app_logging_to(target)) as client:
        assert client.post("/predict", json={"x": 3}).json() == {"y": 6}
        assert client.post("/predict", json={"x": 9.5}).status_code == 200
        assert client.post("/predict", json={"x": 11}).status_code == 422  # refused: nothing predicted, nothing logged
        assert client.post("/predict", json={"x": 7}).status_code == 422  # the model refused it: not logged either
        client.app.state.prediction_log.flush()
        meta = client.get("/metadata").json()["prediction_log"]
    assert meta["on"] and meta["where"] == target and meta["written"] == 2 and meta["dropped"] == 0
    log = predlog.read(target, "demo")
    assert log["input.x"].tolist() == [3.0, 9.5] and log["output.y"].tolist() == [6.0, 19.0]
    assert log["warnings"].tolist() == [[], ["large"]] and set(log["run_id"]) == {run.run_id}
    assert (log["latency_ms"] > 0).all() and set(log["route"]) == {"/predict"}
    assert sqlite3.connect(target).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_without_the_log_nothing_is_written_and_metadata_says_so(tmp_root: Path):
    write_demo_run()
    app = serving.create_app(project="demo", router=router, load_predictor=Doubler, input_model=Item)
    with TestClient(app) as client:
        assert client.post("/predict", json={"x": 3}).status_code == 200
        assert client.get("/metadata").json()["prediction_log"] == {"on": False}
    assert not predlog.monitoring_dir("demo").exists()


def test_the_log_is_bounded_by_age_and_rows(tmp_root: Path):
    target = str(tmp_root / predlog.DATABASE)
    log = predlog.PredictionLog(target, "demo", predlog.Retention(max_age_days=1, max_rows=50))
    now = time.time()
    old = [{"time": now - 3 * 86400, "run_id": "r", "route": "/p", "inputs": {"x": i}, "output": {}} for i in range(30)]
    new = [{"time": now, "run_id": "r", "route": "/p", "inputs": {"x": i}, "output": {}} for i in range(100)]
    log._last_prune = time.monotonic()  # the writer prunes once a minute: not before this test has written
    log.put(old + new)
    log.flush()
    assert predlog.prune(log.engine, "demo", log.retention) == 30 + 50  # three days old, then all but the newest 50
    assert predlog.read(target, "demo")["input.x"].tolist() == list(range(50, 100))
    log._last_prune = 0  # the writer's own pruning, as a server does it once a minute
    log.put(old)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(predlog.read(target, "demo")) != 50:
        time.sleep(0.1)
    log.close()
    assert predlog.read(target, "demo")["input.x"].tolist() == list(range(50, 100))


def test_a_broken_or_full_log_never_fails_or_holds_up_a_request(tmp_root: Path, monkeypatch, caplog):
    write_demo_run()
    target = str(tmp_root / predlog.DATABASE)
    with TestClient(app_logging_to(target)) as client:
        log = client.app.state.prediction_log
        with sqlite3.connect(target) as db:
            db.execute("DROP TABLE predictions")  # the database breaks under the server
        assert client.post("/predict", json={"x": 3}).status_code == 200
        log.flush()
        assert log.failed == 1 and "1 rows not written" in caplog.text
        log._done.set()  # the writer stops (a database that hangs): nobody drains the queue now
        log._thread.join(timeout=5)
        monkeypatch.setattr(log, "queue", queue.Queue(maxsize=1))
        log.queue.put_nowait({"stuck": True})  # and it is full
        start = time.perf_counter()
        assert client.post("/predict", json={"x": 4}).status_code == 200
        assert time.perf_counter() - start < 5 and log.dropped == 1  # dropped and counted, not waited for
        log.queue.get_nowait(), log.queue.task_done()


WRITER = textwrap.dedent("""
    import sys, time
    from mlstarter import predlog
    target, name, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log = predlog.PredictionLog(target, "demo")
    print("ready", flush=True)
    for i in range(rows):
        log.put([{"time": time.time(), "run_id": name, "route": "/predict", "inputs": {"i": i}, "output": {}}])
        if i % 50 == 0:
            time.sleep(0.01)  # requests arrive over time, not all at once
    log.close()
""")


def writer(tmp_path: Path, target: str, name: str, rows: int) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen([sys.executable, str(script), target, name, str(rows)], stdout=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_worker_processes_write_to_one_log(tmp_root: Path):
    target = str(tmp_root / predlog.DATABASE)
    workers = [writer(tmp_root, target, name, 3000) for name in ("worker-1", "worker-2")]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    log = predlog.read(target, "demo")
    assert log.groupby("run_id").size().to_dict() == {"worker-1": 3000, "worker-2": 3000}  # none lost, none twice


@pytest.mark.slow
def test_a_killed_server_leaves_a_sound_log_that_serving_goes_on_writing(tmp_root: Path):
    target = str(tmp_root / predlog.DATABASE)
    doomed = writer(tmp_root, target, "killed", 1_000_000)
    assert doomed.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not Path(target).is_file() or len(predlog.read(target, "demo")) < 500):
        time.sleep(0.1)
    doomed.send_signal(signal.SIGKILL)  # as the OOM killer or a power cut would: mid-write, no clean-up
    doomed.wait(timeout=30)
    with sqlite3.connect(target) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    written = len(predlog.read(target, "demo"))
    assert written >= 500
    survivor = writer(tmp_root, target, "after", 100)
    assert survivor.wait(timeout=60) == 0
    assert len(predlog.read(target, "demo")) == written + 100


@pytest.mark.slow
def test_the_log_in_postgresql(postgres_url: str, tmp_root: Path):  # noqa: F811
    write_demo_run()
    with TestClient(app_logging_to(postgres_url)) as client:
        for x in (1, 2, 3):
            assert client.post("/predict", json={"x": x}).status_code == 200
        client.app.state.prediction_log.flush()
    log = predlog.read(postgres_url, "demo")
    assert log["input.x"].tolist()[-3:] == [1.0, 2.0, 3.0]


def test_a_log_that_cannot_be_opened_is_said_in_one_line(tmp_root: Path):
    with pytest.raises(predlog.LogError, match="cannot open the prediction log postgresql://u:\\*\\*\\*@127.0.0.1:1/x"):
        predlog.engine("postgresql://u:secret@127.0.0.1:1/x")
    with pytest.raises(predlog.LogError, match="no prediction log at .*make serve PROJECT=demo"):
        predlog.read(str(tmp_root / "none.db"), "demo")


@pytest.mark.parametrize(("since", "seconds_ago"), [("90m", 5400), ("24h", 86400), ("7d", 7 * 86400)])
def test_since_takes_an_age_or_a_date(since: str, seconds_ago: float):
    assert abs(predlog.parse_since(since) - (time.time() - seconds_ago)) < 5
    assert predlog.parse_since("2026-11-30") == predlog.parse_since("2026-11-30T00:00+00:00")
    with pytest.raises(predlog.LogError, match="neither a date"):
        predlog.parse_since("last week")


def test_worker_processes_take_the_log_from_the_environment(tmp_root: Path, monkeypatch):
    from mlstarter import server

    monkeypatch.setattr(server.paths, "import_script", lambda project, script: type("M", (), {
        "create_app": staticmethod(lambda run_id: serving.create_app(
            project="demo", router=router, load_predictor=Doubler, input_model=Item, run_id=run_id))}))  # fmt: skip
    run = write_demo_run()
    env = {"MLSTARTER_SERVE_PROJECT": "demo", "MLSTARTER_SERVE_RUN": run.run_id, "MLSTARTER_SERVE_LOG": "x.db",
           "MLSTARTER_SERVE_LOG_DAYS": "3", "MLSTARTER_SERVE_LOG_ROWS": "10"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_root)
    app = server.worker_app()
    assert app.state.log_retention == predlog.Retention(3, 10)
    with TestClient(app) as client:  # the worker's start-up opens the log it was given
        assert client.post("/predict", json={"x": 2}).status_code == 200
        assert client.get("/metadata").json()["prediction_log"]["where"] == "x.db"
    assert predlog.read(str(tmp_root / "x.db"), "demo")["input.x"].tolist() == [2.0]


def test_one_bad_row_is_lost_alone_and_the_log_never_repeats_logged_values(tmp_root: Path, caplog):
    target = str(tmp_root / predlog.DATABASE)
    log = predlog.PredictionLog(target, "demo")
    good = {"time": time.time(), "run_id": "r", "route": "/p", "inputs": {"age": 23}, "output": {}}
    log.put([good, {**good, "inputs": {"age": float("nan")}}, good])  # NaN cannot be written as JSON
    log.flush()
    assert (log.written, log.failed) == (2, 1)
    with sqlite3.connect(target) as db:
        db.execute("DROP TABLE predictions")
    log.put([{**good, "inputs": {"personal_status_sex": "female: divorced/separated/married"}}])
    log.flush()
    log.close()
    assert log.failed == 2 and "OperationalError: no such table: predictions" in caplog.text
    assert "divorced" not in caplog.text  # the values stay in the database, never in the server's log


def test_prune_keeps_other_projects_rows(tmp_root: Path):
    target = str(tmp_root / predlog.DATABASE)
    row = {"time": time.time(), "run_id": "r", "route": "/p", "inputs": {}, "output": {}}
    ours, theirs = predlog.PredictionLog(target, "demo"), predlog.PredictionLog(target, "other")
    ours.put([row] * 20)
    theirs.put([row] * 5)
    ours.flush(), theirs.flush()
    assert predlog.prune(ours.engine, "demo", predlog.Retention(max_rows=10)) == 10
    ours.close(), theirs.close()
    assert len(predlog.read(target, "demo")) == 10 and len(predlog.read(target, "other")) == 5


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("postgres://u:secret@db/x", "postgresql://, not postgres://"),
        ("postgresql://u:secret@db:notaport/x", "cannot use postgresql://u:\\*\\*\\*@db:notaport/x"),
        ("/proc/no/such/predictions.db", "cannot use /proc/no/such/predictions.db as the prediction log"),
    ],
)
def test_a_bad_log_target_is_one_line(target: str, says: str):
    with pytest.raises(predlog.LogError, match=says) as error:
        predlog.engine(target)
    assert "secret" not in str(error.value)
