"""The forecasters: features from the past, return models and volatility models.

Every model answers the same question at a forecast origin t (a trading day, after its close):
what comes next, using only returns up to and including day t? Returns are daily log returns in
percent, r_t = 100 * log(P_t / P_t-1); a horizon-h forecast is of their sum r_t+1 + ... + r_t+h.

Return models: `naive` (the random walk: the price stays where it is, a forecast of 0), `drift`
(the average return of the fitting window), `mean` (the average of the last year), `linear` and
`boosting` (regressions on lagged features) and `arima` (statsmodels); opt-in, `lstm` and `gru`
(recurrent networks over the last days' features, trained with torch: sequence.py).
Volatility models: `historical` (the mean squared return of the last month), `ewma` (RiskMetrics),
and `garch`, `gjr`, `egarch` (the arch package).

`build(cfg, name)` makes a fresh return model (the backtest builds one at every refit);
`save(run_dir, ...)` writes a run's forecasts and served models, and `load(run)` reads them back
for evaluate.py and serve.py: plain numbers in JSON and CSV, nothing to unpickle.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from arch import arch_model
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from statsmodels.tsa.arima.model import ARIMA

from mlstarter import runs
from mlstarter.config import from_dict

from .config import SEQUENCE_MODELS, Config, VolatilityConfig


def features(returns: pd.Series, lags: int) -> pd.DataFrame:
    """Features at each day t from returns up to and including t only (the backtest test checks this).

    (T,) returns -> (T, lags + 7) features; the first 63 rows have gaps and are not used.
    """
    r = returns
    columns = {f"return_lag{k}": r.shift(k) for k in range(lags)}  # r_t, r_t-1, ... (lag 0 = today's)
    for days in (5, 21):
        columns[f"mean_{days}d"] = r.rolling(days).mean()  # momentum
    for days in (5, 21, 63):
        columns[f"volatility_{days}d"] = r.rolling(days).std()  # volatility clusters: calm and wild spells
    columns["day_of_week"] = pd.Series(r.index.day_of_week, index=r.index, dtype=float)  # the calendar
    columns["month"] = pd.Series(r.index.month, index=r.index, dtype=float)
    return pd.DataFrame(columns)


def horizon_sums(r: np.ndarray, h: int) -> np.ndarray:
    """y_t = r_t+1 + ... + r_t+h, the target at each day t (NaN for the last h days, whose future is unknown)."""
    total = np.full(len(r), np.nan)
    sums = np.convolve(r, np.ones(h), mode="valid")  # sums[i] = r_i + ... + r_i+h-1
    total[: len(r) - h] = sums[1:]
    return total


class ReturnModel:
    """Fit at a refit origin T on the window's returns r (ending with day T) and features X; then forecast
    the next h days' total return, for each horizon h, at origins t >= T from days up to t only.
    The base class is the random walk: the price stays put, every return forecast is 0."""

    name = "naive"

    def fit(self, r: np.ndarray, X: np.ndarray, horizons: tuple[int, ...]) -> ReturnModel:
        self.horizons = np.array(horizons)
        return self

    def forecast_block(self, r: np.ndarray, X: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """(n origins,) -> (n origins, n horizons) forecasts; the one at origin t uses r[: t + 1] and X[t] only."""
        return np.zeros((len(origins), len(self.horizons)))


class Drift(ReturnModel):
    """The random walk with drift: the fitting window's average daily return, h times."""

    name = "drift"

    def fit(self, r: np.ndarray, X: np.ndarray, horizons: tuple[int, ...]) -> Drift:
        self.horizons, self.mu = np.array(horizons), float(np.mean(r))
        return self

    def forecast_block(self, r: np.ndarray, X: np.ndarray, origins: np.ndarray) -> np.ndarray:
        return np.tile(self.mu * self.horizons, (len(origins), 1))


class HistoricalMean(ReturnModel):
    """The average daily return of the last `window` days before each origin, h times."""

    name = "mean"

    def __init__(self, window: int) -> None:
        self.window = window

    def forecast_block(self, r: np.ndarray, X: np.ndarray, origins: np.ndarray) -> np.ndarray:
        means = np.array([np.mean(r[t + 1 - self.window : t + 1]) for t in origins])
        return means[:, None] * self.horizons


