"""Is the market the served model forecasts still like the one it learned from, and do its intervals hold?

    $ make monitor PROJECT=time_series [SINCE=7d]
    $ make monitor PROJECT=time_series ARGS="--prices actual.csv"      # with the prices that have arrived since
    $ python -m projects.time_series.monitor --prices prices.csv --set data.price_column=Close [--since 2026-11-30]

Reads the prediction log that `make serve` writes (runs/time_series-monitoring/predictions.db) and
compares the requests' prices with the run's reference.json (its training series):
1. the volatility regime: the annualised 21-day volatility at the end of each sent history against the
   training series' own on every day (the Population Stability Index over its deciles: < 0.1 stable,
   0.1-0.25 watch, > 0.25 act; with a KS test);
2. the returns' spread: the share of the sent histories' last 21 daily returns beyond the training
   returns' 5% and 95% quantiles, 10% in training (PSI over the two outcomes; binomial test);
3. with --prices (a daily price CSV, read as training reads one), the realised coverage of the served
   intervals: each logged forecast is found in the file by its last date and price, and each day ahead
   by its trading day after that date; the share of one-day-ahead outcomes inside their interval is held
   against the nominal level (90%) with a binomial test, in the zones the Basel Committee uses to
   backtest banks' value at risk. Without --prices the report says that coverage needs them.
Requests that sent no prices (forecasts from the training series' end) are left out of 1 and 2: what they
show is the training series itself. Writes runs/time_series-monitoring/report/ (report.md, report.json,
plots/drift.png); the exit status is 3 at "act", so a scheduled job can gate on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mlstarter import monitoring, paths
from mlstarter.config import ConfigError, from_dict, with_overrides
from mlstarter.monitoring import ACT, STABLE, WATCH, Check, numeric_check, rate_check
from mlstarter.runs import Run

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
# The Basel Committee's (1996) traffic light for backtesting value at risk, on the cumulative binomial
# probability of seeing at most this many misses if the intervals hold their nominal level: below 95% green,
# from 95% yellow (watch), from 99.99% red (act). For 250 days of 99% VaR: 0-4 misses green, 5-9 yellow, 10+ red.
YELLOW, RED = 0.95, 0.9999
PRICE_TOLERANCE = 0.005  # a logged last price within 0.5% of the file's price that day: the same series


def checks(run: Run, log: pd.DataFrame, args: argparse.Namespace) -> tuple[list[Check], list[str]]:
    """Compare the logged requests (`input.<summary>` columns) with the training series; with --prices, the
    served intervals (`output.lower`, `output.upper`) with what happened."""
    seen = run.reference
    if seen is None or "sample" not in seen.get("volatility", {}):
        raise paths.ProjectError(f"run {run.run_id} has no reference to monitor against: train a new run "
                                 f"(make train PROJECT={PROJECT})")  # fmt: skip
    found, notes = [], []
    sent = log[log["input.history_prices"] > 0]  # the rest forecast from the training series' own end
    if len(sent) < len(log):
        notes.append(f"{len(log) - len(sent):,} of {len(log):,} forecasts sent no prices (they start from the "
                     f"training series' end, {seen['last_date']}): the volatility checks compare the {len(sent):,} "
                     "that did.")  # fmt: skip
    # 1. The volatility regime: the sent histories' recent volatility against the training series' on every day
    window = seen["volatility"]["window_days"]
    found.append(numeric_check(f"volatility ({window}-day, % a year)", seen["volatility"]["sample"],
                               sent["input.volatility_pct"]))  # fmt: skip
    # 2. The returns' spread: how many of the last `window` days' moves were large ones (beyond the 5%/95% quantiles)
    days, large = int(sent["input.window_returns"].sum()), int(sent["input.large_moves"].sum())
    expected = seen["returns"]["large_move_share"]
    spread = rate_check("large daily moves", expected, large, days)
    if spread.value is not None:
        low, high = (seen["returns"]["quantiles"][q] for q in data.TAILS)
        spread.detail = (f"{large / days:.1%} of the last {window} daily returns of the sent histories, {days:,} in "
                         f"all, fell beyond training's 5% and 95% quantiles, {low:+.2f}% and {high:+.2f}%, against "
                         f"{expected:.1%} in training; PSI {spread.value:.3f}")  # fmt: skip
    found.append(spread)
    # 3. Coverage of the served intervals, once the prices have arrived
    if args.prices is None:
        notes.append(f"Coverage of the served intervals needs the prices that have arrived since the forecasts: "
                     f"make monitor PROJECT={PROJECT} ARGS=\"--prices actual.csv\" (a daily price CSV as training "
                     "reads one; --set data.price_column=Close for another column).")  # fmt: skip
    else:
        check, note = coverage(run, log, args)
        found.append(check)
        notes.append(note)
    return found, notes


def read_prices(run: Run, args: argparse.Namespace) -> pd.Series:
    """The --prices file, read as training reads a --data file: the run's date and price columns and
    separator, or those --set names (data.* keys only)."""
    other = [o for o in args.overrides if not o.strip().startswith("data.")]
    if other:
        raise ConfigError(f"--set {other[0]!r}: make monitor's --set says how to read --prices, so it takes "
                          "data.* keys only, e.g. --set data.price_column=Close")  # fmt: skip
    cfg = with_overrides(from_dict(Config, run.config), args.overrides)
    return data.read_csv(Path(args.prices).expanduser(), cfg.data).frame["price"]


def outcomes(log: pd.DataFrame, actual: pd.Series) -> tuple[pd.DataFrame, dict[str, int]]:
    """Each logged interval whose outcome is in `actual` (prices by date): one row per (forecast, day ahead),
    with `last_date`, `day`, `lower`, `upper`, `outcome` and `held`; identical intervals (the same forecast
    asked for twice) count once. Day k is the k-th trading day after the last date in `actual`, the day the
    model forecast (the served dates are business days, and a holiday has no price). Also how many forecasts
    could not be matched: last date not in the file, or a last price unlike the file's (another series)."""
    forecasts = log[["input.last_date", "input.last_price", "output.lower", "output.upper"]].copy()
    forecasts.columns = ["last_date", "last_price", "lower", "upper"]
    at = actual.index.get_indexer(pd.to_datetime(forecasts["last_date"]))  # -1: not a date in the file
    known = at >= 0
    same = np.zeros(len(forecasts), dtype=bool)
    same[known] = (
        np.abs(actual.to_numpy()[at[known]] / forecasts["last_price"].to_numpy()[known] - 1) <= PRICE_TOLERANCE
    )
    unmatched = {"date not in the file": int((~known).sum()), "another series": int((known & ~same).sum())}
    forecasts = forecasts[same].assign(at=at[same])
    days = forecasts.explode(["lower", "upper"])  # (forecasts,) -> (forecasts x days ahead,)
    days["day"] = days.groupby(level=0).cumcount() + 1
    position = (days["at"] + days["day"]).to_numpy(dtype=int)  # where each day's outcome is in `actual`
    days, position = days[position < len(actual)], position[position < len(actual)]  # those that have arrived
    days = days.astype({"lower": float, "upper": float}).assign(outcome=actual.to_numpy()[position])
    found = days.drop_duplicates(["last_date", "day", "lower", "upper"]).reset_index(drop=True)
    found["held"] = (found["lower"] <= found["outcome"]) & (found["outcome"] <= found["upper"])
    return found[["last_date", "day", "lower", "upper", "outcome", "held"]], unmatched


