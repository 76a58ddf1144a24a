"""Train and evaluate end to end: what a run folder holds, reproducibility, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlstarter import runs
from mlstarter.config import ConfigError, from_dict, to_dict
from mlstarter.scripts import load_config, train_parser

from .. import data, evaluate, model, train
from ..config import Config

PROJECT = train.PROJECT


def test_dry_run_writes_a_complete_run(runs_dir: Path, train_run):
    run = train_run("--dry-run")
    assert {p.name for p in run.path.iterdir()} >= {
        "config.json",
        "metrics.json",
        "environment.json",
        "decision.json",
        "model.skops",
    }
    env = run.read_json("environment.json")
    assert env["dry_run"] is True and env["dataset_sha256"] == {"german.data": data.DATASET.files[0].sha256}
    assert 0 < run.read_json("decision.json")["threshold"] < 1
    assert model.load(run).threshold == run.read_json("decision.json")["threshold"]  # the model carries it
    assert run.metrics["val_cost_reject_all"] == pytest.approx(0.7)
    assert "checksums.json" in {p.name for p in run.path.iterdir()}


def test_set_wins_over_the_dry_run_settings(runs_dir: Path, train_run):
    run = train_run("--dry-run", "--set", "model.cv_folds=3")
    assert run.config["model"]["cv_folds"] == 3 and run.config["model"]["logistic_c"] == [0.1]


def test_evaluate_writes_metrics_plots_and_card(runs_dir: Path, train_run, capsys: pytest.CaptureFixture[str]):
    run = train_run("--dry-run", "--set", "model.kind=logistic")
    assert evaluate.main([]) == 0
    metrics = run.metrics
    assert {"val_roc_auc", "test_roc_auc", "test_average_precision", "test_brier", "test_ks", "test_cost"} <= set(
        metrics
    )
    assert {p.name for p in (run.path / "plots").iterdir()} == {
        "roc.png",
        "precision_recall.png",
        "calibration.png",
        "cost_vs_threshold.png",
        "confusion_matrix.png",
        "importance.png",
    }
    card = (run.path / "MODEL_CARD.md").read_text()
    assert "## Fairness" in card and "By sex" in card and "By age group" in card
    fairness = json.loads((run.path / "fairness.json").read_text())
    assert set(fairness["sex"]["by_group"]) == {"female", "male"}
    assert f"Evaluation of {PROJECT}" in capsys.readouterr().out


def test_same_seed_same_metrics(runs_dir: Path, train_run):
    first = train_run("--dry-run", "--set", "model.kind=boosting").metrics
    second = train_run("--dry-run", "--set", "model.kind=boosting").metrics
    assert first == second
    third = train_run("--dry-run", "--set", "model.kind=boosting", "--set", "seed=7").metrics
    assert third != first


def test_interrupted_training_leaves_the_last_good_run(runs_dir: Path, train_run, monkeypatch: pytest.MonkeyPatch):
    good = train_run("--dry-run")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train.model, "save", crash)  # dies halfway through writing the run
    with pytest.raises(KeyboardInterrupt):
        train.main(["--dry-run"])
    assert runs.latest_run(PROJECT).path == good.path
    assert evaluate.main([]) == 0  # evaluate still finds the good run


def test_unknown_config_key_is_an_error_listing_the_valid_ones(runs_dir: Path):
    with pytest.raises(ConfigError, match="model.kind"):
        train.main(["--set", "model.knd=logistic"])


def test_train_on_your_own_csv(runs_dir: Path, train_run, frame, tmp_path: Path):
    path = tmp_path / "my_loans.csv"
    frame.sample(400, random_state=1).to_csv(path, index=False)
    run = train_run("--dry-run", "--data", str(path))
    assert run.config["data"]["path"] == str(path)
    assert list(run.read_json("environment.json")["dataset_sha256"]) == ["my_loans.csv"]


def test_dropping_sensitive_attributes(runs_dir: Path, train_run):
    run = train_run("--dry-run", "--set", "data.drop_features=personal_status_sex,age")
    assert "age" not in run.read_json("decision.json")["features"]
    assert evaluate.main([]) == 0  # the fairness report still groups by sex and age


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.test_size=1.5", "between 0.05 and 0.5"),
        ("model.cv_folds=1", "at least 2"),
        ("cost.bad_as_good=0", "above 0"),
        ("model.kind=forest", "logistic, boosting, blend"),
    ],
)
def test_impossible_settings_are_refused_before_training(runs_dir: Path, override: str, message: str):
    with pytest.raises(ConfigError, match=message):
        train.main(["--set", override])
    assert not runs_dir.exists()  # nothing was written


def test_a_bad_value_is_refused_alike_by_train_and_by_a_saved_config():
    """train.py (load_config) and evaluate/serve (from_dict on a run's config.json) run the same checks."""
    with pytest.raises(ConfigError) as by_train:
        load_config(Config, train_parser(None).parse_args(["--set", "cost.good_as_bad=-1"]))
    saved = to_dict(Config())
    saved["cost"]["good_as_bad"] = -1
    with pytest.raises(ConfigError) as by_run:
        from_dict(Config, saved)
    assert str(by_train.value) == str(by_run.value)
    assert "both costs must be above 0" in str(by_train.value)
