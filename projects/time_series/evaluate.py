"""Judge a run's walk-forward forecasts honestly: scores, significance tests, interval coverage, plots.

    $ make evaluate PROJECT=time_series [RUN=<run id>]
    $ python -m projects.time_series.evaluate [--run <run id>]

Every forecast in the run was made before its outcome was known (train.py's walk-forward), so
all of them are out of sample. For returns: MASE and RMSE against the random walk, a
Diebold-Mariano test of each model's squared errors against it, directional accuracy with a
binomial test against a coin, and the coverage of the 90% prediction intervals; then one verdict
over all the models at once, which allows for having picked the best of several (Hansen's SPA
test, and StepM to name the models that beat the random walk). For volatility:
QLIKE and MSE against the squared return (and the high-low range), with Diebold-Mariano tests
against the historical and EWMA baselines. Writes test_* metrics into metrics.json,
plots/*.png and MODEL_CARD.md into the run folder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import norm

from mlstarter import model_card, plots, runs
from mlstarter.metrics import shown
from mlstarter.paths import project_name
from mlstarter.scripts import evaluate_parser, run_script

from . import backtest, model
from .config import SEQUENCE_MODELS, Config

PROJECT = project_name(__package__)
SIGNIFICANT = 0.05  # the p-value below which we call a difference real
# make promote refuses (without --force) a run worse than the promoted one in either of these test metrics:
# the served volatility model's QLIKE, and how far the served intervals' coverage is from its nominal level
PROMOTE_ON = {"test_served_qlike": "lower", "test_served_coverage_error": "lower"}


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {shown(p)}"


def return_table(returns: pd.DataFrame) -> pd.DataFrame:
    """Scores per (horizon, model), with the Diebold-Mariano p-value against the random walk."""
    scores = backtest.return_scores(returns)
    tests = backtest.return_loss_tests(returns).rename(columns={"p": "dm_p"})
    return scores.merge(tests, on=["horizon", "model"], how="left")


def served_interval_coverage(returns: pd.DataFrame, volatility: pd.DataFrame, cfg: Config) -> float:
    """Coverage of the intervals the API serves, one day ahead: the served return forecast
    +- z * the served volatility model's forecast standard deviation."""
    one_day = returns[(returns.horizon == 1) & (returns.model == cfg.serve.returns)].set_index("origin")
    sigma = np.sqrt(volatility.set_index("origin")[cfg.volatility.serve]).reindex(one_day.index)
    z = norm.ppf(0.5 + cfg.backtest.interval / 2)
    inside = (one_day.actual - one_day.forecast).abs() <= z * sigma
    return float(inside.mean())


