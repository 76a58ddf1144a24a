"""The walk-forward backtest: no future value reaches a forecast, the scores are right, and a
real signal, when there is one, is found."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlstarter.config import apply_overrides
from mlstarter.datasets import DataError

from .. import backtest, data, model
from ..config import Config
from ..train import DRY_RUN_OVERRIDES
from .conftest import simulated_prices

SMALL = apply_overrides(Config(), DRY_RUN_OVERRIDES)
# every return model, the opt-in sequence models too (tiny networks: the test is about what they see, not skill)
EVERY_MODEL = apply_overrides(
    SMALL,
    [
        "model.returns=naive,drift,mean,linear,boosting,arima,lstm,gru",
        "sequence.length=10",
        "sequence.hidden_size=8",
        "sequence.epochs=2",
    ],
)


@pytest.fixture(autouse=True)
def one_thread():
    """One thread per fit, as train.py runs the backtest: on a busy machine, threads only wait for each other."""
    with threadpool_limits(limits=1):
        yield


def returns_of(frame: pd.DataFrame) -> pd.Series:
    return data.log_returns(frame.set_index(pd.DatetimeIndex(frame.Date)).Close)


def prices_of(frame: pd.DataFrame) -> data.Prices:
    indexed = frame.set_index(pd.DatetimeIndex(frame.Date, name="date"))
    return data.Prices(indexed[["Close", "High", "Low"]].set_axis(["price", "high", "low"], axis=1), "test", None, [])


def test_no_future_value_reaches_a_forecast():
    """Change every return after one origin; no forecast made at or before it may move (the LSTM's and GRU's too)."""
    frame = simulated_prices(600, seed=1)
    r = returns_of(frame)
    origins, _ = backtest.origins(len(r), SMALL)
    cut = int(origins[45])  # an origin in the middle of a refit block
    future = r.copy()
    future.iloc[cut + 1 :] = np.random.default_rng(9).normal(0, 5, len(r) - cut - 1)  # a different future
    before_r = backtest.run_returns(r, EVERY_MODEL, origins, progress=lambda _: None)
    after_r = backtest.run_returns(future, EVERY_MODEL, origins, progress=lambda _: None)
    past = before_r.origin <= r.index[cut]
    cols = ["forecast", "lower", "upper"]
    pd.testing.assert_frame_equal(before_r.loc[past, cols], after_r.loc[past, cols])
    for name in ("linear", "lstm", "gru"):  # the test can see a change, in each kind of model
        later = ~past & (before_r.model == name)
        assert not np.allclose(before_r.loc[later, "forecast"], after_r.loc[later, "forecast"])

    before_v = backtest.run_volatility(prices_of(frame), r, SMALL, origins, progress=lambda _: None)
    after_v = backtest.run_volatility(prices_of(frame), future, SMALL, origins, progress=lambda _: None)
    past, models = before_v.origin <= r.index[cut], list(SMALL.volatility.models)
    pd.testing.assert_frame_equal(before_v.loc[past, models], after_v.loc[past, models])
    assert not np.allclose(before_v.loc[~past, "garch"], after_v.loc[~past, "garch"])


def test_features_use_only_the_past():
    r = returns_of(simulated_prices(300))
    shifted = r.copy()
    shifted.iloc[200:] += 10.0
    a, b = model.features(r, 5), model.features(shifted, 5)
    pd.testing.assert_frame_equal(a.iloc[:200], b.iloc[:200])


def test_horizon_sums_are_the_next_h_returns():
    r = np.arange(1.0, 8.0)  # 1..7
    assert model.horizon_sums(r, 1)[:3].tolist() == [2, 3, 4]
    assert model.horizon_sums(r, 3)[:2].tolist() == [2 + 3 + 4, 3 + 4 + 5]
    assert np.isnan(model.horizon_sums(r, 3)[-3:]).all()  # the last days' futures are unknown


@pytest.mark.parametrize("order", [(1, 0, 1), (2, 0, 0), (0, 0, 2)])
def test_our_arma_recursion_matches_statsmodels(order):
    r = returns_of(simulated_prices(800, seed=2, phi=0.3)).to_numpy()
    fitted = model.Arima(order).fit(r[:700], None, (1, 5))
    ours = fitted.forecast_block(r, None, np.array([699, 720]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        at_fit = fitted.result.forecast(5).cumsum()
        later = fitted.result.extend(r[700:721]).forecast(5).cumsum()
    np.testing.assert_allclose(ours, [[at_fit[0], at_fit[4]], [later[0], later[4]]], rtol=1e-6)


def test_intervals_use_only_errors_whose_outcome_is_known():
    errors = np.random.default_rng(0).normal(size=300)
    lower, upper = backtest.interval_from_past_errors(errors, 5, SMALL)
    changed = errors.copy()
    changed[200:] = 100.0
    lower2, upper2 = backtest.interval_from_past_errors(changed, 5, SMALL)
    np.testing.assert_array_equal(upper[:205], upper2[:205])  # origin i sees errors up to i - 5
    assert upper2[205] > upper[205]
    assert np.isnan(lower[:24]).all() and np.isfinite(lower[25:]).all()  # 20 known errors needed


@functools.cache
def scored_backtest(phi: float, models: str) -> tuple[Config, pd.DataFrame]:
    """The scored return forecasts of a 400-origin backtest on simulated AR(1) returns (phi = 0: a random walk)."""
    cfg = apply_overrides(SMALL, ["backtest.test_days=400", f"model.returns={models}", "serve.returns=naive"])
    r = returns_of(simulated_prices(1000, seed=3, phi=phi))
    origins, warmup = backtest.origins(len(r), cfg)
    forecasts = backtest.run_returns(r, cfg, origins, progress=lambda _: None)
    return cfg, forecasts[forecasts.origin >= r.index[origins[warmup]]]


def test_a_real_signal_is_found_and_called_significant():
    """With AR(1) returns (phi = 0.4), ARIMA and the linear model must beat the random walk, significantly."""
    _, scored = scored_backtest(0.4, "naive,linear,arima")
    scores = backtest.return_scores(scored).set_index(["horizon", "model"])
    tests = backtest.return_loss_tests(scored).set_index(["horizon", "model"])
    for name in ("linear", "arima"):
        assert scores.loc[(1, name), "mase"] < 0.97
        assert tests.loc[(1, name), "p"] < 0.05 and tests.loc[(1, name), "mse_vs_naive"] < 0
        assert scores.loc[(1, name), "direction_p"] < 0.05


def test_the_spa_test_finds_a_real_signal_and_stepm_names_the_models():
    """Over several models at once: on AR(1) returns (phi = 0.4) the SPA test rejects "no model beats the
    random walk" one day ahead, and StepM names the two models that use the past returns."""
    cfg, scored = scored_backtest(0.4, "naive,linear,arima")
    verdict = backtest.beats_the_random_walk(scored, cfg).set_index("horizon")
    assert verdict.loc[1, "spa_p"] < 0.05 and verdict.loc[1, "superior"] == ["linear", "arima"]
    assert verdict.loc[1, "spa_p_lower"] <= verdict.loc[1, "spa_p"] <= verdict.loc[1, "spa_p_upper"]
    again = backtest.beats_the_random_walk(scored, cfg).set_index("horizon")
    assert again.loc[1, "spa_p"] == verdict.loc[1, "spa_p"]  # seeded: the same bootstrap every time


