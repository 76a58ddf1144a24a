"""Backtest return and volatility forecasts on daily S&P 500 prices, walking forward in time, and save a run.

    $ make train PROJECT=time_series
    $ make train PROJECT=time_series ARGS="--data prices.csv --set data.price_column=Close"
    $ python -m projects.time_series.train --set backtest.window=rolling --set backtest.refit_every=63
    $ python -m projects.time_series.train --dry-run     # seconds, on a short stretch of the series

Steps:
1. load the prices and turn them into daily log returns (in percent);
2. walk forward: at each of the last `test_days` trading days (the origins), every model forecasts
   the next day's and the next week's return, and the next day's variance, from the past only;
   the models are refitted every `refit_every` days;
3. score the forecasts against what happened (evaluate.py adds the tests, intervals and plots);
4. fit the served models on the whole series and save the run.

In this project the walk-forward backtest is the held-out test: every forecast is made before
its outcome is known, so there is no separate test split to set aside.
"""

from __future__ import annotations

import time

from threadpoolctl import threadpool_limits

from mlstarter import datasets, runs
from mlstarter.config import to_dict
from mlstarter.paths import project_name
from mlstarter.scripts import load_config, run_script, train_parser
from mlstarter.seeding import seed_everything

from . import backtest, data, model
from .config import Config

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
]


def main(argv: list[str] | None = None) -> int:
    args = train_parser(__doc__).parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)  # defaults, dry run, --data, --set (which wins)
    cfg.check()
    seed_everything(cfg.seed)

    # 1. Data: prices -> daily log returns in percent.
    prices = data.load(cfg.data)
    if args.dry_run:
        keep = cfg.backtest.min_train_days + cfg.backtest.warmup_days + cfg.backtest.test_days + 20
        prices = data.last_days(prices, keep, cfg.data)
    if cfg.volatility.proxy == "range" and not prices.has_range:
        raise datasets.DataError(
            f"volatility.proxy=range needs daily high and low prices; {prices.path.name} has no "
            f"{cfg.data.high_column!r} and {cfg.data.low_column!r} columns. Use --set volatility.proxy=squared."
        )
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

    # 2. Walk forward. One thread per fit: the models are small, and threads would only fight over 2 cores.
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        returns_forecasts = backtest.run_returns(r, cfg, origins)
        volatility_forecasts = backtest.run_volatility(prices, r, cfg, origins)
    seconds = time.perf_counter() - started

    # 3. Scores on the scored origins.
    returns_scored = returns_forecasts[returns_forecasts.origin >= scored]
    volatility_scored = volatility_forecasts[volatility_forecasts.origin >= scored]
    return_scores = backtest.return_scores(returns_scored)
    proxy = "squared_return" if cfg.volatility.proxy == "squared" else "range_variance"
    volatility_scores = backtest.volatility_scores(volatility_scored, cfg.volatility.models, proxy)
    metrics: dict[str, float] = {"backtest_seconds": round(seconds, 1), "test_origins": n_scored}
    for row in return_scores.itertuples():
        metrics[f"test_h{row.horizon}_{row.model}_mase"] = row.mase
    for row in volatility_scores.itertuples():
        metrics[f"test_{row.model}_qlike"] = row.qlike

    # 4. The served models, fitted on the whole series, and the run.
    with threadpool_limits(limits=1):
        served = model.fit_final(r.to_numpy(), cfg)
    with runs.new_run(PROJECT) as run:
        returns_forecasts.to_csv(run.dir / "returns_forecasts.csv", index=False)
        volatility_forecasts.to_csv(run.dir / "volatility_forecasts.csv", index=False)
        # the end of the series: with no history in a request, the API forecasts from here
        prices.frame[["price"]].iloc[-cfg.serve.min_history * 5 :].to_csv(run.dir / "history.csv")
        runs.write_json(
            run.dir / "model.json", {**served, "source": prices.source, "first_scored_origin": str(scored.date())}
        )
        runs.write_json(run.dir / "metrics.json", metrics)
        runs.write_json(
            run.dir / "environment.json",
            runs.environment(
                seed=cfg.seed,
                dataset_checksums=datasets.checksums({prices.path.name: prices.path}),
                dry_run=args.dry_run,
            ),
        )
        runs.write_json(run.dir / "config.json", to_dict(cfg))

    print(f"\nRun saved to {run.path}  (backtest {seconds:.0f} s)")
    h1 = return_scores[return_scores.horizon == min(bt.horizons)].set_index("model")
    best = h1.mase.drop("naive").idxmin()
    print(
        f"Returns, {min(bt.horizons)} day ahead: the lowest MASE is {h1.mase[best]:.4f} ({best}) against the random "
        f"walk's 1 (evaluate tests whether that is more than luck); direction right {h1.direction[best]:.1%} of days, "
        f"always guessing up: {h1.up_share.iloc[0]:.1%}."
    )
    vol = volatility_scores.set_index("model").qlike
    best_vol = vol.idxmin()
    print(
        f"Volatility, next day: {best_vol} QLIKE {vol[best_vol]:.3f} vs EWMA {vol['ewma']:.3f} and "
        f"{cfg.volatility.historical_window}-day historical {vol['historical']:.3f} (lower is better)."
    )
    print(f"Next: make evaluate PROJECT={PROJECT}  (significance tests, interval coverage, plots)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