def verdicts(table: pd.DataFrame, vol: pd.DataFrame, spa: pd.DataFrame, cfg: Config) -> list[str]:
    """The results in plain words, with their significance."""
    lines, spa = [], spa.set_index("horizon")
    for h, by_h in table.groupby("horizon"):
        models = by_h[by_h.model != "naive"]
        better = models[(models.mase < 1) & (models.dm_p < SIGNIFICANT) & (models.mse_vs_naive < 0)]
        if better.empty:
            lines.append(
                f"{h}-day returns: no model beats the random walk. Lowest MASE {shown(models.mase.min(), 4)} "
                f"({models.loc[models.mase.idxmin(), 'model']}); no squared-error difference from it is "
                f"significant below p = {SIGNIFICANT} in favour of the model."
            )
        else:
            names = ", ".join(f"{m.model} (MASE {shown(m.mase)}, {p_text(m.dm_p)})" for m in better.itertuples())
            lines.append(f"{h}-day returns: beating the random walk, significantly: {names}.")
        if h in spa.index:
            v = spa.loc[h]
            named = ", ".join(v.superior) if v.superior else "no model"
            lines.append(
                f"{h}-day returns, all {v.models} models at once (Hansen's SPA test, which allows for picking the best "
                f"of them): {p_text(v.spa_p)} (bounds {shown(v.spa_p_lower)} to {shown(v.spa_p_upper)}) against 'no model beats "
                f"the random walk'; StepM, with a {SIGNIFICANT:.0%} chance of naming any model wrongly, names {named}."
            )
        best_dir = models.loc[models.direction.idxmax()]
        lines.append(
            f"{h}-day direction: best {best_dir.model} {best_dir.direction:.1%} right (binomial "
            f"{p_text(best_dir.direction_p)} against a coin), while always guessing 'up' scored {best_dir.up_share:.1%}."
        )
    vol = vol.set_index("model")
    garch_like = [m for m in vol.index if m not in ("historical", "ewma")]
    for name in garch_like:
        beats = all(
            vol.loc[name, f"vs_{b}"] < 0 and vol.loc[name, f"vs_{b}_p"] < SIGNIFICANT for b in ("historical", "ewma")
        )
        lines.append(
            f"Volatility: {name} QLIKE {shown(vol.loc[name, 'qlike'])} vs EWMA {shown(vol.loc['ewma', 'qlike'])} "
            f"({p_text(vol.loc[name, 'vs_ewma_p'])}) and historical {shown(vol.loc['historical', 'qlike'])} "
            f"({p_text(vol.loc[name, 'vs_historical_p'])}): "
            + ("better than both, significantly." if beats else "not significantly better than both.")
        )
    return lines


def plot_forecasts(returns: pd.DataFrame, volatility: pd.DataFrame, cfg: Config, path, days: int = 250) -> None:
    """The last year of one-day-ahead forecasts, the actual returns and both kinds of 90% interval."""
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    one_day = returns[returns.horizon == 1]
    served = one_day[one_day.model == cfg.serve.returns].tail(days)
    level = f"{cfg.backtest.interval:.0%}"
    ax.fill_between(served.origin, served.lower, served.upper, alpha=0.25, label=f"{level} interval from past errors")
    sigma = np.sqrt(volatility.set_index("origin")[cfg.volatility.serve].reindex(served.origin).to_numpy())
    z = norm.ppf(0.5 + cfg.backtest.interval / 2)
    for sign in (-1, 1):
        ax.plot(served.origin, served.forecast + sign * z * sigma, color="tab:purple", lw=0.8, ls="--",
                label=f"{level} interval from {cfg.volatility.serve} (served)" if sign == 1 else None)  # fmt: skip
    ax.scatter(served.origin, served.actual, s=6, color="black", label="actual next-day return")
    for name in dict.fromkeys([cfg.serve.returns, "linear", "arima"]):
        m = one_day[one_day.model == name].tail(days)
        if len(m):
            ax.plot(m.origin, m.forecast, lw=1.2, label=f"{name} forecast")
    ax.set(ylabel="log return, %", title="One day ahead: forecasts against what happened (last year of the backtest)")
    ax.legend(loc="lower left", fontsize=8, ncol=3)
    plots.save(fig, path)


def plot_cumulative_error(returns: pd.DataFrame, path) -> None:
    """Cumulative squared error of the random walk minus each model's: rising = the model is ahead."""
    fig = Figure(figsize=(10, 4 * returns.horizon.nunique()))
    axes = np.atleast_1d(fig.subplots(returns.horizon.nunique(), 1))
    for ax, (h, by_h) in zip(axes, returns.groupby("horizon"), strict=True):
        naive = by_h[by_h.model == "naive"].set_index("origin")
        for name, m in by_h.groupby("model", sort=False):
            if name == "naive":
                continue
            m = m.set_index("origin")
            gain = ((naive.actual - naive.forecast) ** 2 - (m.actual - m.forecast) ** 2).cumsum()
            ax.plot(gain.index, gain, lw=1, label=name)
        ax.axhline(0, color="black", lw=0.8)
        ax.set(
            ylabel="cumulative SE(random walk) - SE(model)",
            title=f"{h} day(s) ahead: above 0 = ahead of the random walk",
        )
        ax.legend(fontsize=8, ncol=3)
    plots.save(fig, path)


