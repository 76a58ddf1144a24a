"""Every knob of the time-series project, with the reason for each default.

Change a value for one run from the command line, e.g.
    $ python -m projects.time_series.train --set backtest.refit_every=63 --set backtest.window=rolling
    $ make examples PROJECT=time_series      # writes runs/time_series-examples/prices.csv, among others
    $ python -m projects.time_series.train --data runs/time_series-examples/prices.csv --set data.price_column=Close
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlstarter.config import ConfigError

RETURN_MODELS = ("naive", "drift", "mean", "linear", "boosting", "arima")
VOLATILITY_MODELS = ("historical", "ewma", "garch", "gjr", "egarch")


@dataclass
class DataConfig:
    path: str = ""  # your own daily price CSV (--data); empty = the S&P 500 series that ships with `arch`
    date_column: str = "Date"  # the column name in Yahoo-style exports
    date_format: str = ""  # e.g. %d/%m/%Y; empty = inferred from the first date (2024-01-31 always works)
    price_column: str = "Adj Close"  # adjusted for splits and dividends; "Close" if your file has no adjusted price
    # daily high and low, used for the range-based variance estimate; left out when the file lacks them
    high_column: str = "High"
    low_column: str = "Low"
    max_gap_days: int = 5  # calendar days between two rows; a longer gap (a missing week) is reported
    # what separates the fields of your CSV: comma as in Yahoo and broker exports; semicolon in Excel's exports
    # where the decimal mark is a comma (much of Europe); tab or pipe for tab- or pipe-separated files
    separator: Literal["comma", "semicolon", "tab", "pipe"] = "comma"


@dataclass
class BacktestConfig:
    # The walk-forward backtest: at every origin (a trading day) each model forecasts from the past only.
    # the last 2,500 origins (2009-2018 for the S&P 500) are scored; a shorter series scores all it can
    # (at least 250) after the first fit and the warm-up
    test_days: int = 2500
    warmup_days: int = 250  # before those, one year of origins only collects errors for the prediction intervals
    min_train_days: int = 500  # the first refit needs two years of history
    refit_every: int = 21  # refit every model every 21 trading days (about a month); between refits, only new data
    window: Literal["expanding", "rolling"] = "expanding"  # fit on all the past, or only on the last `window_days`
    window_days: int = 1000  # the rolling window's length (four years)
    horizons: tuple[int, ...] = (1, 5)  # forecast the next day and the next week (trading days)
    interval: float = 0.9  # prediction intervals that should hold the outcome 90% of the time
    interval_errors: int = 250  # intervals come from the quantiles of the last 250 errors whose outcome is known
    # Hansen's SPA test and StepM (evaluate.py) resample the loss series in blocks (a stationary bootstrap):
    # blocks keep together what the losses share with their neighbours: volatile spells and 5-day overlaps
    spa_block_days: int = 50  # the mean block length, about the square root of 2,500 scored origins
    spa_reps: int = 1000  # bootstrap resamples: a p-value near 0.05 comes out within about 0.01

    def validate(self) -> None:
        for key in (
            "test_days",
            "min_train_days",
            "refit_every",
            "window_days",
            "interval_errors",
            "spa_block_days",
            "spa_reps",
        ):
            if getattr(self, key) < 1:
                raise ConfigError(f"backtest.{key} must be at least 1; got {getattr(self, key)}")
        if not self.horizons or min(self.horizons) < 1 or max(self.horizons) > 60:
            raise ConfigError(f"backtest.horizons must be trading days between 1 and 60; got {self.horizons}")
        if not 0.5 <= self.interval < 1:
            raise ConfigError(f"backtest.interval is a coverage such as 0.9, in [0.5, 1); got {self.interval}")


@dataclass
class ModelConfig:
    returns: tuple[str, ...] = RETURN_MODELS  # the return forecasters to backtest; the first three are baselines
    lags: int = 5  # lagged daily returns as features: one trading week
    mean_window: int = 252  # the historical-mean baseline averages the last year of returns
    ridge_alpha: float = 1.0  # the linear model is a ridge regression on standardised features
    boosting_max_iter: int = 100  # gradient boosting: few, shallow, slow trees; there is little signal to find
    boosting_max_depth: int = 3
    boosting_learning_rate: float = 0.05
    arima_order: tuple[int, ...] = (1, 0, 1)  # ARMA(1,1) on log returns = ARIMA(1,1,1) on log prices

    def validate(self) -> None:
        unknown = sorted(set(self.returns) - set(RETURN_MODELS))
        if unknown or "naive" not in self.returns:
            raise ConfigError(
                f"model.returns takes names from {', '.join(RETURN_MODELS)} and must include naive (the benchmark "
                f"every score is relative to); got {', '.join(self.returns)}"
            )
        if min(self.lags, self.mean_window, self.boosting_max_iter, self.boosting_max_depth) < 1:
            raise ConfigError("model.lags, mean_window, boosting_max_iter and boosting_max_depth must be at least 1")
        if len(self.arima_order) != 3 or min(self.arima_order) < 0 or self.arima_order[1] != 0:
            raise ConfigError(
                f"model.arima_order is (p, 0, q) on returns (returns are already the differenced prices); "
                f"got {self.arima_order}"
            )


@dataclass
class VolatilityConfig:
    models: tuple[str, ...] = VOLATILITY_MODELS  # historical and ewma are the baselines
    historical_window: int = 21  # rolling variance of the last month of returns
    ewma_lambda: float = 0.94  # RiskMetrics (J.P. Morgan, 1996) for daily data
    distribution: Literal["normal", "t", "skewt"] = "t"  # daily returns have fat tails: Student's t fits them better
    # the target the forecasts are scored against: the squared return, or the high-low range (Parkinson, 1980),
    # a less noisy estimate of the same day's variance
    proxy: Literal["squared", "range"] = "squared"
    serve: str = "gjr"  # the model whose forecast the API returns (the best QLIKE in the benchmark)

    def validate(self) -> None:
        unknown = sorted(set(self.models) - set(VOLATILITY_MODELS))
        if unknown or not {"historical", "ewma"} <= set(self.models):
            raise ConfigError(
                f"volatility.models takes names from {', '.join(VOLATILITY_MODELS)} and must include the "
                f"baselines historical and ewma; got {', '.join(self.models)}"
            )
        if not 0 < self.ewma_lambda < 1 or self.historical_window < 2:
            raise ConfigError("volatility.ewma_lambda must be in (0, 1) and volatility.historical_window at least 2")


@dataclass
class ServeConfig:
    # the return forecast the API serves (one of the models with a forecast for every day of a path): the
    # backtest finds nothing that beats the random walk with drift, so we serve the simplest honest one
    returns: Literal["naive", "drift", "mean", "arima"] = "drift"
    min_history: int = 60  # prices a request must send (or none, to forecast from the training series' end)
    max_horizon: int = 20  # the longest path the API forecasts, in trading days

    def validate(self) -> None:
        if self.min_history < 30 or not 1 <= self.max_horizon <= 250:
            raise ConfigError("serve.min_history must be at least 30 and serve.max_horizon between 1 and 250")


@dataclass
class Config:
    seed: int = 42  # fixes gradient boosting and the SPA bootstrap; the rest of the backtest is deterministic
    data: DataConfig = field(default_factory=DataConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    volatility: VolatilityConfig = field(default_factory=VolatilityConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)

    def validate(self) -> None:
        """Checks across sections (`mlstarter.config.validate` runs each section's own first). They run once,
        after every override: train, evaluate and serve refuse the same config with the same message."""
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be between 0 and 2**32 - 1; got {self.seed}")
        bt = self.backtest
        if bt.warmup_days < bt.interval_errors // 5:
            raise ConfigError(
                f"backtest.warmup_days ({bt.warmup_days}) is too short to collect errors for the intervals: "
                f"use at least backtest.interval_errors / 5 = {bt.interval_errors // 5}"
            )
        if self.serve.returns not in self.model.returns:
            raise ConfigError(
                f"serve.returns ({self.serve.returns}) must be one of model.returns ({', '.join(self.model.returns)})"
            )
        if self.volatility.serve not in self.volatility.models:
            raise ConfigError(
                f"volatility.serve ({self.volatility.serve}) must be one of volatility.models "
                f"({', '.join(self.volatility.models)})"
            )