def coverage_check(name: str, held: int, n: int, nominal: float) -> Check:
    """Realised coverage of `n` intervals of nominal coverage `nominal` (e.g. 0.9), `held` of which held
    their outcome: the binomial test's p-value (two-sided) and the Basel traffic light's verdict on the
    misses; far too few misses (intervals wider than they need be) is "watch"."""
    if n == 0:
        return Check(name, "coverage", None, STABLE, "no forecast has its outcome in the prices yet")
    misses, miss_rate = n - held, 1 - nominal
    cumulative = float(stats.binom.cdf(misses, n, miss_rate))  # P(at most this many misses | nominal holds)
    verdict = ACT if cumulative >= RED else WATCH if cumulative >= YELLOW or cumulative <= 1 - RED else STABLE
    green = int(stats.binom.ppf(YELLOW, n, miss_rate)) - 1  # the most misses in the green zone
    p_value = float(stats.binomtest(held, n, nominal).pvalue)
    return Check(
        name, "coverage", held / n, verdict,
        f"{held / n:.1%} of {n:,} intervals held the outcome against {nominal:.0%} nominal: {misses:,} misses "
        f"(the green zone: up to {green:,})",
        "binomial", p_value, ["outside", "inside"], [round(miss_rate, 4), round(nominal, 4)],
        [round(misses / n, 4), round(held / n, 4)],
    )  # fmt: skip


def coverage(run: Run, log: pd.DataFrame, args: argparse.Namespace) -> tuple[Check, str]:
    """The coverage check of the one-day-ahead intervals (independent enough for a binomial test: each is
    a different day's outcome), and a sentence on every day ahead (a path's days share their moves, so
    they are reported, not tested)."""
    nominal = from_dict(Config, run.config).backtest.interval
    found, unmatched = outcomes(log, read_prices(run, args))
    one_day = found[found["day"] == 1]
    check = coverage_check("interval coverage, 1 day ahead", int(one_day["held"].sum()), len(one_day), nominal)
    groups = [(1, 1), (2, 5), (6, 20), (21, 250)]
    by_days = [
        f"{lo if lo == hi else f'{lo}-{hi}'}: {part['held'].mean():.1%} of {len(part):,}"
        for lo, hi in groups
        if len(part := found[found["day"].between(lo, hi)])
    ]
    skipped = ", ".join(f"{n:,} {why}" for why, n in unmatched.items() if n)
    note = (
        f"Coverage against {paths.shown(Path(args.prices))}: {found['held'].mean():.1%} of all {len(found):,} "
        f"intervals with an outcome held it (nominal {nominal:.0%}); by trading days ahead, {', '.join(by_days)}. "
        "The days of one path share their moves, so only the 1-day intervals are tested."
        if len(found)
        else f"No logged forecast has an outcome in {paths.shown(Path(args.prices))} yet."
    )
    if skipped:
        note += f" Forecasts not matched with the file: {skipped}."
    return check, note


def parser() -> argparse.ArgumentParser:
    found = monitoring.monitor_parser(PROJECT, __doc__)
    found.add_argument("--prices", default=None, help="a daily price CSV with the prices since the forecasts, to "
                       "measure the served intervals' coverage")  # fmt: skip
    found.add_argument("--set", dest="overrides", action="append", default=[], metavar="data.KEY=VALUE",
                       help="how to read --prices, as training reads --data: e.g. --set data.price_column=Close "
                       "(default: the run's columns and separator)")  # fmt: skip
    return found


def main(argv: list[str] | None = None) -> int:
    return monitoring.monitor_main(PROJECT, checks, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
