"""Training in two processes (DDP over gloo, as `make train NPROC=2` runs it) on this 2-core machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlstarter import runs

from .conftest import PROJECT

REPO = Path(__file__).resolve().parents[3]
# What two processes must do is tested here: one run, written by rank 0 alone. That DDP really averages the
# gradients (the copies stay identical) is checked in tests/test_distributed.py. How well two processes learn
# against one is a quality question: `make bench PROJECT=medical_imaging ARGS="--part distributed"` measures it
# (over seeds 1-3 on the PneumoniaMNIST sample, 4 epochs: one process 0.994-0.997, two 0.995-0.996).


def train_in_processes(n: int, *args: str) -> subprocess.CompletedProcess:
    """`mlstarter train --nproc n PROJECT args`: torchrun starting n copies of train.py."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mlstarter.cli", "train", "--nproc", str(n), PROJECT, *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_two_processes_write_one_run(runs_dir: Path, toy_npz: Path) -> None:
    done = train_in_processes(2, "--dry-run", "--data", str(toy_npz))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "torchrun --standalone --nproc-per-node=2" in done.stdout
    assert "processes: 2 (gloo), each with batches of 16" in done.stdout
    # only rank 0 prints and saves: one summary, one run
    assert done.stdout.count("***** Training") == 1
    assert done.stdout.count("Run saved to") == 1
    (run,) = runs.complete_runs(PROJECT)
    assert run.read_json("environment.json")["processes"] == 2