class Regression(ReturnModel):
    """A direct forecast: for each horizon h, regress y_t = r_t+1 + ... + r_t+h on the features of day t."""

    def __init__(self, name: str, make_estimator: Callable[[], Any]) -> None:
        self.name, self.make_estimator = name, make_estimator

    def fit(self, r: np.ndarray, X: np.ndarray, horizons: tuple[int, ...]) -> Regression:
        self.horizons, self.estimators = np.array(horizons), []
        for h in horizons:
            y = horizon_sums(r, h)  # the last h rows have no known target at the refit origin: left out
            usable = np.isfinite(y) & np.isfinite(X).all(axis=1)
            self.estimators.append(self.make_estimator().fit(X[usable], y[usable]))
        return self

    def forecast_block(self, r: np.ndarray, X: np.ndarray, origins: np.ndarray) -> np.ndarray:
        return np.column_stack([e.predict(X[origins]) for e in self.estimators])  # X[t] holds only the past


class Arima(ReturnModel):
    """ARMA(p, q) with a mean on daily returns, fitted by statsmodels; the h-day forecast is the sum of
    the next h daily forecasts. Between refits the parameters stay and each new day enters the recursion."""

    name = "arima"

    def __init__(self, order: tuple[int, ...]) -> None:
        self.order = tuple(order)

    def fit(self, r: np.ndarray, X: np.ndarray, horizons: tuple[int, ...]) -> Arima:
        self.horizons, self.n_fit = np.array(horizons), len(r)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on near-white-noise returns
            self.result = ARIMA(r, order=self.order, trend="c").fit()
        return self

    def forecast_block(self, r: np.ndarray, X: np.ndarray, origins: np.ndarray) -> np.ndarray:
        first = origins[0] + 1 - self.n_fit  # where the fitting window began
        x = r[first : origins[-1] + 1]
        # the one-step errors e_t of the fitted model over the window and the block (a Kalman filter with
        # the same parameters; each e_t uses days before t only)
        e = self.result.apply(x).resid
        return arma_forecasts(x, e, origins - first, self.result, int(self.horizons.max()))[:, self.horizons - 1]

    @property
    def params(self) -> dict[str, Any]:
        return {"order": list(self.order), "params": [float(v) for v in self.result.params]}


def arma_forecasts(x: np.ndarray, e: np.ndarray, at: np.ndarray, result, steps: int) -> np.ndarray:
    """Cumulative ARMA forecasts of 1..steps days from each position in `at`:
    x^_t+k = mu + sum_j phi_j (x_t+k-j - mu) + sum_j theta_j e_t+k-j, with future x replaced by its
    forecast and future e by 0. (n,) positions -> (n, steps) sums."""
    mu, phi, theta = float(result.params[0]), result.arparams, result.maparams
    paths = np.zeros((len(at), steps))

    def value(k: int) -> np.ndarray:  # x at position at + k: known for k <= 0, forecast after
        return x[at + k] - mu if k <= 0 else paths[:, k - 1] - mu

    for k in range(1, steps + 1):
        step = mu + sum(phi[j] * value(k - 1 - j) for j in range(len(phi)))
        step = step + sum(theta[j] * e[at + k - 1 - j] for j in range(len(theta)) if k - 1 - j <= 0)
        paths[:, k - 1] = step
    return np.cumsum(paths, axis=1)


def build(cfg: Config, name: str) -> ReturnModel:
    """A fresh, unfitted return model by name (see config.RETURN_MODELS)."""
    mc = cfg.model
    if name == "naive":
        return ReturnModel()
    if name == "drift":
        return Drift()
    if name == "mean":
        return HistoricalMean(mc.mean_window)
    if name == "linear":
        return Regression(name, lambda: make_pipeline(StandardScaler(), Ridge(alpha=mc.ridge_alpha)))
    if name == "boosting":
        return Regression(
            name,
            lambda: HistGradientBoostingRegressor(
                max_iter=mc.boosting_max_iter,
                max_depth=mc.boosting_max_depth,
                learning_rate=mc.boosting_learning_rate,
                random_state=cfg.seed,
            ),
        )
    if name == "arima":
        return Arima(mc.arima_order)
    if name in SEQUENCE_MODELS:
        from .sequence import SequenceModel  # imported here: only the opt-in sequence models need torch

        return SequenceModel(name, cfg.sequence, cfg.seed)
    raise ValueError(f"unknown return model {name!r}")


# ---- volatility -----------------------------------------------------------------------------------

