"""A study shared through a real PostgreSQL server, as the guide tells many machines to share one.

The test starts PostgreSQL itself (Debian's `postgresql` package; .ci/run installs it): `initdb`
into a temporary folder, the server on a loopback port, stopped and deleted at the end. PostgreSQL
refuses to run as root, so as root the server runs as the `postgres` user. Without the package the
tests skip, saying so; under CI=true they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from mlstarter import loadgen, testing, tuning
from mlstarter.config import ConfigError

from .test_tuning import WORKER, study

REPO = Path(__file__).resolve().parents[1]


def postgres_programs() -> Path | None:
    """The folder of initdb and pg_ctl: Debian keeps them in /usr/lib/postgresql/<version>/bin, off the PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if versions:
        return versions[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """postgresql://postgres@127.0.0.1:<port>/studies on a server of this test's own, for this module."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        testing.missing("the PostgreSQL driver is not installed: .venv/bin/pip install -e '.[postgres]'")
    programs = postgres_programs()
    if programs is None:
        testing.missing("PostgreSQL is not installed (Debian/Ubuntu: apt-get install -y postgresql)")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses root

    def run(*command: str) -> None:
        done = subprocess.run([*as_postgres, *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"

    folder = Path(tempfile.mkdtemp(prefix="mlstarter-postgres-"))  # not under pytest's root-only temp folders
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", loadgen.free_port()
    try:
        run(str(programs / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(programs / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", options, "-w", "start")
        try:
            run(str(programs / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "studies")
            yield f"postgresql://postgres@127.0.0.1:{port}/studies"
        finally:
            run(str(programs / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def worker(tmp_path: Path, ready: Path, *args: str, hang: bool = False) -> subprocess.Popen:
    """A tuning worker process (tests/test_tuning.py's toy study) with these arguments."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "MLSTARTER_RUNS_DIR": str(tmp_path / "runs"), "WORKER_HANGS": "1" if hang else ""}
    command = [sys.executable, str(script), *args, str(ready)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_workers_share_one_postgresql_study(postgres_url: str, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.mkdir()
    args = ["--trials", "10", "--storage", postgres_url, "--study", "shared"]
    workers = [worker(tmp_path, ready, *args) for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    # the URL is printed as given: no password appears where none was given
    assert f"in {postgres_url}:" in outputs[0][0] and ":***@" not in outputs[0][0]
    trials = optuna.load_study(study_name="shared", storage=postgres_url).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 10 <= len(complete) <= 11  # 10 in all between them (one more when both start the tenth), not 20
    assert len({t.user_attrs["worker"] for t in complete}) == 2  # both did some of the work


@pytest.mark.slow
def test_a_killed_workers_trial_is_marked_failed_and_the_study_goes_on(postgres_url: str, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.mkdir()
    args = ["--trials", "3", "--storage", postgres_url, "--study", "killed", "--heartbeat", "1"]
    doomed = worker(tmp_path, ready, *args, hang=True)  # its first trial never ends
    deadline = time.monotonic() + 120
    while not list(ready.iterdir()) and doomed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert doomed.poll() is None, doomed.communicate()[1][-2000:]
    doomed.send_signal(signal.SIGKILL)  # as a power cut would: no chance to say the trial ended
    doomed.communicate(timeout=60)
    time.sleep(4)  # three heartbeats (3 s) with no sign of life: the trial is stale

    survivor = worker(tmp_path, ready, *args)
    out, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err[-2000:]
    trials = optuna.load_study(study_name="killed", storage=postgres_url).trials
    states = [t.state for t in trials]
    assert states[0] == optuna.trial.TrialState.FAIL  # the killed worker's trial, marked by the survivor
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3  # --trials counts finished trials, not failed ones
    assert len({t.user_attrs["worker"] for t in trials}) == 2


def guide_command(name: str) -> str:
    """The shell command under the README's `<!-- name -->` marker (what a learner copies)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- {name} -->\s*```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, f"README.md has no command block marked <!-- {name} -->"
    return block.group(1).strip()


@pytest.mark.slow
def test_a_sqlite_study_moves_to_postgresql_as_the_guide_shows(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "runs"))
    assert study(["--trials", "4", "--study", "moved"]) == 0  # a study started on a laptop, in SQLite
    sqlite_file = tmp_path / "runs" / "toy-tuning" / "moved" / "study.db"
    command = guide_command("copy-study")
    command = command.replace("runs/credit_risk-tuning/logistic/study.db", str(sqlite_file))
    command = command.replace("logistic", "moved").replace("postgresql://me@db.example/studies", postgres_url)
    command = command.replace(".venv/bin/python", sys.executable)
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]

    before = optuna.load_study(study_name="moved", storage=postgres_url).trials
    assert [t.params for t in before] == [t.params for t in optuna.load_study(
        study_name="moved", storage=f"sqlite:///{sqlite_file}").trials]  # fmt: skip
    # and the study goes on there, from where the laptop left it: 4 trials done, 6 to go
    assert study(["--trials", "10", "--study", "moved", "--storage", postgres_url]) == 0
    after = optuna.load_study(study_name="moved", storage=postgres_url).trials
    assert [t.params for t in after[:4]] == [t.params for t in before] and len(after) == 10


def test_the_driver_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=re.escape("pip install -e '.[postgres]'")):
        tuning.check_driver("postgresql://me:secret@db.example/optuna")
