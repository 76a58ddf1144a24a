"""tune.py: the search space, a dry-run study and its best config, the network's per-epoch reports (offline, seconds)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest

from mlstarter import tuning
from mlstarter.config import apply_overrides, valid_keys

from .. import data, tune
from ..config import Config, searchable
from ..train import PROJECT, dry_run_subset

KINDS = ("tfidf", "nbsvm", "ensemble", "neural", "lstm", "transformer")


@pytest.mark.parametrize("kind", KINDS)
def test_every_searched_key_exists_and_both_ends_of_its_range_are_valid(kind: str):
    cfg = apply_overrides(Config(), [f"model.kind={kind}"])
    space = searchable(cfg)
    assert space and set(space) <= set(valid_keys(cfg))
    for key, param in space.items():
        ends = param.options if isinstance(param, tuning.Choice) else (param.low, param.high)
        for value in ends:  # the config's own checks (e.g. dropout < 1, beta in [0, 1]) accept every value searched
            apply_overrides(cfg, [f"{key}={value}"])


def test_a_dry_run_study_writes_its_folder_and_its_best_config_trains(toy_csv: Path, runs_dir: Path, train_run):
    assert tune.main(["--data", str(toy_csv), "--dry-run", "--trials", "3", "--sampler-seed", "0"]) == 0
    folder = tuning.study_dir(PROJECT, "ensemble-dry-run")  # the default kind; a dry run's study is kept apart
    assert {"best_config.json", "summary.json", "trials.csv", "study.db"} <= {p.name for p in folder.iterdir()}
    assert (folder / "plots" / "optimization_history.png").is_file()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["metric"] == "val_accuracy" and summary["complete"] == 3 and summary["pruned"] == 0
    assert set(summary["best_params"]) == {"model.tfidf_c", "model.nbsvm_c", "model.nbsvm_beta"}
    with open(folder / "trials.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 3

    # Training with the best config uses the best trial's values, and reports the score the study saw.
    run = train_run("--config", str(folder / "best_config.json"), "--dry-run")
    assert run.config["model"]["kind"] == "ensemble" and run.config["data"]["path"] == str(toy_csv)
    for key, value in summary["best_params"].items():
        section, name = key.split(".")
        assert run.config[section][name] == pytest.approx(value)
    assert run.metrics["val_accuracy"] == pytest.approx(summary["best_value"])


@pytest.fixture
def toy_corpus(toy_csv: Path) -> data.Data:
    cfg = apply_overrides(Config(), [f"data.path={toy_csv}"])
    corpus = data.load(cfg)
    corpus.splits["train"] = dry_run_subset(corpus.splits["train"], cfg.seed)
    return corpus


@pytest.mark.parametrize("kind", ["neural", "lstm", "transformer"])
def test_a_network_reports_its_validation_accuracy_after_every_epoch(kind: str, toy_corpus: data.Data):
    cfg = apply_overrides(Config(), [f"model.kind={kind}", f"{kind}.epochs=4", f"{kind}.patience=4"])  # no early stop
    calls: list[tuple[int, float]] = []
    accuracy = tune.validation_accuracy(cfg, toy_corpus, lambda epoch, score: calls.append((epoch, score)))
    assert [epoch for epoch, _ in calls] == [1, 2, 3, 4]
    assert all(0 <= score <= 1 for _, score in calls) and 0 <= accuracy <= 1


def test_a_pruned_trial_stops_training_at_that_epoch(toy_corpus: data.Data):
    cfg = apply_overrides(Config(), ["model.kind=neural", "neural.epochs=10", "neural.patience=10"])
    epochs: list[int] = []

    def report(epoch: int, score: float) -> None:  # what run_study's report does when the pruner says stop
        epochs.append(epoch)
        if epoch == 2:
            raise optuna.TrialPruned(f"val_accuracy {score:.4f} at epoch {epoch}")

    with pytest.raises(optuna.TrialPruned):
        tune.validation_accuracy(cfg, toy_corpus, report)
    assert epochs == [1, 2]  # no third epoch was trained


def test_a_neural_study_reports_every_epoch_to_optuna(toy_csv: Path, runs_dir: Path):
    args = ["--data", str(toy_csv), "--dry-run", "--trials", "3", "--set", "model.kind=neural"]
    assert tune.main(args) == 0
    folder = tuning.study_dir(PROJECT, "neural-dry-run")
    study = optuna.load_study(study_name="neural-dry-run", storage=f"sqlite:///{folder / 'study.db'}")
    assert [sorted(t.intermediate_values) for t in study.trials] == [[1, 2]] * 3  # the dry run's two epochs
    assert (folder / "plots" / "intermediate_values.png").is_file()  # drawn only where epochs were reported
