"""The config's rules: train and a saved run's config refuse a bad value with the same message."""

from __future__ import annotations

import pytest

from mlstarter.config import ConfigError, from_dict, to_dict
from mlstarter.scripts import load_config

from .. import train
from ..config import Config


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model", {"dropout": 1.5}, r"model.dropout must be in \[0, 1\); got 1.5"),
        ("train", {"epochs": 0}, "train.epochs must be at least 1; got 0"),
        ("augment", {"brightness": -0.1}, "augment values are amounts of change and must be at least 0"),
        ("ood", {"flag_rate": 0.7}, r"ood.flag_rate is the share of real images flagged, in \(0, 0.5\); got 0.7"),
        ("gradcam", {"block": 3}, "gradcam.block must name one of the 3 blocks of model.channels"),
        ("ood", {"block": -4}, "ood.block must name one of the 3 blocks of model.channels"),
    ],
)
def test_train_and_a_saved_config_refuse_a_bad_value_alike(key: str, value: dict, message: str):
    name, bad = next(iter(value.items()))
    args = train.train_parser(None).parse_args(["--set", f"{key}.{name}={bad}"])
    with pytest.raises(ConfigError, match=message) as from_train:
        load_config(Config, args, train.DRY_RUN_OVERRIDES)
    saved = to_dict(Config())
    saved[key][name] = bad  # as if a run's config.json had been edited by hand
    with pytest.raises(ConfigError, match=message) as from_run:
        from_dict(Config, saved)
    assert str(from_train.value) == str(from_run.value)


def test_the_dry_run_overrides_are_valid_and_set_wins_over_them():
    args = train.train_parser(None).parse_args(["--dry-run", "--set", "train.epochs=3"])
    cfg = load_config(Config, args, train.DRY_RUN_OVERRIDES)
    assert cfg.train.epochs == 3 and cfg.train.batch_size == 32