def test_on_a_random_walk_no_model_beats_it_even_the_luckiest():
    """On a pure random walk, with several models to pick the luckiest from, neither the SPA test nor
    StepM finds one that beats it, at any horizon."""
    cfg, scored = scored_backtest(0.0, "naive,drift,mean,linear")
    verdict = backtest.beats_the_random_walk(scored, cfg)
    assert (verdict.spa_p > 0.05).all() and (verdict.superior.str.len() == 0).all()
    assert verdict.models.tolist() == [3, 3]


def test_qlike_is_zero_for_a_perfect_forecast_and_punishes_too_low_more():
    truth = np.array([1.0, 2.0, 4.0])
    assert backtest.qlike(truth, truth) == pytest.approx([0, 0, 0])
    assert backtest.qlike(truth, truth / 2).mean() > backtest.qlike(truth, truth * 2).mean()  # asymmetric
    assert np.isnan(backtest.qlike(np.array([0.0]), np.array([1.0]))[0])  # a zero proxy is left out


def test_direction_and_its_binomial_test():
    forecast = np.array([1.0, 1.0, -1.0, -1.0] * 25)
    assert backtest.direction(forecast, forecast)["direction"] == 1.0
    assert backtest.direction(forecast, forecast)["direction_p"] < 1e-20
    assert np.isnan(backtest.direction(np.zeros(4), np.ones(4))["direction"])  # the random walk calls no direction


def test_diebold_mariano_sees_a_clear_difference_and_not_noise():
    rng = np.random.default_rng(0)
    base = rng.exponential(size=1000)
    assert backtest.diebold_mariano(base * 0.5, base)["p"] < 1e-6
    assert backtest.diebold_mariano(base + rng.normal(0, 0.01, 1000), base)["p"] > 0.01


def test_a_shorter_series_scores_what_it_can_and_too_short_a_one_says_so():
    origins, warmup = backtest.origins(1200, Config())  # five years: fewer than 2,500 scored origins
    assert warmup == 250 and len(origins) - warmup == 1200 - 1 - 5 - 500 - 250 + 1
    with pytest.raises(DataError, match="needs at least 1,006 prices.*the series has 301.*longer history"):
        backtest.origins(300, Config())


def test_the_direction_test_counts_only_non_overlapping_outcomes():
    forecast = np.ones(100)
    actual = np.where(np.arange(100) % 2 == 0, 1.0, -1.0)  # right on even origins only
    assert backtest.direction(forecast, actual, 1)["direction"] == 0.5
    assert backtest.direction(forecast, actual, 2)["direction_p"] < 1e-10  # 50 trials, all hits
    assert backtest.direction(forecast, actual, 1)["direction_p"] > 0.4


def test_a_failed_garch_fit_is_caught():
    assert model.plausible(np.array([1.0, 2.0]), 1.5)
    assert not model.plausible(np.array([1.0, 1.8e308]), 1.5) and not model.plausible(np.array([0.0, 1.0]), 1.5)
    assert not model.plausible(np.array([np.nan]), 1.5)
