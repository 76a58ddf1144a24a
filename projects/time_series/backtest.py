"""The walk-forward backtest, and the scores that judge it.

At each origin t (a trading day) every model forecasts from returns up to day t only, and is
scored against what happened after t. Every `refit_every` origins the models are fitted again on
the window that ends at that origin (all the past, or the last `window_days`); between refits they
only take in the new days. The opt-in sequence models (lstm, gru), whose refits train a network,
refit every `sequence.refit_every` origins instead. Features, targets and fits never see a day
after the origin: tests/test_backtest.py changes the future and checks that no earlier forecast moves.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import statsmodels.api as sm
from arch.bootstrap import SPA, StepM
from scipy.stats import binomtest

from mlstarter.datasets import DataError

from . import model
from .config import SEQUENCE_MODELS, Config
from .data import Prices, range_variance

FEATURE_DAYS = 63  # the longest feature window (the 63-day volatility): origins start after it
MIN_SCORED = 250  # fewer scored origins than a trading year cannot tell models apart


def origins(n_returns: int, cfg: Config) -> tuple[np.ndarray, int]:
    """The origins (indices into the returns), and how many of them at the start are warm-up only.

    The last `backtest.test_days` origins are scored; a shorter series scores all it has after
    the first fit and the warm-up, if that is at least MIN_SCORED origins."""
    bt = cfg.backtest
    last = n_returns - 1 - max(bt.horizons)  # the last origin whose every horizon has happened
    needed = max(bt.min_train_days, FEATURE_DAYS + cfg.model.lags, cfg.model.mean_window)
    scored = min(bt.test_days, last - needed - bt.warmup_days + 1)
    least = min(MIN_SCORED, bt.test_days)
    if scored < least:
        raise DataError(
            f"The backtest needs at least {needed + least + bt.warmup_days + max(bt.horizons) + 1:,} prices "
            f"({needed} to fit on first, {bt.warmup_days} warm-up and at least {least} scored origins, "
            f"{max(bt.horizons)} to score the last); the series has {max(n_returns + 1, 0):,}. "
            f"Use a longer history, or lower backtest.min_train_days and backtest.warmup_days."
        )
    first = last - scored - bt.warmup_days + 1
    return np.arange(first, last + 1), bt.warmup_days


def refit_blocks(all_origins: np.ndarray, cfg: Config, every: int | None = None) -> list[tuple[int, np.ndarray]]:
    """(first day of the fitting window, the block's origins): a refit at each block's first origin,
    every `every` origins (default: backtest.refit_every)."""
    bt = cfg.backtest
    every = every or bt.refit_every
    blocks = []
    for start in range(0, len(all_origins), every):
        block = all_origins[start : start + every]
        first = 0 if bt.window == "expanding" else max(0, int(block[0]) + 1 - bt.window_days)
        blocks.append((first, block))
    return blocks


def run_returns(
    r: pd.Series,
    cfg: Config,
    all_origins: np.ndarray,
    progress: Callable[[str], None] = print,
    seconds: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Every return model's forecast at every origin and horizon, in long form: one row per
    (origin, horizon, model) with the forecast, the actual h-day return and the interval.
    The sequence models (lstm, gru) are refitted every `sequence.refit_every` origins, the others every
    `backtest.refit_every`. `seconds`, if given, receives each model's wall time (its fits and forecasts)."""
    values, X = r.to_numpy(), model.features(r, cfg.model.lags).to_numpy()
    horizons = cfg.backtest.horizons
    frames = []
    for name in cfg.model.returns:
        started = time.perf_counter()
        blocks = refit_blocks(all_origins, cfg, cfg.sequence.refit_every if name in SEQUENCE_MODELS else None)
        forecasts = np.concatenate(
            [
                model.build(cfg, name)
                .fit(values[first : block[0] + 1], X[first : block[0] + 1], horizons)
                .forecast_block(values, X, block)
                for first, block in blocks
            ]
        )  # (origins, horizons)
        for j, h in enumerate(horizons):
            actual = model.horizon_sums(values, h)[all_origins]
            lower, upper = interval_from_past_errors(actual - forecasts[:, j], h, cfg)
            frames.append(
                pd.DataFrame(
                    {
                        "origin": r.index[all_origins],
                        "horizon": h,
                        "model": name,
                        "forecast": forecasts[:, j],
                        "actual": actual,
                        "lower": forecasts[:, j] + lower,
                        "upper": forecasts[:, j] + upper,
                    }
                )
            )
        took = time.perf_counter() - started
        if seconds is not None:
            seconds[name] = took
        progress(f"  returns    {name:<10} {len(blocks)} fits, {took:5.1f} s")
    return pd.concat(frames, ignore_index=True)


def interval_from_past_errors(errors: np.ndarray, h: int, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Interval offsets at each origin from the quantiles of the model's own past errors.

    At origin i only errors of origins i - h and before are known (their h days have passed):
    shift by h, then take the quantiles of the last `interval_errors` of them (a rolling,
    split-conformal interval). NaN until 20 errors are known."""
    alpha = 1 - cfg.backtest.interval
    known = pd.Series(errors).shift(h).rolling(cfg.backtest.interval_errors, min_periods=20)
    return known.quantile(alpha / 2).to_numpy(), known.quantile(1 - alpha / 2).to_numpy()


def run_volatility(
    prices: Prices, r: pd.Series, cfg: Config, all_origins: np.ndarray, progress: Callable[[str], None] = print
) -> pd.DataFrame:
    """Every volatility model's forecast of the next day's variance (percent squared) at every origin,
    beside the two measures of what that variance turned out to be."""
    vc = cfg.volatility
    out = pd.DataFrame({"origin": r.index[all_origins], "date": r.index[all_origins + 1]})
    out["squared_return"] = (r**2).to_numpy()[all_origins + 1]
    if prices.has_range:
        out["range_variance"] = range_variance(prices.frame).reindex(r.index).to_numpy()[all_origins + 1]
    values = r.to_numpy()
    for name in vc.models:
        started = time.perf_counter()
        if name == "historical":
            forecast = model.historical_variance(r, vc.historical_window).to_numpy()[all_origins]
        elif name == "ewma":
            forecast = model.ewma_variance(r, vc.ewma_lambda).to_numpy()[all_origins]
        else:
            forecast, failed, params = [], 0, None
            for first, block in refit_blocks(all_origins, cfg):
                variance, params, ok = model.garch_forecasts(values, name, vc, first, block, params)
                forecast.append(variance)
                failed += not ok
            forecast = np.concatenate(forecast)
            if failed:
                progress(f"  volatility {name:<10} {failed} refit(s) failed: the previous fit's parameters were kept")
        out[name] = forecast
        progress(f"  volatility {name:<10} {time.perf_counter() - started:5.1f} s")
    return out


# ---- scores ----------------------------------------------------------------------------------------


def return_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (horizon, model): MASE, RMSE, directional accuracy with its binomial test, coverage."""
    rows = []
    for h, by_h in frame.groupby("horizon"):
        naive_mae = float(np.mean(np.abs(by_h.loc[by_h.model == "naive", "actual"])))  # the random walk forecasts 0
        outcomes = by_h.loc[by_h.model == "naive", "actual"]
        up_share = float(np.mean(outcomes[outcomes != 0] > 0))  # over the days `direction` counts
        for name, m in by_h.groupby("model", sort=False):
            error = m.actual - m.forecast
            rows.append(
                {
                    "horizon": int(h),
                    "model": name,
                    # MASE: MAE over the random walk's MAE on the same days; below 1 beats it
                    "mase": float(np.mean(np.abs(error)) / naive_mae),
                    "rmse": float(np.sqrt(np.mean(error**2))),
                    **direction(m.forecast.to_numpy(), m.actual.to_numpy(), int(h)),
                    "up_share": up_share,  # what "always up" would score on direction
                    "coverage": float(np.mean((m.lower <= m.actual) & (m.actual <= m.upper))),
                    "interval_width": float(np.mean(m.upper - m.lower)),
                    "n": len(m),
                }
            )
    return pd.DataFrame(rows)


def direction(forecast: np.ndarray, actual: np.ndarray, horizon: int = 1) -> dict[str, float]:
    """Share of origins where the forecast got the sign right, and a binomial test's p-value against a
    coin (50%). The test uses every h-th origin only: h-day outcomes of neighbouring days overlap, so
    their hits are not independent trials. A forecast of exactly 0 (the random walk) calls no direction."""
    called = (forecast != 0) & (actual != 0)
    if not called.any():
        return {"direction": float("nan"), "direction_p": float("nan")}
    hit = np.sign(forecast) == np.sign(actual)
    apart = np.zeros(len(called), dtype=bool)
    apart[::horizon] = True  # origins h days apart: outcomes that do not overlap
    trials = called & apart
    n, hits = int(trials.sum()), int(hit[trials].sum())
    p = binomtest(hits, n, 0.5, alternative="greater").pvalue if n else float("nan")
    return {"direction": float(hit[called].mean()), "direction_p": float(p)}


def qlike(proxy: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """QLIKE = sigma^2/h - log(sigma^2/h) - 1 for realised variance sigma^2 and forecast h: 0 when h is
    right, and robust to a noisy sigma^2 (Patton 2011). Days with sigma^2 = 0 (no price change) are NaN."""
    ratio = np.where(proxy > 0, proxy, np.nan) / forecast
    return ratio - np.log(ratio) - 1


def volatility_scores(frame: pd.DataFrame, models: tuple[str, ...], proxy: str) -> pd.DataFrame:
    """One row per model: mean QLIKE and MSE against the proxy, and a Diebold-Mariano test of its QLIKE
    against each baseline (negative difference: the model's loss is lower)."""
    target = frame[proxy].to_numpy()
    losses = {name: qlike(target, frame[name].to_numpy()) for name in models}
    rows = []
    for name in models:
        row = {
            "model": name,
            "qlike": float(np.nanmean(losses[name])),
            "mse": float(np.mean((target - frame[name].to_numpy()) ** 2)),
            "n": int(np.isfinite(losses[name]).sum()),
        }
        for baseline in ("historical", "ewma"):
            if name != baseline:
                test = diebold_mariano(losses[name], losses[baseline])
                row[f"vs_{baseline}"], row[f"vs_{baseline}_p"] = test["difference"], test["p"]
        rows.append(row)
    return pd.DataFrame(rows)


def diebold_mariano(loss: np.ndarray, baseline: np.ndarray, horizon: int = 1) -> dict[str, float]:
    """Diebold-Mariano: is the mean loss difference d = loss - baseline zero? The t statistic uses
    Newey-West (HAC) standard errors, because the differences are autocorrelated (losses are large
    in volatile spells, and h-day forecasts overlap)."""
    d = (loss - baseline)[np.isfinite(loss - baseline)]
    lags = max(horizon - 1, int(4 * (len(d) / 100) ** (2 / 9)))  # the Newey-West rule of thumb
    fit = sm.OLS(d, np.ones(len(d))).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    return {"difference": float(fit.params[0]), "t": float(fit.tvalues[0]), "p": float(fit.pvalues[0])}


def return_loss_tests(frame: pd.DataFrame) -> pd.DataFrame:
    """Diebold-Mariano on squared errors of each model against the random walk, per horizon."""
    rows = []
    for h, by_h in frame.groupby("horizon"):
        naive = by_h[by_h.model == "naive"]
        for name, m in by_h.groupby("model", sort=False):
            if name == "naive":
                continue
            test = diebold_mariano(
                (m.actual - m.forecast).to_numpy() ** 2, (naive.actual - naive.forecast).to_numpy() ** 2, int(h)
            )
            rows.append({"horizon": int(h), "model": name, "mse_vs_naive": test["difference"], "p": test["p"]})
    return pd.DataFrame(rows)


def beats_the_random_walk(frame: pd.DataFrame, cfg: Config, size: float = 0.05) -> pd.DataFrame:
    """One verdict per horizon over all the models at once: does any of them beat the random walk?

    A Diebold-Mariano test of each model, and then a look at the best one, is data snooping: with
    enough models, one wins by luck. Hansen's (2005) test of superior predictive ability (SPA) tests
    the best of them with the search taken into account. Its null hypothesis: no model's expected
    squared error is below the random walk's. Its p-value comes from a stationary block bootstrap of
    the loss differences d_t,k = e^2_t(random walk) - e^2_t(model k), seeded with cfg.seed so it repeats;
    Hansen's "consistent" p-value lies between a lower and an upper bound, reported beside it.
    StepM (Romano and Wolf 2005, with Hansen's studentised statistic) names the models that beat the
    random walk while keeping the chance of naming any wrongly (the familywise error rate) at `size`.
    """
    bt, rows = cfg.backtest, []
    for h, by_h in frame.groupby("horizon"):
        errors = by_h.assign(loss=(by_h.actual - by_h.forecast) ** 2)
        losses = errors.pivot(index="origin", columns="model", values="loss").dropna()  # (origins, models)
        benchmark, models = losses["naive"], losses[[m for m in cfg.model.returns if m != "naive"]]
        if models.empty:  # the random walk alone: nothing to compare
            continue
        spa = SPA(benchmark, models, block_size=bt.spa_block_days, reps=bt.spa_reps, seed=cfg.seed)
        spa.compute()
        stepm = StepM(benchmark, models, size=size, block_size=bt.spa_block_days, reps=bt.spa_reps, seed=cfg.seed)
        stepm.compute()
        p = spa.pvalues
        rows.append(
            {
                "horizon": int(h),
                "spa_p": float(p["consistent"]),
                "spa_p_lower": float(p["lower"]),
                "spa_p_upper": float(p["upper"]),
                "superior": [str(m) for m in stepm.superior_models],  # named by StepM, in config order
                "models": len(models.columns),
            }
        )
    return pd.DataFrame(rows, columns=["horizon", "spa_p", "spa_p_lower", "spa_p_upper", "superior", "models"])
