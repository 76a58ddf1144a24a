"""The price-level trap: an LSTM trained on prices looks perfect, and is no better than "tomorrow = today".

    $ python -m projects.time_series.price_trap
    $ python -m projects.time_series.price_trap --data runs/time_series-examples/prices.csv --set data.price_column=Close
    $ python -m projects.time_series.price_trap --set price_trap.scaling=minmax
    $ python -m projects.time_series.price_trap --dry-run      # seconds, on the last stretch of the series

Popular tutorials feed an LSTM the last N prices and ask it for the next one, then plot its
predictions against the actual prices of the test period: the two lines lie on top of each other.
This module does what a much-copied one does (config.py's `price_trap` section names it), with the
same network as the `lstm` return model (sequence.py), and then looks closer:

1. split the series in time: the first windows train (the last of them validate, for early
   stopping), the last `price_trap.test_share` test;
2. scale each window of `price_trap.length` prices (divided by its first price, minus 1; then
   standardised with the training windows' mean and standard deviation), train the LSTM to predict
   the next price on that scale, and turn its predictions back into prices;
3. score them the way the tutorials do: R^2 of the predicted prices, which looks excellent;
4. score them honestly: the forecast of tomorrow's price P^_t+1 is a forecast of tomorrow's return,
   100 * log(P^_t+1 / P_t), so compare it with the random walk (P^_t+1 = P_t, a return of 0) on the
   same days, like every model in the backtest: MASE and a Diebold-Mariano test;
5. plot the forecast against yesterday's price P_t: it learned to copy it.

Writes runs/<project>-price-trap/: report.md, results.json and plots/{price_vs_actual,copying}.png.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from mlstarter import paths, plots, runs
from mlstarter.datasets import DataError
from mlstarter.metrics import shown
from mlstarter.paths import project_name
from mlstarter.scripts import load_config, run_script, train_parser
from mlstarter.seeding import seed_everything

from . import data
from .backtest import diebold_mariano
from .config import Config
from .sequence import MIN_SEQUENCES, build_network, train_network

PROJECT = project_name(__package__)
DRY_RUN_PRICES = 600  # --dry-run: the last 600 prices, a short network training (below)
DRY_RUN_OVERRIDES = ["sequence.epochs=3", "price_trap.length=20"]
MIN_TEST = 50  # fewer test days than this say nothing about the random walk


@dataclass
class Trap:
    """The trap's test period, one row per forecast day, and how training went."""

    forecasts: pd.DataFrame  # index: the day forecast (t+1); columns: last (P_t), forecast (P^_t+1), actual (P_t+1)
    n_train: int  # training windows (their last `sequence.val_share` validated)
    epochs: int  # epochs trained before early stopping
    best_epoch: int  # the epoch whose weights were kept
    seconds: float  # the network's training time


def scale_of(P: np.ndarray, ends: np.ndarray, length: int, scaling: str, train_prices: np.ndarray):
    """Each window's scale, (a, b) with scaled = (P - a) / b: (n,) and (n,).

    window: a = b = the window's first price, so scaled = P / P_first - 1 (the tutorial's recipe);
    minmax: a = the training prices' minimum, b = their range, the same for every window."""
    if scaling == "window":
        first = P[ends - length + 1]
        return first, first
    low, high = float(train_prices.min()), float(train_prices.max())
    return np.full(len(ends), low), np.full(len(ends), high - low)