def plot_volatility(volatility: pd.DataFrame, cfg: Config, path) -> None:
    """Annualised volatility: the forecasts against a realised measure (a 5-day average, for a readable line)."""
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    proxy = "range_variance" if "range_variance" in volatility else "squared_return"
    realised = np.sqrt(252 * volatility[proxy].rolling(5, min_periods=1).mean())
    ax.plot(volatility.date, realised, color="0.6", lw=0.8, label=f"realised ({proxy.replace('_', ' ')}, 5-day mean)")
    for name in dict.fromkeys(["historical", "ewma", cfg.volatility.serve]):
        ax.plot(volatility.date, np.sqrt(252 * volatility[name]), lw=1, label=f"{name} forecast")
    ax.set(ylabel="annualised volatility, %", title="Next-day volatility: forecasts against realised")
    ax.legend(fontsize=8)
    plots.save(fig, path)


def sequence_note(cfg: Config) -> str:
    """What the model card says about the opt-in sequence models, when the run has them."""
    sequence = [m for m in cfg.model.returns if m in SEQUENCE_MODELS]
    if not sequence:
        return ""
    sc = cfg.sequence
    return (
        f" ({' and '.join(sequence)}: every {sc.refit_every} days, each refit a network trained on {sc.length}-day "
        f"sequences with early stopping on the window's last {sc.val_share:.0%})"
    )


