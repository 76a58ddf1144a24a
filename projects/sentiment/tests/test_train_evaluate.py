"""train.py and evaluate.py end to end, on the generated CSV (offline, seconds)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mlstarter import runs
from mlstarter.datasets import DataError

from .. import evaluate
from .conftest import write_csv


@pytest.mark.parametrize("kind", ["tfidf", "nbsvm", "ensemble", "neural", "lstm", "transformer"])
def test_train_then_evaluate_writes_a_complete_run(kind: str, toy_csv: Path, runs_dir: Path, train_run):
    run = train_run("--data", str(toy_csv), "--set", f"model.kind={kind}", "--dry-run")
    assert run.config["model"]["kind"] == kind and run.config["data"]["path"] == str(toy_csv)
    assert run.dry_run
    if kind not in ("neural", "lstm", "transformer"):  # two epochs of a dry run are too few for a network
        assert run.metrics["val_accuracy"] > 0.6
    assert evaluate.main([]) == 0
    files = {p.name for p in run.path.iterdir()}
    assert {"MODEL_CARD.md", "errors.csv", "top_ngrams.json", "metrics.json"} <= files
    assert {"roc.png", "calibration.png", "confusion_matrix.png", "top_ngrams.png"} <= {
        p.name for p in (run.path / "plots").iterdir()
    }
    metrics = runs.latest_run(run.project).metrics
    assert 0 <= metrics["test_accuracy"] <= 1 and "test_macro_f1" in metrics and "test_roc_auc" in metrics
    # one name per quantity: *_auc is ROC AUC alone; the area under the precision-recall curve is average precision
    assert {"val_average_precision", "test_average_precision"} <= set(metrics)
    assert [k for k in metrics if k.endswith("_auc")] == ["val_roc_auc", "test_roc_auc"]
    with open(run.path / "errors.csv", newline="", encoding="utf-8") as f:
        errors = list(csv.DictReader(f))
    for row in errors:  # each is a real mistake, most confident first
        p = float(row["p_positive"])  # rounded to 3 decimals: a network's near-0.5 mistake may read 0.5
        assert (p >= 0.5) != (row["label"] == "positive") or abs(p - 0.5) <= 5e-4
    confidence = [abs(float(r["p_positive"]) - 0.5) for r in errors]
    assert confidence == sorted(confidence, reverse=True)
    assert (run.path / "attention.json").is_file() == (kind == "transformer")  # the only kind with attention
    assert not (run.path.parent.parent / f".{run.project}-checkpoints").exists()  # a saved run leaves none behind


def test_the_neural_run_keeps_the_best_epoch_not_the_last(toy_csv: Path, runs_dir: Path, train_run):
    run = train_run(
        "--data", str(toy_csv), "--set", "model.kind=neural", "--set", "neural.epochs=12",
        "--set", "neural.patience=12", "--set", "neural.learning_rate=0.05",
    )  # fmt: skip
    history = run.read_json("history.json")["epochs"]
    best = min(history, key=lambda h: h["val_loss"])
    assert best["epoch"] < history[-1]["epoch"]  # it overfits after the best epoch, so the two differ
    assert run.metrics["val_log_loss"] == pytest.approx(best["val_loss"], rel=1e-4)
    assert run.metrics["val_accuracy"] == pytest.approx(best["val_accuracy"])


def test_a_bad_csv_stops_training_before_anything_is_saved(tmp_path: Path, runs_dir: Path, train_run):
    bad = write_csv(tmp_path / "bad.csv", [("good", 1)] * 20 + [("", 0)] * 20)
    with pytest.raises(DataError, match="row 22, column text: empty"):
        train_run("--data", str(bad))
    assert not runs_dir.exists() or not any(runs_dir.rglob("config.json"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["seed=-1"], "seed must be between 0 and 2\\*\\*32 - 1"),
        (["model.kind=neural", "neural.device=tpu"], "device 'tpu'"),
    ],
)
def test_impossible_settings_are_a_config_error(
    toy_csv: Path, runs_dir: Path, train_run, overrides: list[str], message: str
):
    from mlstarter.config import ConfigError

    args = ["--data", str(toy_csv), "--dry-run"]
    for item in overrides:
        args += ["--set", item]
    with pytest.raises(ConfigError, match=message):
        train_run(*args)


@pytest.mark.parametrize(
    ("key", "value"), [("seed", -1), ("data.val_size", 0.9), ("model.nbsvm_beta", 2.0), ("neural.dropout", 1.0)]
)
def test_train_and_a_saved_config_refuse_a_bad_value_with_the_same_message(key: str, value: float):
    """train (and tune) build the config from the command line; evaluate and serve from a run's config.json."""
    from mlstarter.config import ConfigError, from_dict, to_dict
    from mlstarter.scripts import load_config, train_parser

    from ..config import Config

    with pytest.raises(ConfigError) as from_command_line:
        load_config(Config, train_parser(None).parse_args(["--set", f"{key}={value}"]))
    saved = to_dict(Config())
    section, _, name = key.rpartition(".")
    (saved[section] if section else saved)[name] = value
    with pytest.raises(ConfigError) as from_saved:
        from_dict(Config, saved)
    assert str(from_saved.value) == str(from_command_line.value)
    assert key in str(from_saved.value)
