"""Train (a dry run) and evaluate: the run has every file, the scores are written, clear errors for bad settings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlstarter import persistence, runs
from mlstarter.config import ConfigError, from_dict
from mlstarter.datasets import DataError, sha256sum

from .. import evaluate, model, serve, train
from ..config import Config


def test_dry_run_then_evaluate(runs_dir: Path, train_run, capsys: pytest.CaptureFixture):
    run = train_run("--dry-run")
    out = capsys.readouterr().out
    assert f"***** Training {train.PROJECT} (dry run" in out and "against the random walk's 1" in out
    files = {p.name for p in run.path.iterdir()}
    assert {"returns_forecasts.csv", "volatility_forecasts.csv", "model.json", "history.csv", "config.json"} <= files
    returns = pd.read_csv(run.path / "returns_forecasts.csv", parse_dates=["origin"])
    assert set(returns.model) == {"naive", "drift", "mean", "linear", "boosting", "arima"}
    assert set(returns.horizon) == {1, 5}
    assert len(returns) == 6 * 2 * 100  # 40 warm-up + 60 scored origins
    assert (returns.loc[returns.model == "naive", "forecast"] == 0).all()

    reference = run.read_json("reference.json")  # what the API's warnings and drift monitoring compare with
    assert reference["first_date"] == "2017-05-02" and reference["last_date"] == "2018-12-31"  # the dry run's days
    assert reference["returns"]["min"] < reference["returns"]["quantiles"]["0.5"] < reference["returns"]["max"]
    assert 0 < reference["volatility"]["min"] < reference["volatility"]["max"] and reference["history_wanted"] == 60

    assert evaluate.main([]) == 0
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert None not in metrics.values()  # nothing NaN: the random walk's test against itself is left out
    assert metrics["test_h1_naive_mase"] == 1.0 and "test_h1_naive_dm_p" not in metrics
    assert 0 <= metrics["test_h1_drift_coverage"] <= 1 and 0 <= metrics["test_served_interval_coverage"] <= 1
    assert set(evaluate.PROMOTE_ON) <= set(metrics)  # what make promote compares
    assert {"test_garch_qlike", "test_ewma_qlike", "test_historical_qlike", "test_garch_qlike_range_variance"} <= set(
        metrics
    )
    for h in (1, 5):  # the verdict over all the models at once
        assert (
            0 <= metrics[f"test_h{h}_spa_p_lower"] <= metrics[f"test_h{h}_spa_p"] <= metrics[f"test_h{h}_spa_p_upper"]
        )
        assert 0 <= metrics[f"test_h{h}_stepm_superior"] <= 5
    card = (run.path / "MODEL_CARD.md").read_text()
    assert "Walk-forward backtest" in card and "random walk" in card and "all models at once (SPA and StepM)" in card
    assert {"forecast_vs_actual.png", "cumulative_error.png", "volatility.png"} <= {
        p.name for p in (run.path / "plots").iterdir()
    }


def test_a_users_price_file(runs_dir: Path, train_run, prices_csv: Path, capsys: pytest.CaptureFixture):
    run = train_run("--dry-run", "--data", str(prices_csv), "--set", "data.price_column=Close")
    assert "prices.csv (Close): " in capsys.readouterr().out
    assert json.loads((run.path / "model.json").read_text())["source"] == "prices.csv (Close)"
    assert evaluate.main([]) == 0


def test_a_file_without_high_and_low_cannot_use_the_range_proxy(
    runs_dir: Path, train_run, prices_csv: Path, tmp_path: Path
):
    close_only = tmp_path / "close.csv"
    pd.read_csv(prices_csv)[["Date", "Close"]].to_csv(close_only, index=False)
    with pytest.raises(DataError, match="volatility.proxy=range needs daily high and low"):
        train.main(
            [
                "--dry-run",
                "--data",
                str(close_only),
                "--set",
                "data.price_column=Close",
                "--set",
                "volatility.proxy=range",
            ]
        )
    train_run("--dry-run", "--data", str(close_only), "--set", "data.price_column=Close")  # the default proxy works


@pytest.mark.parametrize(
    "override, message",
    [
        ("serve.returns=boosting", "serve.returns must be one of naive, drift, mean, arima"),
        ("model.returns=drift,linear", "must include naive"),
        ("volatility.models=garch", "must include the baselines historical and ewma"),
        ("backtest.horizons=0", "between 1 and 60"),
        ("model.arima_order=1,1,1", r"\(p, 0, q\) on returns"),
    ],
)
def test_bad_settings_are_clear_errors(runs_dir: Path, override: str, message: str):
    with pytest.raises(ConfigError, match=message):
        train.main(["--dry-run", "--set", override])


def test_settings_checked_across_keys(runs_dir: Path, train_run):
    with pytest.raises(ConfigError, match=r"serve.returns \(drift\) must be one of model.returns"):
        train.main(["--dry-run", "--set", "model.returns=naive,arima"])
    train_run("--dry-run", "--set", "model.returns=naive,arima", "--set", "serve.returns=arima")


def test_train_evaluate_and_serve_refuse_the_same_bad_config(runs_dir: Path, train_run):
    """A config that train refuses cannot reach evaluate or serve through a run's config.json either
    (say one written by hand, or by an older version that checked less): the same rule, the same message."""
    bad = ["model.returns=naive,drift", "serve.returns=arima"]  # each fine alone; together, nothing to serve
    with pytest.raises(ConfigError) as refused_by_train:
        train.main(["--dry-run", "--set", bad[0], "--set", bad[1]])
    assert "serve.returns (arima) must be one of model.returns (naive, drift)" in str(refused_by_train.value)

    run = train_run("--dry-run")
    edited = {**run.config, "model": {**run.config["model"], "returns": ["naive", "drift"]}}
    edited["serve"] = {**edited["serve"], "returns": "arima"}
    runs.write_json(run.path / "config.json", edited)
    checksums = run.read_json("checksums.json")  # as if training had written it: only the config is wrong
    runs.write_json(run.path / "checksums.json", {**checksums, "config.json": sha256sum(run.path / "config.json")})

    for refuse in (lambda: from_dict(Config, edited), lambda: model.load(run), lambda: evaluate.main([])):
        with pytest.raises(ConfigError) as refused:
            refuse()
        assert str(refused.value) == str(refused_by_train.value)
    refused_by_serve = pytest.raises(persistence.ModelLoadError, match=r"serve.returns \(arima\) must be one of")
    with refused_by_serve, TestClient(serve.create_app()):
        pass
