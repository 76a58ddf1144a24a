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

# the return models a plain `make train` backtests: each fits in well under a second (model.py)
DEFAULT_RETURN_MODELS = ("naive", "drift", "mean", "linear", "boosting", "arima")
# opt-in: recurrent networks trained with torch at every refit (sequence.py); minutes, not seconds
SEQUENCE_MODELS = ("lstm", "gru")
RETURN_MODELS = DEFAULT_RETURN_MODELS + SEQUENCE_MODELS  # every name model.returns accepts
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
    # the return forecasters to backtest; the first three are baselines. Add the sequence models with
    # --set model.returns=naive,drift,mean,linear,boosting,arima,lstm,gru (see the `sequence` section)
    returns: tuple[str, ...] = DEFAULT_RETURN_MODELS
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
class SequenceConfig:
    # The opt-in return models `lstm` and `gru` (sequence.py): one recurrent network, two kinds of cell. It reads
    # the features (model.features) of the last `length` days and forecasts every horizon's return at once.
    # Each default was checked on the first fitting window only (January 1999 to January 2008, before any scored
    # origin; its last fifth validating), never on the backtest: the LSTM's best validation loss (standardised)
    # was 0.628 with these defaults, and a constant forecast (the window's mean) scores 0.629 on the same days.
    length: int = 21  # days each forecast reads, a trading month; 10 days gave 0.621, 63 days 0.640: no gain from more
    hidden_size: int = 32  # 5,954 weights in the LSTM, 4,482 in the GRU; 16 and 64 gave 0.625 and 0.622
    layers: int = 1  # one recurrent layer: with one, the network is already no better than a constant
    dropout: float = 0.0  # on the last state, before the output layer; early stopping regularises already
    epochs: int = 30  # an upper bound: early stopping ended every fit on the first window after 5 to 15 epochs
    patience: int = 3  # stop after 3 epochs without a lower validation loss; the best epoch's weights are kept
    batch_size: int = 64  # 28 updates an epoch on the first window's 1,746 training sequences, 62 on the last's 3,913
    learning_rate: float = 1e-3  # Adam's default (Kingma and Ba 2015)
    val_share: float = 0.2  # the fitting window's last fifth (in time) decides when to stop, as a later period would
    # a refit trains a network: 3.6 s (LSTM) and 6.2 s (GRU) on average in `make bench` on 2 busy cores, against
    # 0.02 s for the ridge regression. Refit every 63 trading days (a quarter) instead of backtest.refit_every, a third
    # as many refits; between refits the network forecasts each new origin from its last `length` days
    refit_every: int = 63
    # the CPU: results repeat exactly, and cuDNN's recurrent kernels do not promise to (torch.nn.LSTM's docs)
    device: str = "cpu"

    def validate(self) -> None:
        for key in ("length", "hidden_size", "layers", "epochs", "patience", "batch_size", "refit_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"sequence.{key} must be at least 1; got {getattr(self, key)}")
        if self.length > 252:
            raise ConfigError(
                f"sequence.length is the days each forecast reads, at most 252 (a year); got {self.length}"
            )
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"sequence.dropout must be in [0, 1); got {self.dropout}")
        if not 0 < self.val_share < 0.5:
            raise ConfigError(
                f"sequence.val_share is the fitting window's last share, in (0, 0.5); got {self.val_share}"
            )
        if self.learning_rate <= 0:
            raise ConfigError(f"sequence.learning_rate must be above 0; got {self.learning_rate}")


@dataclass
class PriceTrapConfig:
    # price_trap.py: the `sequence` section's LSTM trained on price levels, the way a much-copied tutorial does it
    # (Aungiers, github.com/jaungiers/LSTM-Neural-Network-for-Time-Series-Prediction: config.json, data_processor.py)
    length: int = 50  # prices in a window: its last 49 predict the 50th in that tutorial; here 50 predict the next
    test_share: float = 0.15  # its split in time: the first 85% of the windows train, the last 15% test
    # "window": each window divided by its first price, minus 1, as that tutorial does: no statistic of a later
    # day is used, and the network can follow prices to levels it never saw. "minmax": prices scaled by the
    # training prices' minimum and maximum (the other common recipe): the network cannot reach higher prices
    scaling: Literal["window", "minmax"] = "window"

    def validate(self) -> None:
        if not 2 <= self.length <= 252:
            raise ConfigError(f"price_trap.length is the prices each window holds, 2 to 252; got {self.length}")
        if not 0.05 <= self.test_share <= 0.5:
            raise ConfigError(f"price_trap.test_share is the test period's share, 0.05 to 0.5; got {self.test_share}")


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
    # fixes gradient boosting, the sequence networks' first weights and batches, and the SPA bootstrap; the rest
    # of the backtest is deterministic
    seed: int = 42
    data: DataConfig = field(default_factory=DataConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sequence: SequenceConfig = field(default_factory=SequenceConfig)
    price_trap: PriceTrapConfig = field(default_factory=PriceTrapConfig)
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