def run(prices: pd.Series, cfg: Config) -> Trap:
    """Train the LSTM on price windows and forecast each test day's price from the `length` prices before it."""
    tc, P = cfg.price_trap, prices.to_numpy(dtype=float)
    ends = np.arange(tc.length - 1, len(P) - 1)  # the last day t of each window; its target is P_t+1
    n_test = round(len(ends) * tc.test_share)
    train_ends, test_ends = ends[: len(ends) - n_test], ends[len(ends) - n_test :]
    if len(train_ends) < MIN_SEQUENCES or n_test < MIN_TEST:
        raise DataError(
            f"The price trap needs at least {MIN_SEQUENCES} training and {MIN_TEST} test windows of "
            f"{tc.length} prices; {len(P):,} prices give {len(train_ends)} and {n_test}. Use a longer series, "
            f"or lower price_trap.length."
        )
    train_prices = P[: train_ends[-1] + 2]  # every price a training window holds, its target included
    a, b = scale_of(P, ends, tc.length, tc.scaling, train_prices)
    days = ends[:, None] + np.arange(1 - tc.length, 1)  # (n, length): the days of each window
    inputs = ((P[days] - a[:, None]) / b[:, None])[:, :, None]  # (n, length, 1): one feature, the scaled price
    targets = ((P[ends + 1] - a) / b)[:, None]  # (n, 1): the next price on the same scale
    train, test = slice(0, len(train_ends)), slice(len(train_ends), len(ends))
    # then standardised, z = (x - mean) / sd, with the training windows' statistics only: values of order 1
    mean, sd = float(inputs[train].mean()), float(inputs[train].std())
    inputs, targets = (inputs - mean) / sd, (targets - mean) / sd

    started = time.perf_counter()
    network = build_network(cfg.sequence, "lstm", n_features=1, n_outputs=1, seed=cfg.seed)
    result = train_network(network, inputs[train], targets[train], cfg.sequence, cfg.seed)
    seconds = time.perf_counter() - started
    with torch.no_grad():
        z = network(torch.as_tensor(inputs[test], dtype=torch.float32)).numpy()[:, 0]  # (n test,)
    forecast = (z * sd + mean) * b[test] + a[test]  # back to prices: P^ = (z * sd + mean) * b + a
    frame = pd.DataFrame(
        {"last": P[test_ends], "forecast": forecast, "actual": P[test_ends + 1]},
        index=prices.index[test_ends + 1].rename("date"),
    )
    return Trap(frame, len(train_ends), len(result.history), result.best_epoch, seconds)


def score(forecasts: pd.DataFrame) -> dict[str, float]:
    """The tutorials' score (R^2 on prices) beside the honest one (the same forecasts as returns, against the
    random walk on the same days)."""
    last, forecast, actual = (forecasts[c].to_numpy() for c in ("last", "forecast", "actual"))
    spread = np.sum((actual - actual.mean()) ** 2)
    forecast_return = 100 * np.log(forecast / last)  # what the price forecast says about tomorrow's return, %
    actual_return = 100 * np.log(actual / last)
    error = actual_return - forecast_return  # the random walk forecasts a return of 0: its error is actual_return
    dm = diebold_mariano(error**2, actual_return**2)  # negative difference: the LSTM's squared error is lower
    called = (forecast_return != 0) & (actual_return != 0)
    return {
        "r2_price": float(1 - np.sum((actual - forecast) ** 2) / spread),  # 1 - SSE / SST on price levels
        "r2_price_random_walk": float(1 - np.sum((actual - last) ** 2) / spread),  # the same for P^_t+1 = P_t
        "mase": float(np.mean(np.abs(error)) / np.mean(np.abs(actual_return))),  # below 1 beats the random walk
        "dm_difference": dm["difference"],
        "dm_p": dm["p"],
        "direction": float(np.mean(np.sign(forecast_return[called]) == np.sign(actual_return[called]))),
        "up_share": float(np.mean(actual_return[actual_return != 0] > 0)),  # what "always up" scores on direction
        # how far the forecast strays from yesterday's price, against how far the price itself moves
        "median_forecast_move_pct": float(np.median(np.abs(forecast_return))),
        "median_actual_move_pct": float(np.median(np.abs(actual_return))),
        "correlation_returns": float(np.corrcoef(forecast_return, actual_return)[0, 1]),
        "test_days": len(forecasts),
    }


def copied(scores: dict[str, float]) -> bool:
    """Whether the network learned to copy yesterday's price: a price fit that looks excellent, from forecasts
    that stay nearer yesterday's price than the price itself does."""
    return scores["r2_price"] >= 0.9 and scores["median_forecast_move_pct"] < scores["median_actual_move_pct"]


def plot_price_vs_actual(forecasts: pd.DataFrame, scores: dict[str, float], path: Path) -> None:
    """The tutorials' plot: predicted against actual prices over the test period."""
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    ax.plot(forecasts.index, forecasts.actual, color="black", lw=1.2, label="actual price")
    ax.plot(forecasts.index, forecasts.forecast, color="tab:orange", lw=1, label="LSTM's predicted price")
    ax.set(
        ylabel="price",
        title=f"What the tutorials show: predicted vs actual price over the test period (R² {scores['r2_price']:.3f})",
    )
    ax.legend(loc="upper left")
    plots.save(fig, path)


