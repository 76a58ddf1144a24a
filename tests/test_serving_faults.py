"""Serving under faults, for every project in projects/: damaged and malicious models, the HTTP
guarantees every app gets from `create_app`, and real uvicorn servers (several workers, a client
that gives up mid-request, shutdown while requests are in flight).

No assertion here is about time: speed is measured by `make bench-serve`, not tested.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import skops.io as sio
import torch
from fastapi.testclient import TestClient

from mlstarter import bench, loadgen, persistence, runs, serving

from .conftest import PROJECTS, REPO, Started, side_by_side

MODEL_SUFFIXES = (".skops", ".pt", ".pth")  # files a loader could unpickle
PLAIN_MODEL_FILES = ("model.json",)  # a model saved as plain numbers (time_series): nothing to unpickle


def serve_module(project: str) -> Any:
    return importlib.import_module(f"projects.{project}.serve")


@pytest.fixture
def run_copy(dry_run_runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`copy(project)`: a fresh copy of the project's dry run, served from tmp_path; returns its model files."""

    def copy(project: str, plain: bool = False) -> list[Path]:
        shutil.copytree(dry_run_runs(project), tmp_path / "runs")
        monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "runs"))
        return model_files(project, plain)

    return copy


def model_files(project: str, plain: bool) -> list[Path]:
    """The model files of the project's newest run (with `plain`, those holding plain numbers too), or a skip."""
    run = runs.latest_run(project)
    models = sorted(
        p for p in run.path.rglob("*") if p.suffix in MODEL_SUFFIXES or (plain and p.name in PLAIN_MODEL_FILES)
    )
    if not models:
        pytest.skip(f"{project} saves no model file named like {MODEL_SUFFIXES} or {PLAIN_MODEL_FILES}")
    return models


def refused(project: str) -> str | None:
    """Load the project's model as `mlstarter serve` does: the error it refuses with, or None if it loads
    (the damaged file is one serving does not read, e.g. a GAN's discriminator)."""
    try:
        serving.preload(serve_module(project).create_app())
    except persistence.ModelLoadError as error:
        return str(error)
    return None


# 1. a damaged model at start-up: a clear refusal to start


