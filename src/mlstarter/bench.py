"""Benchmark helpers: describe the machine, load-test a served project, record the results.

A project's `bench.py` measures its own quality; these helpers do the rest:

    with serve_in_subprocess("credit_risk", run_id) as url:
        single = load_test(f"{url}/predict", example, concurrency=8, requests=1000)
    write_results("credit_risk", results, markdown)

`write_results` writes `bench/results/<project>.json` and `.md`, and puts the Markdown
between `<!-- bench:start -->` and `<!-- bench:end -->` in the project's README.md, so the
numbers a learner reads are the ones the last `make bench` measured.

`bench_serve` (`make bench-serve PROJECT=x`) is the serving benchmark on its own: a real
uvicorn server, load from other processes at 1, 8 and 64 clients, `/health` latency while
`/predict` is saturated, and a bare FastAPI endpoint measured in the same run for scale.
Its results go to `bench/results/<project>-serving.{json,md}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import json
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import model_card, paths, runs

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python of this machine, and today's date."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": dt.date.today().isoformat(),
        "cpu": cpu,
        "cores": cores,
        "memory_gib": memory_gib,
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
    }


def machine_line(info: dict[str, Any]) -> str:
    return f"{info['date']}, {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB RAM, {info['os']}, Python {info['python']}"


# Runs a command as its child and prints the child's peak memory. Why a middleman: on Linux a
# process's peak-memory counter starts from its parent's at fork time, so a command started
# straight from a big benchmark process would report the benchmark's memory, not its own.
_PEAK_MEMORY = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:]).returncode\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)"
)


def timed_subprocess(args: list[str]) -> dict[str, float]:
    """Run a command (e.g. a train script) as a user would; return its wall time and peak memory (POSIX)."""
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "log", "w+") as log:
        peak_file = Path(tmp) / "peak"
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_MEMORY, str(peak_file), *args], stdout=log, stderr=subprocess.STDOUT
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"{' '.join(args)} failed:\n{log.read()[-3000:]}")
        peak = int(peak_file.read_text(encoding="utf-8"))
    peak_mib = peak / (2**20 if sys.platform == "darwin" else 2**10)  # bytes on macOS, KiB on Linux
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_subprocess(project: str, run_id: str, timeout: float = 60, workers: int = 1) -> Iterator[str]:
    """Start `mlstarter serve` for one run on a free loopback port; yield its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "mlstarter.cli", "serve", project, "--run", run_id, "--port", str(port)]
    with _server([*command, "--workers", str(workers)], port, timeout) as url:
        yield url


