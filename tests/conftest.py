"""Shared fixtures: every test writes runs and downloads into its own temporary folders."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tmp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway repository root: runs/ and the datasets/ cache live under tmp_path."""
    monkeypatch.setenv("MLSTARTER_ROOT", str(tmp_path))
    monkeypatch.delenv("MLSTARTER_RUNS_DIR", raising=False)
    monkeypatch.delenv("MLSTARTER_DATA_DIR", raising=False)
    return tmp_path


PROJECTS = sorted(p.name for p in (REPO / "projects").iterdir() if (p / "train.py").is_file())


def data_args(project: str) -> list[str]:
    """The training arguments that find a project's data offline, or a skip that says why there is none.

    The dataset itself if it is in a data directory; else a sample of it, a folder `<dataset>-sample/`
    holding one file in a data directory (as ../shared/datasets has for PneumoniaMNIST), passed as --data.
    """
    import importlib

    from mlstarter import datasets, paths

    from .test_projects import needs_data

    dataset = getattr(importlib.import_module(f"projects.{project}.data"), "DATASET", None)
    if dataset is None or all(datasets.status(dataset).values()):
        return []
    for folder in paths.data_dirs():
        files = sorted((folder / f"{dataset.name}-sample").glob("*"))
        if len(files) == 1:
            return ["--data", str(files[0])]
    needs_data(project)  # skips, naming the dataset and how to get it
    return []


@pytest.fixture(scope="session")
def dry_run_runs(tmp_path_factory: pytest.TempPathFactory):
    """`runs_dir(project)`: a runs folder holding one --dry-run of the project, trained once per test session."""
    import importlib

    trained: dict[str, Path] = {}

    def runs_dir(project: str) -> Path:
        if project not in trained:
            args = ["--dry-run", *data_args(project)]
            folder = tmp_path_factory.mktemp(f"runs-{project}")
            with pytest.MonkeyPatch.context() as env:
                env.setenv("MLSTARTER_RUNS_DIR", str(folder))
                assert importlib.import_module(f"projects.{project}.train").main(args) == 0
            trained[project] = folder
        return trained[project]

    return runs_dir


# Some tests check a command run in a process of its own, once per project (a copied project, `mlstarter serve` on a
# damaged model). One after another, those processes leave the machine's second core idle. So the test's fixture
# starts the command of every project at once, when the first of its tests asks (`side_by_side`), and each test
# waits for its own project's process and checks it: on 2 cores, about half the time.