@pytest.mark.parametrize("project", PROJECTS)
@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage", "tampered"])
def test_a_damaged_model_is_refused_with_a_clear_message(project: str, damage: str, run_copy):
    messages = []
    for model in run_copy(project, plain=True):
        original = model.read_bytes()
        if damage == "missing":
            model.unlink()
        elif damage == "truncated":
            model.write_bytes(original[: len(original) // 2])
        elif damage == "garbage":
            model.write_bytes(b"\x00not a model\xff" * 100)
        else:  # still a readable file, but not what training wrote: caught by the run's checksums
            model.write_bytes(original + b" ")
        if (message := refused(project)) is not None:
            assert runs.latest_run(project).run_id in message and "\n" not in message, message
            messages.append(message)
        model.write_bytes(original)  # one file at a time
    assert messages, f"no {damage} model file of {project} stopped the server"


@pytest.fixture(scope="module")
def truncated_serves(request: pytest.FixtureRequest, dry_run_runs, tmp_path_factory: pytest.TempPathFactory):
    """`mlstarter serve` of a copy of each project's dry run whose model files are cut to 100 bytes, for every project
    at once (see conftest.side_by_side)."""

    def start(project: str) -> Started:
        folder = tmp_path_factory.mktemp(f"truncated-{project}")
        shutil.copytree(dry_run_runs(project), folder / "runs")
        with pytest.MonkeyPatch.context() as env:
            env.setenv("MLSTARTER_RUNS_DIR", str(folder / "runs"))
            for model in model_files(project, plain=True):
                model.write_bytes(model.read_bytes()[:100])
            command = [sys.executable, "-m", "mlstarter.cli", "serve", project, "--port", str(loadgen.free_port())]
            return Started(command, folder, cwd=REPO, env=dict(os.environ))

    yield from side_by_side(request, test_mlstarter_serve_refuses_to_start_in_one_line, start)


@pytest.mark.slow
@pytest.mark.parametrize("project", PROJECTS)
def test_mlstarter_serve_refuses_to_start_in_one_line(project: str, truncated_serves):
    """A truncated model stops `mlstarter serve` before uvicorn starts: exit 1, one line, no traceback."""
    done = truncated_serves(project).result(timeout=300)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1 and errors[0].startswith("error: The model of"), done.stderr
    assert "Traceback" not in done.stderr


# 2. a malicious model: refused before any of its code runs


class RunsCode:
    """What an attacker pickles: unpickling it calls os.system (here, harmlessly, `touch`)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("project", PROJECTS)
def test_a_model_file_that_would_run_code_is_refused(project: str, run_copy, tmp_path: Path):
    marker, messages = tmp_path / "the attack ran", []
    models = run_copy(project)
    # an attacker who can replace the model can rewrite checksums.json too: the loader itself must refuse
    (runs.latest_run(project).path / runs.CHECKSUMS).unlink()
    for model in models:
        original = model.read_bytes()
        if model.suffix == ".skops":
            # a skops file that asks for os.system: not among the project's trusted types
            sio.dump({"model": [1, 2, 3], "hook": os.system}, model)
            expected = "does not trust"
        else:
            # a torch checkpoint with a pickled reduce to os.system, as an attacker would make it
            torch.save({"model_state": RunsCode(marker), "config": {}}, model)
            expected = "holds more than tensors and plain data"
        if (message := refused(project)) is not None:
            assert expected in message and "\n" not in message, message
            messages.append(message)
        assert not marker.exists(), "loading the model ran the attacker's code"
        model.write_bytes(original)
    assert messages, f"no malicious model file of {project} was refused"


# 3. what every app gets from create_app


@pytest.fixture(params=PROJECTS)
def api(request: pytest.FixtureRequest, dry_run_runs, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    project = request.param
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(dry_run_runs(project)))
    app = serve_module(project).create_app()
    with TestClient(app) as client:
        yield project, app, client


def test_every_answer_names_the_model_version_and_no_cors_headers_are_sent(api):
    _, app, client = api
    origin = {"origin": "https://another-site.example"}
    preflight = {**origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type"}
    for response in [
        client.get("/health", headers=origin),
        client.get("/metadata", headers=origin),
        client.get("/no-such-page", headers=origin),
        client.options("/health", headers=preflight),
        client.post("/health", headers=origin),
    ]:
        assert response.headers["x-model-version"] == app.state.run.run_id
        assert not [h for h in response.headers if h.startswith("access-control-")], dict(response.headers)


def test_metrics_are_in_the_prometheus_text_format(api):
    _, _, client = api
    client.get("/health")
    client.get("/no-such-page")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "# TYPE http_requests_total counter" in lines
    assert any(line.startswith('http_requests_total{handler="/health",method="GET",status="2xx"}') for line in lines)
    assert any(line.startswith("http_request_duration_seconds_bucket") for line in lines)
    assert any(line.startswith("process_resident_memory_bytes") for line in lines)


def test_each_request_is_one_structured_log_line(api, caplog: pytest.LogCaptureFixture):
    _, app, client = api
    with caplog.at_level(logging.INFO, logger="mlstarter.access"):
        client.get("/health")
        client.get("/no-such-page?x=1")
    lines = [r.getMessage() for r in caplog.records if r.name == "mlstarter.access"]
    assert len(lines) == 2
    fields = [dict(item.split("=", 1) for item in line.split()) for line in lines]
    assert fields[0]["method"] == "GET" and fields[0]["path"] == "/health" and fields[0]["status"] == "200"
    assert fields[1]["path"] == "/no-such-page" and fields[1]["status"] == "404"
    assert all(f["run_id"] == app.state.run.run_id and float(f["latency_ms"]) >= 0 for f in fields)


@pytest.mark.parametrize("project", PROJECTS)
def test_model_endpoints_run_in_the_thread_pool_not_on_the_event_loop(project: str):
    """A plain `def` endpoint runs in a worker thread; an `async def` one that computes blocks every other request."""
    endpoints = [route for route in serve_module(project).router.routes if hasattr(route, "endpoint")]
    assert endpoints
    for route in endpoints:
        assert not inspect.iscoroutinefunction(route.endpoint), f"{project} {route.path} is async def"


def test_the_model_is_loaded_once_when_preloaded(tmp_root: Path):
    from .test_serving import Item, router, write_demo_run

    write_demo_run()
    loads = []
    app = serving.create_app(
        project="demo", router=router, load_predictor=lambda run: loads.append(run) or 2, input_model=Item
    )
    serving.preload(app)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
    assert len(loads) == 1


def test_the_body_cap_can_be_set_by_the_environment(tmp_root: Path, monkeypatch: pytest.MonkeyPatch):
    from .test_serving import make_app, write_demo_run

    write_demo_run({})
    monkeypatch.setenv("MLSTARTER_MAX_BODY_BYTES", "10")
    with TestClient(make_app()) as client:
        assert client.post("/predict", json={"x": 1}).status_code == 200  # 8 bytes
        response = client.post("/predict", json={"x": 1.0, "pad": "xxxx"})
        assert response.status_code == 413 and "at most 10 bytes" in response.json()["detail"][0]["msg"]


# 4. real servers: uvicorn in a subprocess on a free port


# uvicorn shuts down gracefully on SIGTERM, then re-raises the signal so that the exit status says why it stopped
STOPPED_BY_SIGTERM = (0, -signal.SIGTERM)


@contextlib.contextmanager
def server(args: list[str], env: dict[str, str], logs: Path, cwd: Path = REPO) -> Iterator[tuple]:
    """`mlstarter serve ...` on a free port until it answers /health; yields (url, process, log file)."""
    port = loadgen.free_port()
    log = logs / f"server-{port}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlstarter.cli", "serve", *args, "--port", str(port)],
            cwd=cwd,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MLSTARTER_")}, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # bounded: 120 s at most
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise TimeoutError(log.read_text())
        yield url, process, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_two_workers_each_load_the_model_once_and_answer(dry_run_runs, tmp_path: Path):
    project = "credit_risk"
    env = {"MLSTARTER_RUNS_DIR": str(dry_run_runs(project))}
    request = bench.example_requests(project)["single"]
    with server([project, "--workers", "2"], env, logs=tmp_path) as (url, process, log):
        with httpx.Client(timeout=60) as client:
            answers = [client.post(url + request["path"], json=request["json"]) for _ in range(20)]
            assert client.get(f"{url}/metrics").status_code == 200
        assert all(a.status_code == 200 and a.headers["x-model-version"] for a in answers)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) in STOPPED_BY_SIGTERM
    loads = [line for line in log.read_text().splitlines() if f"Serving {project} run" in line and "process" in line]
    pids = {line.rsplit("process ", 1)[1] for line in loads}
    assert len(loads) == 2 and len(pids) == 2 and str(process.pid) not in pids, log.read_text()


@pytest.mark.slow
def test_binding_another_address_warns(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "mlstarter.cli", "serve", "credit_risk", "--host", "0.0.0.0"],
        cwd=REPO,
        env={**os.environ, "MLSTARTER_RUNS_DIR": str(tmp_path)},  # no run: it stops right after the warning
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stderr.startswith("warning: binding 0.0.0.0: anyone who can reach this machine")
    assert done.returncode == 1 and "make train PROJECT=credit_risk" in done.stderr


GATE_SERVE = '''"""A test project whose /predict waits until a gate file exists.

    $ make serve PROJECT=gate
    $ python -m projects.gate.serve
"""

import os
import time
from pathlib import Path

from fastapi import APIRouter
from pydantic import BaseModel

from mlstarter import serving

GATE = Path(os.environ["GATE_DIR"])


class Item(BaseModel):
    x: int


router = APIRouter()


@router.post("/predict")
def predict(item: Item) -> dict:
    (GATE / f"arrived-{item.x}").touch()
    for _ in range(1200):  # 120 s at most
        if (GATE / "open").exists():
            break
        time.sleep(0.1)
    return {"x": item.x}


def create_app(run_id=None):
    return serving.create_app(  # 8 requests may wait at the gate at once (the default: one per core)
        project="gate", router=router, load_predictor=lambda run: None, input_model=Item, run_id=run_id, model_threads=8
    )
'''


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """A real server of the gate project: /predict answers only once `gate / "open"` exists."""
    root, gate = tmp_path / "repo", tmp_path / "gate"
    (root / "projects" / "gate").mkdir(parents=True)
    gate.mkdir()
    shutil.copy(REPO / "pyproject.toml", root)
    (root / "projects" / "__init__.py").write_text("")
    for name in ("__init__.py", "train.py"):
        (root / "projects" / "gate" / name).write_text('"""Nothing to train."""\n')
    (root / "projects" / "gate" / "serve.py").write_text(GATE_SERVE)
    runs.write_json(root / "runs" / "gate" / "20260101-000000" / "config.json", {})
    runs.write_json(root / "runs" / "gate" / "20260101-000000" / "metrics.json", {})
    runs.write_json(root / "runs" / "gate" / "20260101-000000" / "environment.json", {"run_format": runs.RUN_FORMAT})
    env = {"MLSTARTER_ROOT": str(root), "GATE_DIR": str(gate)}
    with server(["gate"], env, logs=tmp_path, cwd=root) as (url, process, _):
        yield url, process, gate


def wait_for(condition, what: str) -> None:
    for _ in range(1200):  # bounded: 120 s at most
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(what)


@pytest.mark.slow
def test_shutdown_under_load_drains_requests_in_flight(gated):
    url, process, gate = gated
    answers: dict[int, Any] = {}

    def ask(x: int) -> None:
        answers[x] = httpx.post(f"{url}/predict", json={"x": x}, timeout=120)

    clients = [threading.Thread(target=ask, args=(x,)) for x in range(4)]
    for client in clients:
        client.start()
    wait_for(lambda: len(list(gate.glob("arrived-*"))) == 4, "4 requests in flight")
    process.send_signal(signal.SIGTERM)  # what `kill`, systemd and docker stop send

    def refuses_new_connections() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", int(url.rsplit(":", 1)[1]))) != 0

    wait_for(refuses_new_connections, "the server to stop listening")
    assert process.poll() is None, "the server quit with requests in flight"
    (gate / "open").touch()
    for client in clients:
        client.join(timeout=120)
    assert {x: a.status_code for x, a in answers.items()} == {x: 200 for x in range(4)}
    assert [answers[x].json()["x"] for x in range(4)] == [0, 1, 2, 3]
    assert process.wait(timeout=60) in STOPPED_BY_SIGTERM


@pytest.mark.slow
def test_a_client_that_gives_up_mid_request_leaves_the_server_healthy(gated):
    url, process, gate = gated
    port = int(url.rsplit(":", 1)[1])
    # 1. a request whose client hangs up while the model works on it
    body = b'{"x": 1}'
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        s.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        wait_for(lambda: (gate / "arrived-1").exists(), "the request to arrive")
    # 2. a client that hangs up half-way through sending its body
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
    # 3. an httpx client that times out waiting
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/predict", json={"x": 2}, timeout=0.5)
    (gate / "open").touch()
    assert httpx.get(f"{url}/health", timeout=30).status_code == 200
    response = httpx.post(f"{url}/predict", json={"x": 3}, timeout=30)
    assert response.status_code == 200 and response.json() == {"x": 3}
    assert process.poll() is None
