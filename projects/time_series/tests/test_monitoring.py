"""Drift monitoring: what a forecast logs (summary numbers, never the prices), the volatility-regime checks,
the served intervals' coverage against prices that arrive later, and the simulate -> monitor flow."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlstarter import monitoring, paths, predlog, serving
from mlstarter.config import to_dict

from .. import data, examples, monitor, serve, simulate_drift
from ..config import Config, DataConfig
from .conftest import simulated_prices

EXAMPLE = json.loads((Path(serve.__file__).parent / "example.json").read_text())
NO_PRICES = monitor.parser().parse_args([])
# A real run on the whole S&P 500 series, as the default (so its reference spans 1999-2018, 2008 included),
# with only the models that fit in a second: the checks read the sent prices, not the served model.
FAST = ("--set", "model.returns=naive,drift", "--set", "volatility.models=historical,ewma",
        "--set", "volatility.serve=ewma")  # fmt: skip


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.Series, dict]:
    """A simulated price series (GARCH volatility, conftest) and its reference, as train.py saves it."""
    path = tmp_path_factory.mktemp("series") / "prices.csv"
    simulated_prices(1500, seed=3).to_csv(path, index=False)
    prices = data.load_prices(DataConfig(path=str(path), price_column="Close"))
    return prices.frame["price"], data.reference(prices, volatility_window=21, history_wanted=60)


def fake_run(reference: dict) -> SimpleNamespace:
    return SimpleNamespace(run_id="synthetic", reference=reference, config=to_dict(Config()))


def logged(volatility: list[float], large: list[int], days: int = 21) -> pd.DataFrame:
    """A prediction log as predlog.read returns it: one row per forecast, summary numbers only."""
    n = len(volatility)
    return pd.DataFrame({
        "input.history_prices": [252] * n, "input.volatility_pct": volatility,
        "input.window_returns": [days] * n, "input.large_moves": large,
    })  # fmt: skip


def test_a_calm_sample_is_stable_and_a_volatile_one_is_act(series: tuple[pd.Series, dict]):
    _, seen = series
    rng = np.random.default_rng(0)
    calm = logged(list(rng.choice(seen["volatility"]["sample"], 500)), list(rng.binomial(21, 0.1, 500)))
    found, notes = monitor.checks(fake_run(seen), calm, NO_PRICES)
    assert [c.verdict for c in found] == ["stable", "stable"], [(c.name, c.value) for c in found]
    assert "needs the prices that have arrived" in notes[-1]  # coverage without --prices: a note, not an error
    wild = logged([3 * seen["volatility"]["max"]] * 500, [8] * 500)  # three times the series' wildest month
    volatility, spread = monitor.checks(fake_run(seen), wild, NO_PRICES)[0]
    assert volatility.verdict == "act" and volatility.value > 5
    assert spread.verdict == "act" and spread.detail.startswith("38.1% of the last 21 daily returns")


def test_forecasts_without_prices_are_left_out_of_the_regime_checks(series: tuple[pd.Series, dict]):
    _, seen = series
    log = logged([seen["volatility"]["quantiles"]["0.5"]] * 3 + [None], [2, 2, 2, None])
    log.loc[3, "input.history_prices"] = 0  # a forecast from the training series' end
    found, notes = monitor.checks(fake_run(seen), log, NO_PRICES)
    assert notes[0].startswith("1 of 4 forecasts sent no prices") and "63 in all" in found[1].detail  # 3 x 21


def test_a_run_without_the_volatility_sample_is_refused(series: tuple[pd.Series, dict]):
    _, seen = series
    old = {**seen, "volatility": {k: v for k, v in seen["volatility"].items() if k != "sample"}}
    with pytest.raises(paths.ProjectError, match="train a new run"):
        monitor.checks(fake_run(old), logged([10.0], [1]), NO_PRICES)


@pytest.mark.parametrize(
    "misses, verdict",
    [(0, "stable"), (4, "stable"), (5, "watch"), (9, "watch"), (10, "act"), (25, "act")],
)
def test_coverage_verdicts_are_the_basel_traffic_light(misses: int, verdict: str):
    """The Basel Committee's table for 250 days of 99% value at risk: 0-4 misses green, 5-9 yellow, 10+ red."""
    check = monitor.coverage_check("99% VaR", 250 - misses, 250, 0.99)
    assert check.verdict == verdict and check.value == pytest.approx(1 - misses / 250)


def test_coverage_of_90_percent_intervals():
    assert monitor.coverage_check("c", 900, 1000, 0.9).verdict == "stable"  # exactly nominal
    assert monitor.coverage_check("c", 850, 1000, 0.9).verdict == "act"  # 15% misses where 10% were promised
    assert monitor.coverage_check("c", 995, 1000, 0.9).verdict == "watch"  # far too wide: wasteful, not dangerous
    assert monitor.coverage_check("c", 0, 0, 0.9).value is None