class Started:
    """A command started in the background, its output written to files in `folder` (a pipe that no one reads yet
    could fill, and stop a talkative process until its turn came)."""

    def __init__(self, command: list[str], folder: Path, **popen):
        self.command, self.folder, self.out, self.err = command, folder, folder / "stdout.txt", folder / "stderr.txt"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, **popen)

    def result(self, timeout: float) -> subprocess.CompletedProcess[str]:
        """What subprocess.run(..., capture_output=True, text=True, timeout=timeout) gives: a hang fails the test."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        stdout, stderr = self.out.read_text(), self.err.read_text()
        return subprocess.CompletedProcess(self.command, self.process.returncode, stdout, stderr)


def side_by_side(
    request: pytest.FixtureRequest, test: Callable, start: Callable[[str], Started]
) -> Iterator[Callable[[str], Started]]:
    """For a fixture of `test`, parametrized by project: `start(project)` for every project this session runs the
    test for (all, unless -k or -m chose fewer), at once. Yields `started(project)`: that project's Started, or the
    skip that `start` raised for it (no data here, say)."""
    items = [item for item in request.session.items if getattr(item, "function", None) is test]
    processes: dict[str, Started | str] = {}
    for project in dict.fromkeys(item.callspec.params["project"] for item in items):
        try:
            processes[project] = start(project)
        except pytest.skip.Exception as skip:
            processes[project] = skip.msg

    def started(project: str) -> Started:
        if isinstance(processes[project], str):
            pytest.skip(processes[project])
        return processes[project]

    yield started
    for each in processes.values():
        if isinstance(each, Started):
            each.process.kill()  # a test that failed before waiting leaves no process behind
            each.process.wait()


# The page at GET / (src/mlstarter/page.py), tested in a real browser (tests/test_page.py, test_page_panels.py): one
# Chromium per test module, and one real server (`mlstarter serve`, uvicorn) per project, on an evaluated copy of the
# session's dry run. A server takes 10-40 s to start on a loaded 2-core machine and an evaluation 10-30 s, so, as
# side_by_side does above, the first page test to ask for a server starts every project's server and evaluation at
# once, and each test then waits for its own.


class PageRuns:
    """`page_runs(project)`: a copy of the session's dry run of the project, evaluated (so it has the plots and the
    model card the page shows); `page_runs.copy(project)`: the same folder, maybe not evaluated yet. A copy: what
    evaluate writes never reaches the tests that use the dry run itself. The evaluation is a process of its own
    (`python -m projects.<name>.evaluate`), started by `page_runs.evaluate(project)`: several run side by side."""

    def __init__(self, dry_run_runs: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory):
        self.dry_run_runs, self.tmp_path_factory = dry_run_runs, tmp_path_factory
        self.copies: dict[str, Path] = {}
        self.evaluations: dict[str, Started] = {}

    def copy(self, project: str) -> Path:
        import shutil

        if project not in self.copies:
            folder = self.tmp_path_factory.mktemp(f"page-runs-{project}")
            shutil.copytree(self.dry_run_runs(project), folder, dirs_exist_ok=True)  # trains it, if no test has yet
            self.copies[project] = folder
        return self.copies[project]

    def evaluate(self, project: str) -> Started:
        """Start evaluating the copy, once, in the background."""
        import os
        import sys

        if project not in self.evaluations:
            env = {**os.environ, "MLSTARTER_RUNS_DIR": str(self.copy(project))}
            logs = self.tmp_path_factory.mktemp(f"page-evaluate-{project}")
            command = [sys.executable, "-m", f"projects.{project}.evaluate"]
            self.evaluations[project] = Started(command, logs, cwd=REPO, env=env)
        return self.evaluations[project]

    def __call__(self, project: str) -> Path:
        done = self.evaluate(project).result(timeout=600)
        assert done.returncode == 0, f"evaluating the dry run of {project} failed:\n{done.stderr[-3000:]}"
        return self.copies[project]

    def stop(self) -> None:
        for evaluation in self.evaluations.values():
            evaluation.process.kill()  # one a failed test never waited for; a finished one is left as it was
            evaluation.process.wait()


@pytest.fixture(scope="session")
def page_runs(dry_run_runs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageRuns]:
    evaluated = PageRuns(dry_run_runs, tmp_path_factory)
    yield evaluated
    evaluated.stop()


class PageServers:
    """`page_server(project)`: the base URL (http://127.0.0.1:<port>) of `mlstarter serve` for the project's evaluated
    dry run, once it answers and the run is evaluated. The first call starts, side by side, the server and the
    evaluation of every project in `projects` (and of the one asked for, first): the tests of the others find theirs
    started, or ready. A project that cannot start (no data here, say) raises its skip or error in its own test."""

    def __init__(self, page_runs: PageRuns, tmp_path_factory: pytest.TempPathFactory, projects: list[str]):
        self.page_runs, self.tmp_path_factory, self.projects = page_runs, tmp_path_factory, projects
        self.started: dict[str, tuple[Started, str] | BaseException] = {}
        self.ready: set[str] = set()

    def start(self, project: str) -> None:
        import os
        import sys

        from mlstarter import loadgen

        try:
            env = {**os.environ, "MLSTARTER_RUNS_DIR": str(self.page_runs.copy(project))}
            port = loadgen.free_port()
            command = [sys.executable, "-m", "mlstarter.cli", "serve", project, "--port", str(port), "--no-log"]
            server = Started(command, self.tmp_path_factory.mktemp(f"page-server-{project}"), env=env)
            self.page_runs.evaluate(project)  # beside it: the server reads the plots and the card only when asked
            self.started[project] = (server, f"http://127.0.0.1:{port}")
        except (Exception, pytest.skip.Exception) as error:
            self.started[project] = error

    def __call__(self, project: str) -> str:
        if project not in self.started:
            for each in dict.fromkeys([project, *self.projects]):
                if each not in self.started:
                    self.start(each)
        started = self.started[project]
        if isinstance(started, BaseException):
            raise started
        server, url = started
        if project not in self.ready:
            wait_for_health(server, url, timeout=300)  # 300 s: the longest start seen with every project starting
            self.page_runs(project)
            self.ready.add(project)
        return url

    def stop(self) -> None:
        servers = [started[0].process for started in self.started.values() if isinstance(started, tuple)]
        for server in servers:
            server.terminate()  # uvicorn shuts down gracefully on SIGTERM
        for server in servers:
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def wait_for_health(server: Started, url: str, timeout: float) -> None:
    """Wait until the server answers GET /health; one that exits or never answers fails the test, with its log."""
    import contextlib
    import time

    import httpx2 as httpx

    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            log = server.err.read_text()[-3000:]
            raise RuntimeError(f"{' '.join(server.command)} exited ({server.process.returncode}):\n{log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer /health within {timeout} s:\n{server.err.read_text()[-3000:]}")
        time.sleep(0.25)


@pytest.fixture(scope="session")
def page_server(request: pytest.FixtureRequest, page_runs: PageRuns, tmp_path_factory: pytest.TempPathFactory):
    """`url(project)`: see PageServers. The projects started together are those of this session's tests that use
    this fixture and are named after a project, `test_<project>_...` (test_credit_risk_page: credit_risk); any
    other project starts when first asked for. Every server stops at the end of the session."""
    asked = [item.name for item in request.session.items if "page_server" in getattr(item, "fixturenames", ())]
    projects = [p for p in PROJECTS if any(name.startswith(f"test_{p}_") for name in asked)]
    servers = PageServers(page_runs, tmp_path_factory, projects)
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def browser():
    """Chromium, driven by Playwright, for the tests of one module; a skip that says what is missing (a failure under
    CI=true, where .ci/run installs Chromium).

    One per module, not one per session: while Playwright's sync API is open, the main thread has an asyncio event
    loop marked as running, so asyncio.run() or anyio.run() in a test would fail ("cannot be called from a running
    event loop"). Closed at the end of its module, it leaves every later test unaffected, for one more launch of
    Chromium per module that uses it: 2-3 s on a loaded 2-core machine (the fixture's setup time in --durations)."""
    from mlstarter import testing
    from mlstarter.bench import chromium_path, launch_chromium

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        testing.missing("Playwright is not installed: .venv/bin/pip install -e '.[dev]'")
    if not chromium_path().is_file():
        testing.missing(f"Chromium is not installed at {chromium_path()} (Debian/Ubuntu: apt-get install -y chromium)")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def page_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests write their screenshots and timings.json: <pytest's temp folder>/page, e.g.
    /tmp/pytest-of-<user>/pytest-current/page/ after the session."""
    folder = tmp_path_factory.getbasetemp() / "page"
    folder.mkdir(exist_ok=True)
    return folder