@contextlib.contextmanager
def serve_bare(timeout: float = 60) -> Iterator[str]:
    """Start uvicorn with `bare_app` (one constant endpoint, nothing else) on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "mlstarter.bench:bare_app", "--factory", "--no-access-log"]
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


def example_requests(project: str) -> dict[str, dict[str, Any]]:
    """The requests a project's benchmark sends: `{"single": {...}, "batch": {...}}`, each a `path` and
    a `json` body or multipart `files` (or `"method": "GET"` and query `params`). A project says them
    in `example_requests()` in its serve.py; without that, its example.json is POSTed to /predict as
    the single request (and there is no batch)."""
    module = importlib.import_module(f"projects.{project}.serve")
    if hasattr(module, "example_requests"):
        return module.example_requests()
    example = paths.projects_dir() / project / "example.json"
    if example.is_file():
        return {"single": {"path": "/predict", "json": json.loads(example.read_text(encoding="utf-8"))}}
    raise ValueError(
        f"{project} has neither example_requests() in serve.py nor an example.json: "
        "say what a request to its API looks like in one of them."
    )


CONCURRENCY = (1, 8, 64)


def bench_serve(
    project: str, run_id: str | None = None, requests: int = 1000, seconds: float = 10, workers: int = 1
) -> int:
    """`make bench-serve PROJECT=x`: load-test a served run; write bench/results/<project>-serving.{json,md}."""
    run = runs.latest_run(project, run_id)
    examples = example_requests(project)
    results: dict[str, Any] = {
        "project": project,
        "run_id": run.run_id,
        "workers": workers,
        "machine": machine(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "serving": {},
    }
    print(f"Benchmarking {project} run {run.run_id}: {workers} worker(s), {', '.join(map(str, CONCURRENCY))} clients")

    def scenario(base: str, name: str, request: dict[str, Any], concurrency: int) -> None:
        results["serving"][name] = load_test(
            base + request["path"],
            request.get("json"),
            files=request.get("files"),
            method=request.get("method", "POST"),
            params=request.get("params"),
            concurrency=concurrency,
            requests=requests,
            max_seconds=seconds,
        )
        print(f"  {name}: {results['serving'][name]['requests_per_s']:.0f} requests/s")

    health = {"path": "/health", "method": "GET"}
    with serve_in_subprocess(project, run.run_id, workers=workers) as url:
        for kind, request in examples.items():
            for concurrency in CONCURRENCY:
                scenario(url, f"{kind}, {concurrency} clients", request, concurrency)
        for concurrency in CONCURRENCY:  # no model work: what our middleware and logging cost
            scenario(url, f"/health, {concurrency} clients", health, concurrency)
        results["health_under_load"] = health_while_saturated(url, examples["single"], seconds=seconds)
    with serve_bare() as url:
        for concurrency in CONCURRENCY:
            bare = {"path": "/predict", "json": examples["single"].get("json")}
            scenario(url, f"bare FastAPI constant, {concurrency} clients", bare, concurrency)
            scenario(url, f"bare FastAPI /health, {concurrency} clients", health, concurrency)
    # how many times faster the bare endpoint is than ours, client for client: our own overhead plus the model's work
    results["bare_over_single"] = {
        str(c): round(
            results["serving"][f"bare FastAPI constant, {c} clients"]["requests_per_s"]
            / results["serving"][f"single, {c} clients"]["requests_per_s"],
            2,
        )
        for c in CONCURRENCY
    }
    results["bare_over_health"] = {
        str(c): round(
            results["serving"][f"bare FastAPI /health, {c} clients"]["requests_per_s"]
            / results["serving"][f"/health, {c} clients"]["requests_per_s"],
            2,
        )
        for c in CONCURRENCY
    }
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    markdown = serving_markdown(results)
    folder = paths.repo_root() / "bench" / "results"
    runs.write_json(folder / f"{project}-serving.json", results)
    runs.write_text(folder / f"{project}-serving.md", markdown.strip() + "\n")
    _replace_block(
        paths.repo_root() / "README.md",
        markdown,
        f"<!-- bench-serve:{project}:start -->",
        f"<!-- bench-serve:{project}:end -->",
    )
    print(markdown)
    print(f"Results in {folder / f'{project}-serving.json'}")
    return 0


def serving_markdown(results: dict[str, Any]) -> str:
    """The serving benchmark as Markdown: the load table, /health under load and the bare-FastAPI ratio."""
    h = results["health_under_load"]
    loads = ", ".join(f"{x:.2f}" for x in results["load_average_before"] or [])
    ratio = ", ".join(f"{c} clients {r:.1f}x" for c, r in results["bare_over_single"].items())
    overhead = ", ".join(f"{c} clients {r:.1f}x" for c, r in results["bare_over_health"].items())
    return (
        f"`make bench-serve PROJECT={results['project']}`, run {results['run_id']}, {results['workers']} uvicorn "
        f"worker(s) on 127.0.0.1, load from other processes; {machine_line(results['machine'])}; "
        f"load average before the run {loads} (other work on the machine slows every number here).\n\n"
        f"{serving_table(results['serving'])}\n\n"
        f"`/health` while {h['load']['concurrency']} clients saturate `/predict` "
        f"({h['load']['requests_per_s']:.0f} requests/s, {h['load']['errors']} errors): p50 {h['health']['p50_ms']:.1f} ms, "
        f"p95 {h['health']['p95_ms']:.1f} ms, p99 {h['health']['p99_ms']:.1f} ms over {h['health']['requests']} probes "
        f"({h['health']['errors']} errors).\n\n"
        f"Bare FastAPI requests/s over ours: for a single prediction (model included) {ratio}; "
        f"for `/health` (no model: our middleware, metrics and logging) {overhead}."
    )


def write_results(project: str, results: dict[str, Any], markdown: str) -> Path:
    """Record a project's benchmark.

    Writes bench/results/<project>.{json,md}, puts `markdown` into the project README's bench
    block, rebuilds the top-level README's results table from every project's
    `results["summary"]` (a dict of column -> value), and prints `markdown` and where it went.
    """
    folder = paths.repo_root() / "bench" / "results"
    runs.write_json(folder / f"{project}.json", results)
    runs.write_text(folder / f"{project}.md", markdown.strip() + "\n")
    _replace_block(paths.projects_dir() / project / "README.md", markdown)
    summaries = []
    for path in sorted(folder.glob("*.json")):
        summary = json.loads(path.read_text(encoding="utf-8")).get("summary")
        if summary and (paths.projects_dir() / path.stem).is_dir():
            summaries.append(summary)
    if summaries:
        from .model_card import table

        _replace_block(paths.repo_root() / "README.md", table(summaries))
    print(markdown)
    print(f"\nResults written to {folder / f'{project}.json'} and projects/{project}/README.md")
    return folder / f"{project}.json"


def bench_study(project: str, study: str, args: list[str], workers: int, runs_dir: Path) -> dict[str, Any]:
    """Run `tune.py` in `workers` processes on one study, as a user would start them (into `runs_dir`);
    return its summary, the wall time of the whole command and the trials per minute while trials ran."""
    import optuna

    command = [sys.executable, "-m", f"projects.{project}.tune", "--study", study, *args]
    cores = machine()["cores"]
    # each worker its share of the cores: two workers with all the threads each would fight over them
    env = {**os.environ, "MLSTARTER_RUNS_DIR": str(runs_dir), "OMP_NUM_THREADS": str(max(1, cores // workers))}
    began = time.perf_counter()
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(workers)
    ]
    errors = [proc.communicate()[1].decode(errors="replace") for proc in procs]
    wall = time.perf_counter() - began
    if any(proc.returncode != 0 for proc in procs):
        raise RuntimeError(f"{' '.join(command)} failed:\n{errors[0][-3000:]}")
    folder = runs_dir / f"{project}-tuning" / study
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    storage = f"sqlite:///{folder / 'study.db'}"
    finished = [t for t in optuna.load_study(study_name=study, storage=storage).trials if t.datetime_complete]
    span = (max(t.datetime_complete for t in finished) - min(t.datetime_start for t in finished)).total_seconds()
    return {
        **summary,
        "workers": workers,
        "finished_trials": len(finished),  # complete and pruned
        "wall_seconds": wall,  # the whole command: start-up, data, trials, plots
        "trials_per_minute": len(finished) / span * 60,  # while trials ran
        "trial_seconds": {  # one trial's duration, by how it ended
            state: summary_of(
                [
                    (t.datetime_complete - t.datetime_start).total_seconds()
                    for t in finished
                    if t.state.name.lower() == state
                ]
            )  # fmt: skip
            for state in ("complete", "pruned")
        },
        "best_config": str(folder / "best_config.json"),
    }


def summary_of(values: list[float]) -> dict[str, float] | None:
    return {"min": min(values), "median": float(np.median(values)), "max": max(values)} if values else None


def write_section(project: str, section: str, results: dict[str, Any], markdown: str) -> Path:
    """Record one part of a project's benchmark that has its own README block (e.g. `distributed`):
    bench/results/<project>-<section>.{json,md} and the text between the project README's
    `<!-- bench:<section>:start -->` and `<!-- bench:<section>:end -->` markers."""
    folder = paths.repo_root() / "bench" / "results"
    runs.write_json(folder / f"{project}-{section}.json", results)
    runs.write_text(folder / f"{project}-{section}.md", markdown.strip() + "\n")
    readme = paths.projects_dir() / project / "README.md"
    _replace_block(readme, markdown, f"<!-- bench:{section}:start -->", f"<!-- bench:{section}:end -->")
    print(markdown)
    print(f"\nResults written to {folder / f'{project}-{section}.json'} and projects/{project}/README.md")
    return folder / f"{project}-{section}.json"


def _replace_block(readme: Path, markdown: str, start: str = START, end: str = END) -> None:
    """Replace the text between the markers of a README (the bench block by default), if it has them."""
    if not readme.is_file():
        return
    text = readme.read_text(encoding="utf-8")
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        runs.write_text(readme, f"{before}{start}\n{markdown.strip()}\n{end}{after}")


def summary(values: list[float]) -> dict[str, Any]:
    """Mean and standard deviation over folds, and the per-fold values themselves."""
    return {"mean": float(np.mean(values)), "sd": float(np.std(values)), "folds": [round(v, 4) for v in values]}


def paired(values: list[float], baseline: list[float]) -> dict[str, float]:
    """Mean fold-by-fold difference from a baseline on the same folds, and its standard error (sd / sqrt(n))."""
    diff = np.asarray(values) - np.asarray(baseline)
    return {"mean": float(diff.mean()), "se": float(diff.std(ddof=1) / np.sqrt(len(diff)))}


def speed_table(speed: dict[str, dict[str, float]]) -> str:
    """Markdown: one row per timed step (see `timed_subprocess`)."""
    return model_card.table(
        [
            {"step": step, "wall time (s)": f"{v['seconds']:.1f}", "peak memory (MiB)": v["peak_rss_mib"]}
            for step, v in speed.items()
        ]
    )


def serving_table(serving: dict[str, dict[str, float]]) -> str:
    """Markdown: one row per load-test scenario (see `load_test`)."""
    return model_card.table(
        [
            {
                "scenario": name,
                "requests/s": f"{v['requests_per_s']:.0f}",
                "p50 (ms)": f"{v['p50_ms']:.1f}",
                "p95 (ms)": f"{v['p95_ms']:.1f}",
                "p99 (ms)": f"{v['p99_ms']:.1f}",
                "errors": f"{v['errors']}/{v['requests']}",
            }
            for name, v in serving.items()
        ]
    )
