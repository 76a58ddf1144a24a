"""train.py in two processes with torchrun (DDP), against the same training in one process."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mlstarter import runs

from .. import train

REPO = Path(__file__).resolve().parents[3]
NPROC = 2
# A dry run (2 epochs on 256 digits) on the CPU, so any machine runs it: this test checks what two processes
# must do (one run from rank 0, the same yardsticks, the checkpoint cleared). Whether the two processes' generator
# learns as well as one process's is a quality question, measured by `make bench PROJECT=gan` (the "2 processes"
# row, from the full default training).
ARGS = ["--dry-run", "--set", "train.device=cpu"]


def torchrun(runs_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """python -m torch.distributed.run (torchrun) starting train.py in NPROC processes, from the repository root."""
    env = {**os.environ, "MLSTARTER_RUNS_DIR": str(runs_dir), "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={NPROC}"]
    return subprocess.run(
        [*command, "-m", f"projects.{train.PROJECT}.train", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,  # a hang fails the test, not the suite
    )  # fmt: skip


@pytest.mark.slow
def test_two_processes_write_one_run_with_the_same_yardsticks(
    tmp_path: Path, runs_dir: Path, train_run, monkeypatch: pytest.MonkeyPatch
):
    done = torchrun(tmp_path / "ddp-runs", *ARGS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"processes: {NPROC} (gloo), each with batches of 32 and 1 thread(s)" in done.stdout
    assert done.stdout.count("Run saved to") == 1  # only rank 0 prints

    # the one-process reference, with the one thread that each of the NPROC processes had (OMP_NUM_THREADS=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = train_run(*ARGS)
    finally:
        torch.set_num_threads(threads)

    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "ddp-runs"))
    (two,) = runs.complete_runs(train.PROJECT)  # rank 0 alone wrote a run
    assert two.read_json("environment.json")["processes"] == NPROC
    assert not (tmp_path / "ddp-runs" / f".{train.PROJECT}-checkpoints").exists()  # and cleared its checkpoint
    history = two.read_json("history.json")["epochs"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(math.isfinite(h[k]) for h in history for k in ("d_loss", "g_loss", "val_fd"))
    assert {p.name for p in (two.path / "plots" / "progress").iterdir()} == {"epoch_001.png", "epoch_002.png"}

    # every process trains the judge as one process does, and G starts from the same seed: the same yardsticks
    a, b = one.metrics, two.metrics
    for key in ("judge_val_accuracy", "judge_best_epoch", "val_fd_real", "val_fd_untrained"):
        assert b[key] == pytest.approx(a[key], rel=1e-6), key
    # and the two processes trained one generator between them: its images moved from the untrained one's
    assert b["val_fd"] != pytest.approx(b["val_fd_untrained"], rel=1e-3)
