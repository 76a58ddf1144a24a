"""Backtest return and volatility forecasts on daily S&P 500 prices, walking forward in time, and save a run.

    $ make train PROJECT=time_series
    $ make examples PROJECT=time_series      # example files: a price CSV, a request body, ...
    $ make train PROJECT=time_series ARGS="--data runs/time_series-examples/prices.csv --set data.price_column=Close"
    $ python -m projects.time_series.train --set backtest.window=rolling --set backtest.refit_every=63
    $ python -m projects.time_series.train --dry-run     # seconds, on a short stretch of the series
    $ python -m projects.time_series.train --set model.returns=naive,drift,mean,linear,boosting,arima,lstm,gru

Steps:
1. load the prices (`data.load`) and turn them into daily log returns (in percent);
2. fit (`fit`): walk forward: at each of the last `test_days` trading days (the origins), every
   model forecasts the next day's and the next week's return, and the next day's variance, from the
   past only; each model is built afresh (`model.build`) and refitted every `refit_every` days (the
   opt-in sequence models lstm and gru every `sequence.refit_every`: each refit trains a network).
   Then the served models are fitted on the whole series;
3. score the forecasts against what happened (evaluate.py adds the tests, intervals and plots);
4. save the run (`model.save`): the forecasts, the served models and the end of the series, and
   `reference.json`, what the training series looked like (the API warns about prices unlike it);
5. print the result against the random walk and the volatility baselines.

In this project the walk-forward backtest is the held-out test: every forecast is made before
its outcome is known, so there is no separate test split to set aside.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlstarter import runs
from mlstarter.metrics import shown
from mlstarter.paths import project_name
from mlstarter.scripts import load_config, run_script, train_parser
from mlstarter.seeding import seed_everything

from . import backtest, data, model
from .config import SEQUENCE_MODELS, Config
from .data import Prices

PROJECT = project_name(__package__)  # the folder name, so a copied project names its own runs

# --dry-run: the same code path on the last ~450 days: 60 scored origins, refits every 30.
DRY_RUN_OVERRIDES = [
    "backtest.test_days=60",
    "backtest.interval_errors=40",
    "backtest.warmup_days=40",
    "backtest.min_train_days=300",
    "backtest.refit_every=30",
    "model.mean_window=100",
    "model.boosting_max_iter=20",
    "sequence.epochs=2",  # only if model.returns lists lstm or gru: two epochs a refit, to check the code path
    "sequence.refit_every=30",
]


@dataclass
class Fitted:
    """What fitting produced: every forecast of the walk-forward backtest, and the served models."""

    returns_forecasts: pd.DataFrame  # one row per (origin, horizon, return model), warm-up origins included
    volatility_forecasts: pd.DataFrame  # one row per origin: every volatility model's next-day variance
    served: dict[str, Any]  # the served models, fitted on the whole series (plain numbers, see model.fit_final)
    seconds: float  # the backtest's wall time
    model_seconds: dict[str, float]  # each return model's share of it: its fits and forecasts


def fit(cfg: Config, prices: Prices, origins: np.ndarray) -> Fitted:
    """The whole fitting step: walk forward through the origins (every model is built afresh with
    `model.build` and refitted every `backtest.refit_every` days, from the past only), then fit the
    served models on the whole series. One thread per fit: the models are small, and threads would
    only fight over the cores."""
    r = prices.returns
    started = time.perf_counter()
    model_seconds: dict[str, float] = {}
    with threadpool_limits(limits=1):
        returns_forecasts = backtest.run_returns(r, cfg, origins, seconds=model_seconds)
        volatility_forecasts = backtest.run_volatility(prices, r, cfg, origins)
        seconds = time.perf_counter() - started
        served = model.fit_final(r.to_numpy(), cfg)
    return Fitted(returns_forecasts, volatility_forecasts, served, seconds, model_seconds)


def main(argv: list[str] | None = None) -> int:
    args = train_parser(__doc__).parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)  # defaults, dry run, --data, --set (which wins); validated
    seed_everything(cfg.seed)

    # 1. Data: prices -> daily log returns in percent; one series, walked through in time (no split).
    dataset = data.load(cfg)
    prices = dataset.prices
    if args.dry_run:
        keep = cfg.backtest.min_train_days + cfg.backtest.warmup_days + cfg.backtest.test_days + 20
        prices = data.last_days(prices, keep, cfg.data)
    r = prices.returns
    origins, warmup = backtest.origins(len(r), cfg)
    scored = r.index[origins[warmup]]  # the first origin that is scored; those before only warm the intervals

    n_scored, dates = len(origins) - warmup, prices.frame.index
    print(f"***** Training {PROJECT}{' (dry run: the last stretch of the series only)' if args.dry_run else ''} *****")
    print(f"  series: {prices.source}: {len(dates):,} prices, {dates[0].date()} to {dates[-1].date()}")
    if prices.gaps:
        print(f"  gaps of more than {cfg.data.max_gap_days} calendar days: {len(prices.gaps)}, e.g. {prices.gaps[0]}")
    bt = cfg.backtest
    if n_scored < bt.test_days:
        print(
            f"  the series is too short for {bt.test_days:,} scored origins (backtest.test_days): scoring {n_scored:,}"
        )
    print(f"  walk-forward: {n_scored:,} scored origins from {scored.date()} (after {warmup} warm-up origins), "
          f"horizons {', '.join(map(str, bt.horizons))} days, {bt.window} window, refit every {bt.refit_every} days")  # fmt: skip
    print(f"  return models: {', '.join(cfg.model.returns)}; volatility models: {', '.join(cfg.volatility.models)}")
    if sequence := [m for m in cfg.model.returns if m in SEQUENCE_MODELS]:
        sc = cfg.sequence
        print(f"  {' and '.join(sequence)}: {sc.length}-day sequences, hidden size {sc.hidden_size}, up to {sc.epochs} "
              f"epochs a refit (batch {sc.batch_size}, device {sc.device}), refit every {sc.refit_every} days")  # fmt: skip

    # 2. Build and fit: the walk-forward backtest (models built afresh at each refit), then the served models.
    fitted = fit(cfg, prices, origins)

    # 3. Scores on the scored origins (evaluate.py adds the significance tests).
    returns_scored = fitted.returns_forecasts[fitted.returns_forecasts.origin >= scored]
    volatility_scored = fitted.volatility_forecasts[fitted.volatility_forecasts.origin >= scored]
    return_scores = backtest.return_scores(returns_scored)
    proxy = "squared_return" if cfg.volatility.proxy == "squared" else "range_variance"
    volatility_scores = backtest.volatility_scores(volatility_scored, cfg.volatility.models, proxy)
    metrics: dict[str, float] = {"backtest_seconds": round(fitted.seconds, 1), "test_origins": n_scored}
    for name, seconds in fitted.model_seconds.items():
        metrics[f"backtest_seconds_{name}"] = round(seconds, 1)  # what each return model costs
    for row in return_scores.itertuples():
        metrics[f"test_h{row.horizon}_{row.model}_mase"] = row.mase
    for row in volatility_scores.itertuples():
        metrics[f"test_{row.model}_qlike"] = row.qlike

    # 4. Save the run: the forecasts, the served models, and the end of the series (with no history in a
    # request, the API forecasts from there).
    with runs.create(PROJECT, cfg, data_files=dataset.files, dry_run=args.dry_run) as run:
        model.save(
            run.dir,
            {**fitted.served, "source": prices.source, "first_scored_origin": str(scored.date())},
            prices.frame["price"].iloc[-cfg.serve.min_history * 5 :],
            fitted.returns_forecasts,
            fitted.volatility_forecasts,
        )
        # what the model learned from: the API warns about prices unlike it, drift monitoring compares with it
        reference = data.reference(prices, cfg.volatility.historical_window, model.history_wanted(cfg))
        runs.write_json(run.dir / "reference.json", reference)
        run.save_metrics(metrics)

    # 5. The result, against the baselines.
    print(f"\nRun saved to {run.path}  (backtest {fitted.seconds:.0f} s)")
    h1 = return_scores[return_scores.horizon == min(bt.horizons)].set_index("model")
    best = h1.mase.drop("naive").idxmin()
    print(
        f"Returns, {min(bt.horizons)} day ahead: the lowest MASE is {shown(h1.mase[best], 4)} ({best}) against the random "
        f"walk's 1 (evaluate tests whether that is more than luck); direction right {h1.direction[best]:.1%} of days, "
        f"always guessing up: {h1.up_share.iloc[0]:.1%}."
    )
    vol = volatility_scores.set_index("model").qlike
    best_vol = vol.idxmin()
    print(
        f"Volatility, next day: {best_vol} QLIKE {shown(vol[best_vol])} vs EWMA {shown(vol['ewma'])} and "
        f"{cfg.volatility.historical_window}-day historical {shown(vol['historical'])} (lower is better)."
    )
    print(f"Next: make evaluate PROJECT={PROJECT}  (significance tests, interval coverage, plots)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