def plot_copying(forecasts: pd.DataFrame, scores: dict[str, float], path: Path, days: int = 40) -> None:
    """What it learned: the forecast against yesterday's price, a close-up, and the same forecasts as returns."""
    fig = Figure(figsize=(15, 4.5))
    left, middle, right = fig.subplots(1, 3)
    left.scatter(forecasts["last"], forecasts.forecast, s=4, alpha=0.5)
    ends = [forecasts["last"].min(), forecasts["last"].max()]
    left.plot(ends, ends, color="black", lw=0.8, label="forecast = yesterday's price")
    title = "It learned to copy P_t" if copied(scores) else "The forecast against yesterday's price P_t"
    left.set(xlabel="yesterday's price P_t", ylabel="forecast of today's price", title=title)
    left.legend(loc="upper left")

    recent = forecasts.tail(days)
    middle.plot(recent.index, recent.actual, color="black", marker="o", ms=3, lw=1, label="actual price")
    middle.plot(recent.index, recent.forecast, color="tab:orange", marker="o", ms=3, lw=1, label="forecast")
    middle.plot(recent.index, recent["last"], color="tab:blue", ls="--", lw=1, label="yesterday's price")
    trails = "the forecast trails the price by a day" if copied(scores) else "forecast, price and yesterday's price"
    middle.set(title=f"The last {days} days: {trails}", ylabel="price")
    middle.tick_params(axis="x", labelrotation=30)
    middle.legend(fontsize=8)

    forecast_return = 100 * np.log(forecasts.forecast / forecasts["last"])
    actual_return = 100 * np.log(forecasts.actual / forecasts["last"])
    right.scatter(forecast_return, actual_return, s=4, alpha=0.5)
    right.axhline(0, color="black", lw=0.6)
    right.axvline(0, color="black", lw=0.6)
    right.set(
        xlabel="forecast return, log(P^_t+1 / P_t), %",
        ylabel="actual return, %",
        title=f"As returns: MASE {shown(scores['mase'])} against the random walk's 1",
    )
    plots.save(fig, path)


def report(trap: Trap, scores: dict[str, float], cfg: Config, source: str) -> str:
    """The Markdown report: what was done, the two scores side by side, the plots."""
    f, tc, sc = trap.forecasts, cfg.price_trap, cfg.sequence
    dm = "p < 0.001" if scores["dm_p"] < 0.001 else f"p = {shown(scores['dm_p'])}"
    side = "higher" if scores["dm_difference"] > 0 else "lower"
    if scores["r2_price"] >= 0.9:
        looks = (
            f"The plot the tutorials show: the two lines lie on each other, R² {scores['r2_price']:.3f}. But the "
            f"random walk, which knows nothing, scores {scores['r2_price_random_walk']:.3f}: a price is close to yesterday's, "
            "so any forecast close to yesterday's price explains nearly all of the price's swings over months."
        )
    else:
        looks = (
            f"Here not even the price plot looks good (R² {scores['r2_price']:.3f}, the random walk's "
            f"{scores['r2_price_random_walk']:.3f}): "
            + (
                "scaled by the training prices' minimum and maximum, prices above that maximum are beyond what the "
                "network learned to output."
                if tc.scaling == "minmax"
                else f"{trap.epochs} epochs were too few for the network to learn even to copy: raise sequence.epochs."
            )
        )
    copies = (
        "it stays nearer yesterday's price than the price itself does, so its line trails the actual one by a day "
        "(middle)."
        if scores["median_forecast_move_pct"] < scores["median_actual_move_pct"]
        else "it strays from yesterday's price more than the price itself does (middle)."
    )
    if scores["dm_difference"] < 0 and scores["dm_p"] < 0.05:
        verdict = "beats it, significantly"
    else:
        verdict = "loses" if scores["dm_difference"] > 0 else "does not beat it significantly"
    return f"""# The price-level trap

Series: {source}. Test period: {f.index[0].date()} to {f.index[-1].date()}, {len(f):,} days (the last
{tc.test_share:.0%} of the windows); {trap.n_train:,} training windows before it, the last {sc.val_share:.0%} of them
for early stopping. The network: the `lstm` return model's ({sc.hidden_size} hidden units, {sc.layers} layer(s)),
reading {tc.length} prices scaled by `{tc.scaling}`; {trap.epochs} epochs, the weights of epoch
{trap.best_epoch} kept; {trap.seconds:.0f} s to train.

| score | LSTM on prices | random walk (tomorrow = today) |
|---|---|---|
| R² of the predicted price | {scores["r2_price"]:.4f} | {scores["r2_price_random_walk"]:.4f} |
| MASE of the implied return, 100 log(P^_t+1 / P_t) | {shown(scores["mase"])} | 1 |
| mean squared return error against the random walk's (Diebold-Mariano) | {side}, {dm} | - |
| direction of the implied return (always guessing up: {scores["up_share"]:.1%}) | {scores["direction"]:.1%} | - |
| median size of the move forecast / of the actual move | {scores["median_forecast_move_pct"]:.2f}% / {scores["median_actual_move_pct"]:.2f}% | 0% |

![predicted vs actual price](plots/price_vs_actual.png)

{looks}

![the forecast against yesterday's price](plots/copying.png)

What the network learned (left): on a typical day its forecast is {scores["median_forecast_move_pct"]:.2f}% away
from yesterday's price, while the price itself moved {scores["median_actual_move_pct"]:.2f}%: {copies}
As a forecast of tomorrow's *change*, the one thing a forecast is worth having for, it is
{"noise" if abs(scores["correlation_returns"]) < 0.1 else "a weak signal at best"} (right; correlation with the actual
return {scores["correlation_returns"]:.3f}), and on the random walk's own terms it {verdict}: MASE
{shown(scores["mase"])}. Forecast returns, not prices, and score them against the random walk.
"""


