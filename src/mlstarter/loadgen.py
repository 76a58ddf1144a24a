"""Load generation: start a server in another process, send it bounded load, and time the answers.

    with serve_in_subprocess("credit_risk", run_id) as url:
        single = load_test(f"{url}/predict", example, concurrency=8, requests=1000)

Every server binds 127.0.0.1 and every load loop is bounded in requests and seconds. What the
numbers mean and where they are written is `mlstarter.bench`'s job.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_subprocess(
    project: str, run_id: str, timeout: float = 60, workers: int = 1, log_db: str | None = None
) -> Iterator[str]:
    """Start `mlstarter serve` for one run on a free loopback port; yield its base URL. Predictions are logged
    to `log_db` if given, else not at all: a benchmark's or a test's traffic never enters the project's own log."""
    port = free_port()
    command = [sys.executable, "-m", "mlstarter.cli", "serve", project, "--run", run_id, "--port", str(port)]
    command += ["--log-db", log_db] if log_db else ["--no-log"]
    with _server([*command, "--workers", str(workers)], port, timeout) as url:
        yield url


@contextlib.contextmanager
def serve_bare(timeout: float = 60) -> Iterator[str]:
    """Start uvicorn with `bare_app` (one constant endpoint, nothing else) on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "mlstarter.loadgen:bare_app", "--factory", "--no-access-log"]
    with _server([*command, "--port", str(port)], port, timeout) as url:
        yield url


def bare_app() -> Any:
    """FastAPI at its barest: `POST /predict` answers a constant. Its speed is the floor of any of ours."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/predict")
    def predict() -> dict[str, float]:  # a plain def, like our endpoints: it runs in the same thread pool
        return {"probability": 0.5}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@contextlib.contextmanager
def _server(command: list[str], port: int, timeout: float) -> Iterator[str]:
    """Run a server command until it answers /health; stop it (gracefully, then by force) afterwards.

    Its output goes to a temporary file, not a pipe: a server logs a line per request, and a pipe
    nobody reads would fill up and stall it.
    """
    import httpx2 as httpx

    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if server.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"the server exited: {log.read()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the server did not answer on {url} within {timeout} s")
                time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
            if server.poll() is None:
                server.kill()
                server.wait()


def load_test(
    url: str,
    body: Any = None,
    *,
    concurrency: int,
    requests: int,
    warmup: int = 20,
    timeout: float = 30,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    max_seconds: float | None = None,
    method: str = "POST",
    params: dict[str, Any] | None = None,
) -> dict[str, float]:
    """POST `body` as JSON (or `files` as a multipart upload) to `url` `requests` times from
    `concurrency` concurrent clients (or another `method`, with query `params`).

    Bounded in count, in time (no new request after `max_seconds`) and each request in time.
    Returns requests/s and latency percentiles in milliseconds, and the number of failed
    requests (non-2xx or errors).
    """
    request = {"method": method, "json": body, "files": files, "params": params}
    return asyncio.run(_load(url, request, concurrency, requests, warmup, timeout, max_seconds))


async def _load(
    url: str,
    request: dict[str, Any],
    concurrency: int,
    requests: int,
    warmup: int,
    timeout: float,
    max_seconds: float | None = None,
    started: Any = None,
) -> dict[str, float]:
    import httpx2 as httpx

    latencies: list[float] = []
    errors = 0
    left = requests  # requests not yet started, shared by the clients
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        def post():
            return client.request(
                request.get("method", "POST"),
                url,
                json=request.get("json"),
                files=request.get("files"),
                params=request.get("params"),
            )

        for _ in range(warmup):
            await post()

        async def worker() -> None:
            nonlocal errors, left
            while left > 0 and (stop is None or time.perf_counter() < stop):
                left -= 1
                start = time.perf_counter()
                try:
                    response = await post()
                    ok = response.is_success
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        start = time.perf_counter()
        stop = None if max_seconds is None else start + max_seconds
        if started is not None:
            started.set()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


def _load_in_child(results: Any, started: Any, url: str, request: dict[str, Any], concurrency: int, seconds: float):
    results.put(asyncio.run(_load(url, request, concurrency, 10**9, 20, 30, seconds, started)))


def health_while_saturated(
    base_url: str, request: dict[str, Any], *, concurrency: int = 64, seconds: float = 10, interval: float = 0.02
) -> dict[str, Any]:
    """`/health` latency, one request every `interval` s, while another process keeps `concurrency` clients
    busy on a prediction endpoint for `seconds`. Returns both: the health probe and the saturating load."""
    import httpx2 as httpx

    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: its event loop competes with no one here
    results, started = spawn.Queue(), spawn.Event()
    load = spawn.Process(
        target=_load_in_child,
        args=(results, started, base_url + request["path"], request, concurrency, seconds),
    )
    load.start()
    latencies, errors = [], 0
    try:
        if not started.wait(timeout=120):
            raise TimeoutError("the load generator did not start within 120 s")
        time.sleep(min(1.0, seconds / 5))  # let every client get its first request in
        with httpx.Client(timeout=30) as client:
            while load.is_alive() and results.empty():
                start = time.perf_counter()
                try:
                    ok = client.get(f"{base_url}/health").status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok
                time.sleep(interval)
        saturating = results.get(timeout=120)
    finally:
        load.join(timeout=30)
        if load.is_alive():
            load.kill()
    ms = np.array(latencies) * 1000
    health = {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }
    return {"health": health, "load": saturating}