def test_forecasts_are_matched_with_the_prices_that_arrived():
    actual = pd.Series([100.0, 101, 99, 104, 100], index=pd.bdate_range("2024-01-01", periods=5))
    log = pd.DataFrame({
        "input.last_date": ["2024-01-02", "2024-01-02", "2024-01-04", "2023-12-29", "2024-01-03"],
        "input.last_price": [101.0, 101.0, 104.0, 100.0, 50.0],  # the last: another series' price that day
        "output.lower": [[98, 98], [98, 98], [95, 90, 90], [90], [40]],
        "output.upper": [[100, 100], [100, 100], [110, 120, 130], [110], [60]],
    })  # fmt: skip
    found, unmatched = monitor.outcomes(log, actual)
    # the first forecast, asked twice, counts once: day 1 (99) inside [98, 100], day 2 (104) outside; the
    # third has one outcome so far (100, day 1); the fourth's last date and the fifth's price are not the file's
    assert found[["last_date", "day", "outcome", "held"]].values.tolist() == [
        ["2024-01-02", 1, 99.0, True], ["2024-01-02", 2, 104.0, False], ["2024-01-04", 1, 100.0, True],
    ]  # fmt: skip
    assert unmatched == {"date not in the file": 1, "another series": 1}


def test_a_forecast_is_logged_as_summary_numbers(tmp_path: Path, trained_once):
    run = trained_once(*FAST)
    app = serve.create_app(run.run_id)
    serving.enable_log(app, str(tmp_path / "p.db"))
    with TestClient(app) as client:
        answer = client.post("/forecast", json={**EXAMPLE, "horizon": 3}).json()
        assert client.post("/forecast", json={"horizon": 2}).status_code == 200
    sent, default = predlog.read(str(tmp_path / "p.db"), serve.PROJECT).to_dict("records")
    prices = pd.Series([p["price"] for p in EXAMPLE["history"]])
    r = data.log_returns(prices).iloc[-21:]
    assert sent["input.history_prices"] == 60 and sent["input.horizon"] == 3
    assert sent["input.last_date"] == EXAMPLE["history"][-1]["date"] == answer["last_date"]
    assert sent["input.volatility_pct"] == pytest.approx(r.std() * np.sqrt(252), abs=0.01)
    assert sent["input.window_returns"] == 21 and sent["input.large_moves"] == data.large_moves(r, run.reference)
    assert sent["output.lower"] == [s["lower"] for s in answer["path"]] and sent["output.interval"] == 0.9
    assert default["input.history_prices"] == 0 and np.isnan(default["input.volatility_pct"])
    with sqlite3.connect(tmp_path / "p.db") as db:  # the prices themselves are not in the log
        (raw,) = db.execute("SELECT inputs FROM predictions ORDER BY id LIMIT 1").fetchone()
    assert EXAMPLE["history"][0]["date"] not in raw and str(EXAMPLE["history"][-2]["price"]) not in raw


@pytest.mark.slow
def test_simulated_shift_is_flagged_and_unshifted_traffic_is_not(tmp_path: Path, trained_once):
    run = trained_once(*FAST)
    target = str(tmp_path / "p.db")
    unshifted = [simulate_drift.traffic(run, 200, seed, shifted=False) for seed in range(2)]
    shifted = [simulate_drift.traffic(run, 100, 0, shifted=True)]
    ends = {r["json"]["history"][-1]["date"] for r in shifted[0]}
    assert min(ends) >= "2008-09-29" and max(ends) <= "2008-12-26"  # autumn 2008, after Lehman Brothers failed
    spans = monitoring.replay(serve.PROJECT, run, unshifted + shifted, target)
    reports = monitoring.verdicts(serve.PROJECT, run, monitor.checks, target, spans, NO_PRICES)
    assert [r.predictions for r in reports] == [200, 200, 100]
    for report in reports[:2]:
        assert report.verdict != "act", [(c.name, c.value) for c in report.checks]
    assert reports[2].verdict == "act" and reports[2].checks[0].verdict == "act"
    assert json.dumps(reports[2].to_dict())  # what report.json and /metrics read

    # the same log with the prices that arrived: the test period's intervals hold, in the Basel green zone
    prices = tmp_path / "prices.csv"
    prices.write_text(examples.as_csv(data.load_prices(DataConfig()).frame["price"]))  # Date,Close
    with_prices = monitor.parser().parse_args(["--prices", str(prices), "--set", "data.price_column=Close"])
    calm = monitoring.verdicts(serve.PROJECT, run, monitor.checks, target, spans[:1], with_prices)[0]
    coverage = calm.checks[-1]
    assert coverage.name == "interval coverage, 1 day ahead" and coverage.verdict == "stable"
    assert 0.85 < coverage.value < 0.95 and "intervals with an outcome held it" in calm.notes[-1]
    out = tmp_path / "report"
    argv = ["--log-db", target, "--out", str(out), "--prices", str(prices), "--set", "data.price_column=Close"]
    assert monitor.main(argv) == monitoring.ACT_EXIT_CODE  # the whole log: autumn 2008 in it
    assert "interval coverage, 1 day ahead" in (out / "report.md").read_text()
