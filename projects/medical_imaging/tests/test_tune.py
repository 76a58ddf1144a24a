"""tune.py: the search space, and a study with pruning whose best config trains (toy images, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

from mlstarter import tuning
from mlstarter.config import apply_overrides, valid_keys

from .. import tune
from ..config import Config, searchable
from .conftest import PROJECT


def test_every_searched_key_exists_and_both_ends_of_its_range_are_valid():
    cfg = Config()
    space = searchable(cfg)
    assert set(space) <= set(valid_keys(cfg))
    for key, param in space.items():
        ends = param.options if isinstance(param, tuning.Choice) else (param.low, param.high)
        for value in ends:
            apply_overrides(cfg, [f"{key}={value}"])


def test_a_study_reports_every_epoch_and_its_best_config_trains(runs_dir: Path, toy_npz: Path, train_run):
    # a narrower network than the default (32, 64, 128): the width is not searched, and the study's 7 trials of up to
    # 4 epochs each then take less than half the time. What is checked is the study, not how well the network learns
    args = ["--data", str(toy_npz), "--dry-run", "--set", "train.epochs=4", "--set", "model.channels=8,16,32"]
    args += ["--trials", "7", "--sampler-seed", "3"]
    assert tune.main(args) == 0
    folder = tuning.study_dir(PROJECT, "cnn-or-resnet-dry-run")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["metric"] == "val_roc_auc" and summary["complete"] + summary["pruned"] == 7
    assert summary["baseline_value"] is not None  # trial 0: the starting config (cnn, dropout 0.3, ...)
    assert (folder / "plots" / "intermediate_values.png").is_file()  # the per-epoch AUC of every trial

    best = json.loads((folder / "best_config.json").read_text())
    assert best["train"]["epochs"] == 4  # the schedule the study searched with (a --dry-run below shrinks it again)
    run = train_run("--config", str(folder / "best_config.json"), "--dry-run")
    for key, value in summary["best_params"].items():
        section, name = key.split(".")
        assert run.config[section][name] == value or abs(run.config[section][name] - value) < 1e-12
