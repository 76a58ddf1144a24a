from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Literal

import pytest

from mlstarter.config import ConfigError, apply_overrides, from_dict, to_dict, valid_keys
from mlstarter.scripts import load_config, train_parser


@dataclass
class Model:
    kind: Literal["logistic", "boosting"] = "logistic"
    c: tuple[float, ...] = (0.1, 1.0)
    depth: int | None = None


@dataclass
class Data:
    path: str = ""
    test_size: float = 0.2


@dataclass
class Cfg:
    seed: int = 42
    verbose: bool = False
    model: Model = field(default_factory=Model)
    data: Data = field(default_factory=Data)


def test_overrides_convert_to_the_declared_types():
    cfg = apply_overrides(
        Cfg(),
        ["seed=7", "verbose=true", "model.kind=boosting", "model.c=0.5,2", "model.depth=3", "data.test_size=0.25"],
    )
    assert (cfg.seed, cfg.verbose, cfg.model.kind, cfg.model.c, cfg.model.depth, cfg.data.test_size) == (
        7,
        True,
        "boosting",
        (0.5, 2.0),
        3,
        0.25,
    )
    assert apply_overrides(cfg, ["model.depth=none"]).model.depth is None


def test_overrides_leave_the_defaults_untouched():
    default = Cfg()
    apply_overrides(default, ["seed=1", "model.kind=boosting"])
    assert default == Cfg()


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(ConfigError) as error:
        apply_overrides(Cfg(), ["model.knd=boosting"])
    assert "model.knd" in str(error.value)
    assert "model.kind" in str(error.value) and "data.test_size" in str(error.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ("seed=seven", "seed must be an integer"),
        ("data.test_size=big", "must be a number"),
        ("verbose=maybe", "true or false"),
        ("model.kind=forest", "logistic, boosting"),
        ("model=3", "is a section"),
        ("seed", "has no '='"),
    ],
)
def test_bad_values_are_rejected_with_a_reason(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Cfg(), [override])


def test_round_trip_through_a_dict():
    cfg = apply_overrides(Cfg(), ["seed=3", "model.c=0.3", "data.path=my file.csv"])
    assert from_dict(Cfg, to_dict(cfg)) == cfg


def test_valid_keys_are_dotted():
    assert valid_keys(Cfg()) == [
        "seed",
        "verbose",
        "model.kind",
        "model.c",
        "model.depth",
        "data.path",
        "data.test_size",
    ]


def test_data_flag_sets_data_path_and_set_wins():
    args = train_parser("doc").parse_args(["--data", "a.csv", "--set", "seed=1", "--dry-run"])
    assert isinstance(args, argparse.Namespace) and args.dry_run
    cfg = load_config(Cfg, args)
    assert cfg.data.path.endswith("a.csv") and cfg.seed == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_rejected(value):
    with pytest.raises(ConfigError, match="finite"):
        apply_overrides(Cfg(), [f"data.test_size={value}"])


def test_dry_run_overrides_apply_only_to_a_dry_run():
    assert load_config(Cfg, train_parser("doc").parse_args([]), ["seed=5"]).seed == Cfg().seed
    assert load_config(Cfg, train_parser("doc").parse_args(["--dry-run"]), ["seed=5"]).seed == 5


def test_dry_run_overrides_come_before_the_users(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = train_parser("doc").parse_args(["--set", "seed=1", "--data", "mine.csv", "--dry-run"])
    cfg = load_config(Cfg, args, ["seed=5", "model.kind=boosting"])
    assert cfg.seed == 1 and cfg.model.kind == "boosting"  # the user's --set wins
    assert cfg.data.path == str(tmp_path / "mine.csv")  # stored absolute: evaluate may run elsewhere


def test_config_file_replaces_the_defaults_and_set_still_wins(tmp_path):
    path = tmp_path / "best_config.json"
    path.write_text(json.dumps({"seed": 7, "model": {"kind": "boosting", "c": [0.5]}}))  # data: left at defaults
    args = train_parser("doc").parse_args(["--config", str(path), "--set", "model.depth=3", "--dry-run"])
    cfg = load_config(Cfg, args, ["verbose=true"])
    assert (cfg.seed, cfg.model.kind, cfg.model.c, cfg.model.depth) == (7, "boosting", (0.5,), 3)
    assert cfg.verbose and cfg.data == Data()
    full = tmp_path / "config.json"  # a run's whole config.json reads back to the same config
    full.write_text(json.dumps(to_dict(cfg)))
    assert load_config(Cfg, train_parser("doc").parse_args(["--config", str(full)])) == cfg


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ('{"seed": 1,', "not valid JSON at line 1, column 12"),
        ("[1, 2]", "expected a JSON object"),
        ('{"model": {"width": 3}}', "Unknown config key 'model.width'"),
        ('{"model": {"kind": "forest"}}', "model.kind must be one of logistic, boosting"),
    ],
)
def test_a_bad_config_file_names_itself_and_the_problem(tmp_path, content, message):
    path = tmp_path / "cfg.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(Cfg, train_parser("doc").parse_args(["--config", str(path)]))
    assert str(path) in str(error.value)