def main(argv: list[str] | None = None) -> int:
    args = train_parser(__doc__).parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)  # defaults, dry run, --data, --set (which wins); validated
    seed_everything(cfg.seed)
    prices = data.load(cfg).prices
    if args.dry_run:
        prices = data.last_days(prices, DRY_RUN_PRICES, cfg.data)
    series = prices.frame["price"]
    print(f"***** The price-level trap: {PROJECT}{' (dry run)' if args.dry_run else ''} *****")
    print(f"  series: {prices.source}: {len(series):,} prices, {series.index[0].date()} to {series.index[-1].date()}")
    print(f"  LSTM on windows of {cfg.price_trap.length} prices ({cfg.price_trap.scaling} scaling), the last "
          f"{cfg.price_trap.test_share:.0%} of them to test; up to {cfg.sequence.epochs} epochs")  # fmt: skip

    trap = run(series, cfg)
    scores = score(trap.forecasts)

    folder = paths.runs_dir() / f"{PROJECT}-price-trap"
    plot_price_vs_actual(trap.forecasts, scores, folder / "plots" / "price_vs_actual.png")
    plot_copying(trap.forecasts, scores, folder / "plots" / "copying.png")
    runs.write_json(
        folder / "results.json",
        {
            "source": prices.source,
            "dry_run": args.dry_run,
            "first": str(trap.forecasts.index[0].date()),
            "last": str(trap.forecasts.index[-1].date()),
            "train_windows": trap.n_train,
            "epochs": trap.epochs,
            "best_epoch": trap.best_epoch,
            "train_seconds": round(trap.seconds, 1),
            "price_trap": vars(cfg.price_trap),
            "scores": scores,
        },
    )
    runs.write_text(folder / "report.md", report(trap, scores, cfg, prices.source))
    dm = "p < 0.001" if scores["dm_p"] < 0.001 else f"p = {shown(scores['dm_p'])}"
    print(
        f"The LSTM on prices scores R² {scores['r2_price']:.3f} on the test prices (the random walk: "
        f"{scores['r2_price_random_walk']:.3f}); as a return forecast its MASE is {shown(scores['mase'])} against "
        f"the random walk's 1 (squared errors {'higher' if scores['dm_difference'] > 0 else 'lower'}, "
        f"Diebold-Mariano {dm})" + (": it learned to copy yesterday's price." if copied(scores) else ".")
    )
    print(f"Report and plots: {paths.shown(folder / 'report.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
