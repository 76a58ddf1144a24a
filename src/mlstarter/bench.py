"""Benchmark helpers: describe the machine, load-test a served project, record the results.

A project's `bench.py` measures its own quality; these helpers do the rest:

    with serve_in_subprocess("credit_risk", run_id) as url:
        single = load_test(f"{url}/predict", example, concurrency=8, requests=1000)
    write_results("credit_risk", results, markdown)

`write_results` writes `bench/results/<project>.json` and `.md`, and puts the Markdown
between `<!-- bench:start -->` and `<!-- bench:end -->` in the project's README.md, so the
numbers a learner reads are the ones the last `make bench` measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
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
def serve_in_subprocess(project: str, run_id: str, timeout: float = 60) -> Iterator[str]:
    """Start `mlstarter serve` for one run on a free loopback port; yield its base URL."""
    import httpx2 as httpx

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlstarter.cli", "serve", project, "--run", run_id, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited: {server.stderr.read()[-2000:]}")
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


def load_test(
    url: str,
    body: Any = None,
    *,
    concurrency: int,
    requests: int,
    warmup: int = 20,
    timeout: float = 30,
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> dict[str, float]:
    """POST `body` as JSON (or `files` as a multipart upload) to `url` `requests` times from
    `concurrency` concurrent clients.

    Bounded in count (and each request in time). Returns requests/s and latency
    percentiles in milliseconds, and the number of failed requests (non-2xx or errors).
    """
    return asyncio.run(_load(url, body, files, concurrency, requests, warmup, timeout))


async def _load(
    url: str, body: Any, files: dict | None, concurrency: int, requests: int, warmup: int, timeout: float
) -> dict[str, float]:
    import httpx2 as httpx

    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        def post():
            return client.post(url, json=body) if files is None else client.post(url, files=files)

        for _ in range(warmup):
            await post()

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                try:
                    response = await post()
                    ok = response.is_success
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "concurrency": concurrency,
        "requests": requests,
        "errors": errors,
        "requests_per_s": round(requests / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


def write_results(project: str, results: dict[str, Any], markdown: str) -> Path:
    """Record a project's benchmark.

    Writes bench/results/<project>.{json,md}, puts `markdown` into the project README's bench
    block, and rebuilds the top-level README's results table from every project's
    `results["summary"]` (a dict of column -> value).
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
    return folder / f"{project}.json"


def _replace_block(readme: Path, markdown: str) -> None:
    """Replace the text between the bench markers of a README, if it has them."""
    if not readme.is_file():
        return
    text = readme.read_text(encoding="utf-8")
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        runs.write_text(readme, f"{before}{START}\n{markdown.strip()}\n{END}{after}")


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
