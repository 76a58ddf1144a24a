"""train.py and evaluate.py end to end on the generated images (offline, seconds), and resuming."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstarter import runs

from .. import evaluate, train
from .conftest import train_run


def test_a_short_training_learns_the_toy_task_and_evaluate_writes_everything(toy_npz: Path, runs_dir: Path):
    run = train_run("--data", str(toy_npz), "--set", "train.epochs=6", "--set", "train.batch_size=32")
    assert run.metrics["val_roc_auc"] > 0.9
    history = run.read_json("history.json")["epochs"]
    best = max(history, key=lambda h: h["val_auc"])
    assert run.metrics["val_best_epoch"] == best["epoch"]  # the kept weights are the best epoch's
    assert evaluate.main([]) == 0
    metrics = runs.latest_run(run.project).metrics
    assert metrics["test_auc_ci_low"] <= metrics["test_roc_auc"] <= metrics["test_auc_ci_high"]
    assert 0 <= metrics["test_screening_sensitivity"] <= 1
    plots = {p.name for p in (run.path / "plots").iterdir()}
    assert {"roc.png", "calibration.png", "confusion_matrix.png", "gradcam.png", "validation_auc.png"} <= plots
    assert "not a medical device" in (run.path / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_an_interrupted_run_resumes_from_its_checkpoint(
    toy_npz: Path, runs_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    args = ["--data", str(toy_npz), "--set", "train.epochs=3", "--set", "train.batch_size=64"]

    def interrupted(project):
        raise KeyboardInterrupt  # as if Ctrl-C came after the last epoch, before the run was saved

    with monkeypatch.context() as m:
        m.setattr(runs, "new_run", interrupted)
        with pytest.raises(KeyboardInterrupt):
            train.main(args)
    assert runs.complete_runs(train.PROJECT) == []  # nothing half-written is visible
    assert list((runs_dir / train.PROJECT / ".checkpoints").glob("*.pt"))

    capsys.readouterr()
    run = train_run(*args, "--resume")
    assert "Resuming from" in capsys.readouterr().out
    assert len(run.read_json("history.json")["epochs"]) == 3  # no epoch trained twice
    assert not list((runs_dir / train.PROJECT / ".checkpoints").glob("*.pt"))  # done: checkpoint removed


def test_the_real_sample_trains_to_a_useful_model(sample_npz: Path, runs_dir: Path):
    run = train_run("--data", str(sample_npz), "--set", "train.epochs=3")
    assert run.metrics["val_roc_auc"] > 0.85  # three epochs on 2428 real X-rays