def main(argv: list[str] | None = None) -> int:
    args = evaluate_parser(__doc__).parse_args(argv)
    run = runs.latest_run(PROJECT, args.run)
    saved = model.load(run)
    cfg, returns, volatility = saved.cfg, saved.returns, saved.volatility

    table = return_table(returns)
    spa = backtest.beats_the_random_walk(returns, cfg, size=SIGNIFICANT)
    proxies = ["squared_return"] + (["range_variance"] if "range_variance" in volatility else [])
    vol_tables = {p: backtest.volatility_scores(volatility, cfg.volatility.models, p) for p in proxies}
    main_proxy = "squared_return" if cfg.volatility.proxy == "squared" else "range_variance"
    coverage = served_interval_coverage(returns, volatility, cfg)
    said = verdicts(table, vol_tables[main_proxy], spa, cfg)

    metrics: dict[str, float] = {
        "test_served_interval_coverage": coverage,
        "test_served_coverage_error": round(abs(coverage - cfg.backtest.interval), 4),  # 0.91 for 0.9 nominal: 0.01
        "test_served_qlike": float(vol_tables[main_proxy].set_index("model").qlike[cfg.volatility.serve]),
    }
    for row in table.itertuples():
        for key in ("mase", "rmse", "direction", "direction_p", "coverage", "dm_p"):
            if np.isfinite(getattr(row, key)):  # the random walk has no test or direction against itself: left out
                metrics[f"test_h{row.horizon}_{row.model}_{key}"] = getattr(row, key)
    for row in spa.itertuples():
        for key in ("spa_p", "spa_p_lower", "spa_p_upper"):
            metrics[f"test_h{row.horizon}_{key}"] = getattr(row, key)
        metrics[f"test_h{row.horizon}_stepm_superior"] = len(row.superior)  # how many models StepM names
    for proxy, vt in vol_tables.items():
        suffix = "" if proxy == main_proxy else f"_{proxy}"
        for row in vt.itertuples():
            metrics[f"test_{row.model}_qlike{suffix}"] = row.qlike
            metrics[f"test_{row.model}_mse{suffix}"] = row.mse
    runs.update_json(run.path / "metrics.json", metrics)

    plot_forecasts(returns, volatility, cfg, run.path / "plots" / "forecast_vs_actual.png")
    plot_cumulative_error(returns, run.path / "plots" / "cumulative_error.png")
    plot_volatility(volatility, cfg, run.path / "plots" / "volatility.png")

    first, last = returns.origin.min().date(), returns.origin.max().date()
    columns = ["horizon", "model", "mase", "rmse", "dm_p", "direction", "direction_p", "coverage"]
    card = model_card.render(
        f"{PROJECT} (run {run.run_id})",
        {
            "What it forecasts": (
                f"Daily log returns (percent) of the {saved.served['source']} series, "
                f"{', '.join(map(str, cfg.backtest.horizons))} trading day(s) ahead, and the next day's variance. "
                f"The API serves the {cfg.serve.returns} return forecast with {cfg.volatility.serve} volatility intervals."
            ),
            "How it was tested": (
                f"Walk-forward backtest, {len(returns[returns.horizon == min(cfg.backtest.horizons)]) // len(cfg.model.returns):,} "
                f"origins from {first} to {last}, {cfg.backtest.window} window, refits every {cfg.backtest.refit_every} days"
                + sequence_note(cfg)
                + "; each forecast from the past only. MASE = MAE / MAE of the random walk on the same days (1 = no better). "
                "dm_p: Diebold-Mariano p-value of the squared-error difference against the random walk. "
                "direction_p: one-sided binomial test against 50%. "
                "SPA: Hansen's test of superior predictive ability over all the models at once, against the random "
                f"walk (stationary block bootstrap, mean block {cfg.backtest.spa_block_days} days, "
                f"{cfg.backtest.spa_reps} resamples, seed {cfg.seed}); StepM names the models that beat it."
            ),
            "Results in words": "\n".join(f"- {line}" for line in said),
            "Returns": model_card.table(table[columns].astype(object).fillna("-").to_dict("records")),
            "Returns, all models at once (SPA and StepM)": model_card.table(
                [
                    {
                        "horizon": row.horizon,
                        "models": row.models,
                        "spa_p": row.spa_p,
                        "spa_p_lower": row.spa_p_lower,
                        "spa_p_upper": row.spa_p_upper,
                        "beat the random walk (StepM)": ", ".join(row.superior) or "none",
                    }
                    for row in spa.itertuples()
                ]
            ),
            "Volatility (QLIKE, lower is better)": "\n\n".join(
                f"Against {p.replace('_', ' ')}:\n\n"
                + model_card.table(
                    vt[["model", "qlike", "mse", "vs_ewma_p", "vs_historical_p"]]
                    .astype(object)
                    .fillna("-")
                    .to_dict("records")
                )
                for p, vt in vol_tables.items()
            ),
            "Intervals": (
                f"Nominal {cfg.backtest.interval:.0%}. Backtest intervals (quantiles of each model's last "
                f"{cfg.backtest.interval_errors} known errors) cover as in the table above; the served intervals "
                f"({cfg.serve.returns} +- z x {cfg.volatility.serve} volatility) covered {coverage:.1%} of one-day outcomes."
            ),
            "Limits": (
                "A forecast of an index's returns is close to a coin toss: do not trade on it. The volatility model is "
                "fitted to one index in one period; a new regime (a crash, a policy change) moves its parameters. "
                "Daily data only; holidays are not in the forecast dates. Not investment advice."
            ),
        },
    )
    runs.write_text(run.path / "MODEL_CARD.md", card)

    print(f"Evaluated run {run.run_id}: {first} to {last}, out of sample.")
    print(table[columns].to_string(index=False, float_format=shown))  # 0.9996 as "> 0.999", never "1.000"
    print(vol_tables[main_proxy].to_string(index=False, float_format=shown))
    print("\n".join(said))
    print(f"Served one-day intervals covered {coverage:.1%} (nominal {cfg.backtest.interval:.0%}).")
    print(f"Model card: {run.path / 'MODEL_CARD.md'}; plots in {run.path / 'plots'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
