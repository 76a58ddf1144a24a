"""Benchmark bookkeeping: time a command as a user runs it, and record results where readers find them.

A project's `bench.py` measures its own quality; these helpers do the rest:

    speed = {"train": timed_subprocess([sys.executable, "-m", "projects.credit_risk.train"])}
    write_results("credit_risk", results, markdown)

`write_results` writes `bench/results/<project>.json` and `.md`, and puts the Markdown
between `<!-- bench:start -->` and `<!-- bench:end -->` in the project's README.md, so the
numbers a learner reads are the ones the last `make bench` measured.

`fuzz` (`make fuzz PROJECT=x SECONDS=600`) runs schemathesis with every check against a real
server of the project's newest run for that long; its results go to bench/results/<project>-fuzz.{json,md}.

`bench_serve` (`make bench-serve PROJECT=x`) is the serving benchmark: a real uvicorn server,
load from other processes at 1, 8 and 64 clients (`mlstarter.loadgen`), `/health` latency while
`/predict` is saturated, and a bare FastAPI endpoint measured in the same run for scale.
Its results go to `bench/results/<project>-serving.{json,md}`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import loadgen, machine, model_card, paths, runs

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


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


def example_requests(project: str) -> dict[str, dict[str, Any]]:
    """The requests a project's benchmark sends: `{"single": {...}, "batch": {...}}`, each a `path` and
    a `json` body or multipart `files` (or `"method": "GET"` and query `params`). A project says them
    in `example_requests()` in its serve.py; without that, its example.json is POSTed to /predict as
    the single request (and there is no batch)."""
    module = paths.import_script(project, "serve")
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
    run = runs.served_run(project, run_id)
    examples = example_requests(project)
    results: dict[str, Any] = {
        "project": project,
        "run_id": run.run_id,
        "workers": workers,
        "machine": machine.describe(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "serving": {},
    }
    print(f"Benchmarking {project} run {run.run_id}: {workers} worker(s), {', '.join(map(str, CONCURRENCY))} clients")

    def scenario(base: str, name: str, request: dict[str, Any], concurrency: int) -> None:
        results["serving"][name] = loadgen.load_test(
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
    # as `make serve` runs: predictions logged (to a file of the benchmark's own, not the project's log)
    with (
        tempfile.TemporaryDirectory() as folder,
        loadgen.serve_in_subprocess(
            project, run.run_id, workers=workers, log_db=str(Path(folder) / "predictions.db")
        ) as url,
    ):
        for kind, request in examples.items():
            for concurrency in CONCURRENCY:
                scenario(url, f"{kind}, {concurrency} clients", request, concurrency)
        for concurrency in CONCURRENCY:  # no model work: what our middleware and logging cost
            scenario(url, f"/health, {concurrency} clients", health, concurrency)
        results["health_under_load"] = loadgen.health_while_saturated(url, examples["single"], seconds=seconds)
    with loadgen.serve_in_subprocess(project, run.run_id, workers=workers) as url:  # the same, with --no-log
        for concurrency in CONCURRENCY:
            scenario(url, f"single, no log, {concurrency} clients", examples["single"], concurrency)
    with loadgen.serve_bare() as url:
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
        f"worker(s) on 127.0.0.1, load from other processes; {machine.line(results['machine'])}; "
        f"load average before the run {loads} (other work on the machine slows every number here).\n\n"
        f"{serving_table(results['serving'])}\n\n"
        f"`/health` while {h['load']['concurrency']} clients saturate `/predict` "
        f"({h['load']['requests_per_s']:.0f} requests/s, {h['load']['errors']} errors): p50 {h['health']['p50_ms']:.1f} ms, "
        f"p95 {h['health']['p95_ms']:.1f} ms, p99 {h['health']['p99_ms']:.1f} ms over {h['health']['requests']} probes "
        f"({h['health']['errors']} errors).\n\n"
        f"Bare FastAPI requests/s over ours: for a single prediction (model included) {ratio}; "
        f"for `/health` (no model: our middleware, metrics and logging) {overhead}."
        + log_cost_markdown(results["serving"])
    )


def log_cost_markdown(serving: dict[str, Any]) -> str:
    """What the prediction log costs a single prediction: p50 and p99 with it (as `make serve` runs) and without."""
    rows = [
        f"| {c} | {serving[f'single, {c} clients']['p50_ms']:.1f} / {serving[f'single, no log, {c} clients']['p50_ms']:.1f} "
        f"| {serving[f'single, {c} clients']['p99_ms']:.1f} / {serving[f'single, no log, {c} clients']['p99_ms']:.1f} "
        f"| {serving[f'single, {c} clients']['requests_per_s']:.0f} / "
        f"{serving[f'single, no log, {c} clients']['requests_per_s']:.0f} |"
        for c in CONCURRENCY
        if f"single, no log, {c} clients" in serving
    ]
    if not rows:
        return ""
    return (
        "\n\nThe prediction log (on by default; written by a thread of its own after each answer), single "
        "prediction, logged / `--no-log`:\n\n| clients | p50 ms | p99 ms | requests/s |\n|---|---|---|---|\n"
        + "\n".join(rows)
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
    cores = machine.usable_cores()
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


def bench_predict(project: str, rows: int | None = None) -> int:
    """`make bench-predict PROJECT=x`: `make predict` on a large input, as a user runs it; its speed and peak memory.

    The project's bench.py writes the input: `predict_input(folder, rows)` -> {"predict": predict.py's arguments,
    "train": train.py's (the data to train on, if not the default), "rows": how many, "unit": "line"}. The model is a --dry-run of the default config, trained into a temporary folder: the same
    architecture as a full run, so the same speed, and the benchmark needs no trained run of yours."""
    bench_module = paths.import_script(project, "bench")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env_runs = os.environ.get("MLSTARTER_RUNS_DIR")
        os.environ["MLSTARTER_RUNS_DIR"] = str(folder / "runs")
        try:
            given = bench_module.predict_input(folder, rows)
            count, unit = given["rows"], given["unit"]
            train = timed_subprocess(
                [sys.executable, "-m", f"projects.{project}.train", "--dry-run", *given.get("train", [])]
            )
            command = [sys.executable, "-m", f"projects.{project}.predict", *given["predict"]]
            speed = timed_subprocess(command)
        finally:
            if env_runs is None:
                os.environ.pop("MLSTARTER_RUNS_DIR", None)
            else:
                os.environ["MLSTARTER_RUNS_DIR"] = env_runs
    results = {
        "project": project,
        "machine": machine.describe(),
        "rows": count,
        "unit": unit,
        "seconds": speed["seconds"],
        "rows_per_second": round(count / speed["seconds"], 1),
        "peak_rss_mib": speed["peak_rss_mib"],
        "dry_run_train_seconds": train["seconds"],
    }
    markdown = (
        f"Measured by `make bench-predict PROJECT={project}` on {machine.line(results['machine'])}: "
        f"`make predict` on {count:,} {unit}s took {speed['seconds']:.1f} s, "
        f"**{results['rows_per_second']:,.0f} {unit}s per second** "
        f"(start-up and model loading included), peak memory **{speed['peak_rss_mib']:,.0f} MiB**. "
        f"The model: a `--dry-run` of the default config (the same architecture as a full run, so the same speed)."
    )
    write_section(project, "predict", results, markdown)
    return 0


def fuzz(project: str, run_id: str | None = None, seconds: float = 600) -> int:
    """`make fuzz PROJECT=x SECONDS=n`: schemathesis, every check, against a real uvicorn server of the run, for
    `seconds`; the project's schemathesis.toml states what its API may do beyond the schema. Exit 1 on any failure."""
    run = runs.served_run(project, run_id)
    contract = paths.projects_dir() / project / "schemathesis.toml"
    started = time.perf_counter()
    with loadgen.serve_in_subprocess(project, run.run_id) as url, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [str(Path(sys.executable).with_name("schemathesis")),
                   *(["--config-file", str(contract)] if contract.is_file() else []),
                   "run", f"{url}/openapi.json", "--checks", "all", "--max-time", str(int(seconds)),
                   "--max-examples", "1000000", "--report-json-path", str(report), "--no-color"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if not report.is_file():
            raise RuntimeError(f"schemathesis did not run:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        found = json.loads(report.read_text(encoding="utf-8"))
    cases, failures = found["test_cases"], found["failures"]
    results = {
        "project": project,
        "run_id": run.run_id,
        "machine": machine.describe(),
        "seconds_asked": seconds,
        "seconds": round(time.perf_counter() - started, 1),
        "schemathesis": found["schemathesis_version"],
        "contract": str(contract.relative_to(paths.repo_root())) if contract.is_file() else None,
        "operations_tested": found["operations"]["tested"],
        "cases": cases["generated"],
        "cases_with_failures": cases["with_failures"],
        "unique_failures": cases["unique_failures"],
        "errors": len(found["errors"]),
        "failures": failures,
        "output_tail": done.stdout[-4000:] if failures or found["errors"] else "",
    }
    verdict = "no failure" if not (failures or found["errors"]) else f"{cases['unique_failures']} unique failure(s)"
    markdown = (
        f"Measured by `make fuzz PROJECT={project} SECONDS={int(seconds)}` on {machine.line(results['machine'])}: "
        f"schemathesis {results['schemathesis']} with every check (`--checks all`) against a real server of run "
        f"{run.run_id}, {results['operations_tested']} operations, **{results['cases']:,} generated requests, "
        f"{verdict}**"
        + (
            f"; the API's rules beyond its schema, with their reasons: `{results['contract']}`."
            if contract.is_file()
            else "."
        )  # fmt: skip
    )
    write_section(project, "fuzz", results, markdown)
    if failures or found["errors"]:
        print(results["output_tail"], file=sys.stderr)
        return 1
    return 0


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


CHROMIUM = "/usr/bin/chromium"  # Debian's `chromium` package; MLSTARTER_CHROMIUM names another


def chromium_path() -> Path:
    """The Chromium that Playwright drives here and in the browser tests (Playwright's own download is not used)."""
    return Path(os.environ.get("MLSTARTER_CHROMIUM", CHROMIUM))


def launch_chromium(playwright: Any) -> Any:
    """Start Chromium headless through a started Playwright; as root (a container, CI) it refuses to start without
    --no-sandbox."""
    return playwright.chromium.launch(
        executable_path=str(chromium_path()), args=["--no-sandbox"] if os.geteuid() == 0 else []
    )


PAGE_CLICKS = 7  # clicks on the panel's first button, after the answer shown on load


def bench_page(project: str, run_id: str | None = None) -> int:
    """`make bench-page PROJECT=x`: the served run's page in Chromium, as a user sees it.

    Writes the screenshot of the Try-it tab that the project README shows (projects/<x>/page.png, 256 colours)
    and the time from a click on the panel's first button (Score, Forecast, an example...) to the result it
    shows: bench/results/<x>-page.{json,md} and the README's `bench:page` block.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("make bench-page drives Chromium with Playwright: .venv/bin/pip install -e '.[dev]'") from None
    if not chromium_path().is_file():
        raise SystemExit(
            f"make bench-page needs Chromium at {chromium_path()} (Debian/Ubuntu: apt-get install -y chromium)"
        )
    run = runs.served_run(project, run_id)
    if run.dry_run:
        print(f"Note: run {run.run_id} is a dry run: the page shows what a few seconds of training learned.")
    milliseconds: list[float] = []
    screenshot = paths.projects_dir() / project / "page.png"
    with (
        loadgen.serve_in_subprocess(project, run.run_id) as url,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1100, "height": 860})
        page.goto(url + "/")
        result = page.locator("[data-result]")
        result.wait_for(timeout=120_000)  # every panel shows an answer for its example as it loads
        page.wait_for_load_state("networkidle")
        button = page.locator("#try button").first  # the panel's first button: its main action or first example
        label = button.get_attribute("aria-label") or button.inner_text().strip()  # an image button has no text
        for _ in range(PAGE_CLICKS):
            before = result.get_attribute("data-result")
            start = time.perf_counter()
            button.click()
            page.wait_for_function(
                "before => document.querySelector('[data-result]')?.getAttribute('data-result') !== before",
                arg=before,
                timeout=120_000,
            )
            milliseconds.append(round((time.perf_counter() - start) * 1000, 1))
        page.wait_for_load_state("networkidle")
        page.evaluate("window.scrollTo(0, 0)")  # the click scrolled to its button: the page as it opens
        png = page.screenshot()
        browser.close()
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256)  # a page's flat colours: ~4x smaller
    image.save(screenshot, optimize=True)
    results = {
        "project": project,
        "run_id": run.run_id,
        "dry_run": run.dry_run,
        "machine": machine.describe(),
        "button": label,
        "click_to_result_ms": summary_of(milliseconds[1:]),  # the first click warms up what the page loads once
        "clicks_ms": milliseconds,
        "screenshot": f"projects/{project}/page.png",
        "screenshot_bytes": screenshot.stat().st_size,
    }
    timing = results["click_to_result_ms"]
    markdown = (
        f"Measured by `make bench-page PROJECT={project}` on {machine.line(results['machine'])}, run "
        f"{run.run_id}{' (a dry run)' if run.dry_run else ''}: from a click on **{label}** to the result on the "
        f"page, in Chromium, median {timing['median']:.0f} ms (min {timing['min']:.0f}, max {timing['max']:.0f}; "
        f"{len(milliseconds) - 1} clicks after a first one). The screenshot above is the same page."
    )
    write_section(project, "page", results, markdown)
    print(f"Screenshot: {screenshot} ({results['screenshot_bytes'] // 1024} KiB)")
    return 0