GARCH_SPECS = {  # arch_model arguments: GARCH(1,1); GJR adds the leverage term o=1; EGARCH models log variance
    "garch": {"vol": "GARCH", "p": 1, "q": 1},
    "gjr": {"vol": "GARCH", "p": 1, "o": 1, "q": 1},
    "egarch": {"vol": "EGARCH", "p": 1, "o": 1, "q": 1},
}


def historical_variance(r: pd.Series, window: int) -> pd.Series:
    """At day t, the mean squared return of days t-window+1 .. t: the forecast of day t+1's variance."""
    return (r**2).rolling(window).mean()


def ewma_variance(r: pd.Series, lam: float) -> pd.Series:
    """RiskMetrics: sigma^2_t+1 = lam * sigma^2_t + (1 - lam) * r_t^2, the forecast made at day t.
    Started from the first 21 days' mean square."""
    r2 = (r**2).to_numpy()
    out = np.empty(len(r2))
    var = float(np.mean(r2[:21]))
    for t, x in enumerate(r2):
        var = lam * var + (1 - lam) * x
        out[t] = var
    return pd.Series(out, index=r.index)


def garch_model(r: np.ndarray | pd.Series, name: str, cfg: VolatilityConfig):
    """An unfitted arch model: constant mean, the named variance equation, the configured distribution."""
    return arch_model(r, mean="Constant", dist=cfg.distribution, rescale=False, **GARCH_SPECS[name])


def garch_forecasts(
    r: np.ndarray, name: str, cfg: VolatilityConfig, first: int, origins: np.ndarray, previous: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Next-day variance forecasts at each origin; the model is fitted on r[first : origins[0] + 1] and then
    only filters each new day with the same parameters (the GARCH recursion looks at the past only).

    A fit can fail on a short or odd series (no convergence, or parameters whose forecasts run to 0 or
    to infinity); then the `previous` block's parameters are used instead, or, with none, the forecasts
    are NaN. Returns (forecasts, the parameters used, whether this fit succeeded)."""
    model = garch_model(r[: origins[-1] + 1], name, cfg)  # nothing after the block's last origin is passed in
    window = {"first_obs": first, "last_obs": int(origins[0]) + 1}
    result = model.fit(**window, disp="off", show_warning=False)
    variance = _one_day(result, origins)
    if result.convergence_flag == 0 and plausible(variance, float(np.var(r[first : origins[0] + 1]))):
        return variance, result.params.to_numpy(), True
    if previous is None:
        return np.full(len(origins), np.nan), None, False
    return _one_day(model.fix(previous, **window), origins), previous, False


def _one_day(result, origins: np.ndarray) -> np.ndarray:
    fc = result.forecast(horizon=1, start=int(origins[0]), reindex=False, align="origin")
    return fc.variance.to_numpy()[:, 0]


def plausible(variance: np.ndarray, window_variance: float) -> bool:
    """Forecasts a working fit could make: finite, and within 1/1000 to 1000 times the window's variance."""
    inside = (variance > window_variance / 1e3) & (variance < window_variance * 1e3)
    return bool(np.all(np.isfinite(variance)) and np.all(inside))


# ---- the served forecaster ------------------------------------------------------------------------


def fit_final(r: np.ndarray, cfg: Config) -> dict[str, Any]:
    """Fit the served return and volatility models on the whole series; plain numbers, saved as JSON."""
    saved: dict[str, Any] = {"returns": cfg.serve.returns, "volatility": cfg.volatility.serve}
    if cfg.serve.returns == "drift":
        saved["drift"] = float(np.mean(r))
    elif cfg.serve.returns == "mean":
        saved["mean_window"] = cfg.model.mean_window
    elif cfg.serve.returns == "arima":
        saved["arima"] = Arima(cfg.model.arima_order).fit(r, None, (1,)).params
    vc = cfg.volatility
    if vc.serve == "historical":
        saved["historical_window"] = vc.historical_window
    elif vc.serve == "ewma":
        saved["ewma_lambda"] = vc.ewma_lambda
    else:
        fitted = garch_model(r, vc.serve, vc).fit(disp="off", show_warning=False)
        saved["garch"] = {"distribution": vc.distribution, "params": {k: float(v) for k, v in fitted.params.items()}}
    return saved


def history_wanted(cfg: Config) -> int:
    """The prices a request should send for the served models to see every day they use: the mean model
    averages the last `model.mean_window` returns, the historical variance the last `historical_window`;
    the GARCH and EWMA recursions forget where they started well within the `serve.min_history` prices a
    request must send anyway (GJR on the S&P 500: tomorrow's volatility from 60 prices is within 0.1% of
    the one from 2,000)."""
    wanted = [cfg.serve.min_history]
    if cfg.serve.returns == "mean":
        wanted.append(cfg.model.mean_window + 1)  # n returns need n + 1 prices
    if cfg.volatility.serve == "historical":
        wanted.append(cfg.volatility.historical_window + 1)
    return max(wanted)


def forecast_path(r: np.ndarray, saved: dict[str, Any], horizon: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """From daily returns ending today, the next `horizon` days' expected returns and variances
    (percent, percent squared), with the saved models: (horizon,) and (horizon,)."""
    kind = saved["returns"]
    if kind == "naive":
        mean = np.zeros(horizon)
    elif kind == "drift":
        mean = np.full(horizon, saved["drift"])
    elif kind == "mean":
        mean = np.full(horizon, float(np.mean(r[-saved["mean_window"] :])))
    else:  # arima: the saved parameters, run over this history
        order, params = tuple(saved["arima"]["order"]), np.array(saved["arima"]["params"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ARIMA(r, order=order, trend="c").filter(params)
        mean = np.diff(arma_forecasts(r, result.resid, np.array([len(r) - 1]), result, horizon)[0], prepend=0.0)
    vol = saved["volatility"]
    if vol == "historical":
        variance = np.full(horizon, float(np.mean(r[-saved["historical_window"] :] ** 2)))
    elif vol == "ewma":  # the EWMA forecast is flat: tomorrow's variance, every day
        variance = np.full(horizon, float(ewma_variance(pd.Series(r), saved["ewma_lambda"]).iloc[-1]))
    else:
        cfg = VolatilityConfig(distribution=saved["garch"]["distribution"])
        fixed = garch_model(r, vol, cfg).fix(np.array(list(saved["garch"]["params"].values())))  # in arch's order
        # EGARCH has no closed form beyond one day: its path is simulated (seeded, so answers repeat)
        method = "simulation" if vol == "egarch" and horizon > 1 else "analytic"
        fc = fixed.forecast(horizon=horizon, reindex=False, method=method, random_state=np.random.RandomState(seed))
        variance = fc.variance.to_numpy()[-1]
    return mean, variance


# ---- a run's files --------------------------------------------------------------------------------


def save(
    run_dir: Path,
    served: dict[str, Any],
    history: pd.Series,
    returns_forecasts: pd.DataFrame,
    volatility_forecasts: pd.DataFrame,
) -> None:
    """Write a run's model files: the served models' numbers (with the data source and the first scored
    origin), the end of the price series, and every forecast of the walk-forward backtest."""
    runs.write_json(run_dir / "model.json", served)
    history.rename("price").to_csv(run_dir / "history.csv", index_label="date")
    returns_forecasts.to_csv(run_dir / "returns_forecasts.csv", index=False)
    volatility_forecasts.to_csv(run_dir / "volatility_forecasts.csv", index=False)


@dataclass
class SavedRun:
    """A run's model files read back: what evaluate.py and serve.py need."""

    cfg: Config  # the run's config, validated as train validates it
    served: dict[str, Any]  # model.json: the served models (see fit_final), "source", "first_scored_origin"
    history: pd.Series  # the end of the training series' prices: the API forecasts from here by default
    returns: pd.DataFrame  # the scored return forecasts, one row per (origin, horizon, model)
    volatility: pd.DataFrame  # the scored next-day variance forecasts, one row per origin


def load(run: runs.Run) -> SavedRun:
    """Read a run's model files; the warm-up origins (which only start the intervals) are dropped."""
    served = run.read_json("model.json")
    first = pd.Timestamp(served["first_scored_origin"])
    history = pd.read_csv(run.path / "history.csv", index_col="date", parse_dates=["date"])["price"]
    returns = pd.read_csv(run.path / "returns_forecasts.csv", parse_dates=["origin"])
    volatility = pd.read_csv(run.path / "volatility_forecasts.csv", parse_dates=["origin", "date"])
    return SavedRun(
        cfg=from_dict(Config, run.config),
        served=served,
        history=history,
        returns=returns[returns.origin >= first],
        volatility=volatility[volatility.origin >= first],
    )
