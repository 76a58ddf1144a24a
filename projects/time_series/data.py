"""Daily prices: the S&P 500 series that ships with `arch`, or your own CSV, checked and turned into returns.

    $ python -m projects.time_series.data      # where the data is, its dates, and any gaps
    $ python -m projects.time_series.data --data runs/time_series-examples/prices.csv --set data.price_column=Close

`load(cfg)` returns the whole series as one "split", `splits["series"]`: the walk-forward backtest
(backtest.py) forecasts each day from the days before it, so there is no train/test split to make
here; the backtest's scored origins are the held-out test.

The default is the S&P 500 index, daily from 1999 to 2018 (open, high, low, close, adjusted close,
volume), bundled inside the `arch` package: real data, and nothing to download. Your own file needs
a date column and a price column, one row per trading day, oldest first:

    Date,Close
    2024-01-02,472.65
    2024-01-03,468.79

    $ make examples PROJECT=time_series     # such a file, from the S&P 500 series: runs/time_series-examples/prices.csv
    $ make train PROJECT=time_series ARGS="--data runs/time_series-examples/prices.csv --set data.price_column=Close"

A file separated by ";" (Excel where the decimal mark is a comma) or tabs is named as such, with the
option that reads it: --set data.separator=semicolon (or tab, pipe).

`reference(prices, ...)` summarises the training series (the size of its daily moves, the range of its
volatility): the API warns about a request's prices that are unlike it, and drift monitoring reuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlstarter.datasets import DataError, check_separator, separator

from .config import Config, DataConfig

DATASET = None  # nothing to download: the default series is inside the installed `arch` package
BUNDLED = "sp500 (arch)"  # what `make list` shows for it
SOURCE = "S&P 500 index, daily 1999-2018 (arch.data.sp500, from Yahoo Finance)"


@dataclass
class Prices:
    """One daily series: the checked prices and the facts a user should know about them."""

    frame: pd.DataFrame  # index: date; columns: price, and high, low where the file has them
    source: str  # where it came from, for the run's records
    path: Path  # the file it was read from
    gaps: list[str]  # calendar gaps longer than data.max_gap_days, e.g. "2001-09-10 -> 2001-09-17 (7 days)"

    @property
    def returns(self) -> pd.Series:
        """Daily log returns in percent: 100 * log(P_t / P_t-1). The first day has none and is dropped."""
        return log_returns(self.frame["price"])

    @property
    def has_range(self) -> bool:
        return {"high", "low"} <= set(self.frame.columns)


@dataclass
class Data:
    """What training reads: the series, and the file it came from."""

    splits: dict[str, Prices]  # {"series": the whole series}; the backtest walks forward through it
    files: dict[str, Path]  # the data file, by name, for the run's checksums

    @property
    def prices(self) -> Prices:
        return self.splits["series"]


def load(cfg: Config) -> Data:
    """The default S&P 500 series or your CSV (data.path), checked, and checked against what the config needs."""
    prices = load_prices(cfg.data)
    if cfg.volatility.proxy == "range" and not prices.has_range:
        raise DataError(
            f"volatility.proxy=range needs daily high and low prices; {prices.path.name} has no "
            f"{cfg.data.high_column!r} and {cfg.data.low_column!r} columns. Use --set volatility.proxy=squared."
        )
    return Data(splits={"series": prices}, files={prices.path.name: prices.path})


def log_returns(prices: pd.Series) -> pd.Series:
    # Log returns add up over days (the return over a week is the sum of the daily ones) and are
    # close to stationary; prices are not: their mean and spread drift with the level.
    return (100 * np.log(prices)).diff().iloc[1:].rename("return")


def range_variance(frame: pd.DataFrame) -> pd.Series:
    """Parkinson's (1980) estimate of each day's variance from its high and low, in percent squared:
    sigma^2 = (100 * ln(H / L))^2 / (4 ln 2). Less noisy than the squared return."""
    return ((100 * np.log(frame["high"] / frame["low"])) ** 2 / (4 * np.log(2))).rename("range_variance")


def load_prices(cfg: DataConfig) -> Prices:
    """The default S&P 500 series, or your CSV (cfg.path), checked."""
    if cfg.path:
        path = Path(cfg.path).expanduser()
        if not path.is_file():
            raise DataError(f"--data {cfg.path}: no such file.")
        return read_csv(path, cfg)
    from arch.data import sp500  # imported here: only the default data needs it

    raw = sp500.load()
    path = Path(sp500.__file__).with_name("sp500.csv.gz")
    frame = pd.DataFrame(
        {"price": raw["Adj Close"], "high": raw["High"], "low": raw["Low"]}, index=raw.index.rename("date")
    )
    return Prices(frame.astype(float), SOURCE, path, find_gaps(frame.index, cfg.max_gap_days))


def read_csv(path: Path, cfg: DataConfig) -> Prices:
    """Read a daily price CSV; every problem is reported with its line number and column, in file order."""
    sep = separator(cfg.separator)
    try:
        check_separator(path, sep)  # a ';'- or tab-separated file is named as such, with the option to pass
        raw = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text. Save it as UTF-8 CSV.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path}: not a readable CSV ({error}).") from None
    columns = [str(c).strip() for c in raw.columns]
    raw.columns = columns
    for key in ("date_column", "price_column"):
        if getattr(cfg, key) not in columns:
            raise DataError(
                f"{path}: no column {getattr(cfg, key)!r}. Columns: {', '.join(columns)}. "
                f"Name yours with --set data.{key}=<name>."
            )
    lines = np.arange(len(raw)) + 2  # line 1 is the header
    blank = (raw == "").all(axis=1).to_numpy()  # empty lines are skipped, but keep the line numbers right
    raw, lines = raw[~blank], lines[~blank]
    if raw.empty:
        raise DataError(f"{path}: a header and no prices.")
    # One date format for the whole column (as given, or inferred from the first date), so that a
    # day-first file is never read day-first on some lines and month-first on others.
    dates = pd.to_datetime(raw[cfg.date_column].str.strip(), errors="coerce", format=cfg.date_format or None)
    frame = pd.DataFrame({"price": pd.to_numeric(raw[cfg.price_column].str.strip(), errors="coerce")})
    if cfg.high_column in columns and cfg.low_column in columns:
        frame["high"] = pd.to_numeric(raw[cfg.high_column].str.strip(), errors="coerce")
        frame["low"] = pd.to_numeric(raw[cfg.low_column].str.strip(), errors="coerce")
    problems = [  # (line, what is wrong): listed in file order below, whichever column each is in
        (n, f"line {n}, column {cfg.date_column}: {v!r} is not a date in the format of the first one "
            f"(set it with e.g. --set data.date_format=%d/%m/%Y)")
        for n, v, d in zip(lines, raw[cfg.date_column], dates, strict=True)
        if pd.isna(d)
    ]  # fmt: skip
    column_of = {"price": cfg.price_column, "high": cfg.high_column, "low": cfg.low_column}
    for name in frame.columns:
        values = frame[name].to_numpy()
        for n, text, v in zip(lines, raw[column_of[name]], values, strict=True):
            if not np.isfinite(v) or v <= 0:
                hint = " (write numbers without $ or thousands separators)" if any(c in text for c in "$,") else ""
                problems.append((n, f"line {n}, column {column_of[name]}: {text!r} is not a positive number{hint}"))
    if "high" in frame:
        for n, high, low in zip(lines, frame["high"], frame["low"], strict=True):
            if high < low:
                problems.append((n, f"line {n}: {cfg.high_column} {high} is below {cfg.low_column} {low}"))
    if problems:
        problems.sort(key=lambda problem: problem[0])  # stable: on one line, the columns stay in their order
        raise DataError(_listed(path, [text for _, text in problems]))
    frame.index = pd.DatetimeIndex(dates, name="date")
    check_dates(frame.index, path, lines)
    return Prices(frame, f"{path.name} ({cfg.price_column})", path, find_gaps(frame.index, cfg.max_gap_days))


REFERENCE_QUANTILES = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)
REFERENCE_SAMPLE = 2000  # values kept of the training series' volatility, for the drift monitor's PSI and KS test
TAILS = ("0.05", "0.95")  # a daily move beyond these quantiles of the training returns is a "large move"


def realised_volatility(returns: pd.Series, window: int) -> pd.Series:
    """Annualised volatility in percent of the last `window` days at each day: sd(r) * sqrt(252)."""
    return (returns.rolling(window).std() * np.sqrt(252)).dropna()


def quantiles(values: pd.Series) -> dict[str, float]:
    """{"0.001": ..., "0.5": ..., "0.999": ...}: what a drift monitor compares a later sample's quantiles with."""
    return {str(q): float(v) for q, v in values.quantile(REFERENCE_QUANTILES).items()}


def evenly_spaced(values: pd.Series, n: int = REFERENCE_SAMPLE) -> list[float]:
    """At most n of the values, evenly spaced in time (every k-th day), rounded to 0.01: a sample that keeps
    every regime of the series in its share."""
    step = max(1, int(np.ceil(len(values) / n)))
    return [round(float(v), 2) for v in values.iloc[::step]]


def large_moves(r: np.ndarray, seen: dict) -> int:
    """How many of the daily returns r (percent) fall beyond the training returns' 5% and 95% quantiles."""
    low, high = (seen["returns"]["quantiles"][q] for q in TAILS)
    return int(np.sum((r < low) | (r > high)))


def reference(prices: Prices, volatility_window: int, history_wanted: int) -> dict:
    """What the training series looked like, as plain numbers (saved as the run's reference.json): its dates,
    the size of its daily moves and the range of its `volatility_window`-day volatility. The API warns about
    prices unlike these (serve.unlike_training); drift monitoring (monitor.py) compares the requests' prices
    with the sample of that volatility and the share of large moves."""
    r = prices.returns
    volatility = realised_volatility(r, volatility_window)
    low, high = r.quantile([float(q) for q in TAILS])
    return {
        "source": prices.source,
        "first_date": str(prices.frame.index[0].date()),
        "last_date": str(prices.frame.index[-1].date()),
        "prices": len(prices.frame),
        # daily log returns in percent: the largest fall and rise, with their dates, and the quantiles
        "returns": {
            "min": float(r.min()),
            "min_date": str(r.idxmin().date()),
            "max": float(r.max()),
            "max_date": str(r.idxmax().date()),
            "quantiles": quantiles(r),
            # the share of days beyond the 5% and 95% quantiles: 10%, up to ties; the monitor's expected rate
            "large_move_share": float(((r < low) | (r > high)).mean()),
        },
        "volatility": {
            "window_days": volatility_window,
            "min": float(volatility.min()),
            "min_date": str(volatility.idxmin().date()),
            "max": float(volatility.max()),
            "max_date": str(volatility.idxmax().date()),
            "quantiles": quantiles(volatility),
            # for the monitor's PSI and KS test: the volatility on every k-th day of the whole series, every
            # regime in its share (for the S&P 500 1999-2018, 2008's crash included: see the guide's monitoring)
            "sample": evenly_spaced(volatility),
        },
        "history_wanted": history_wanted,  # prices a request should send for the served models to see all they use
    }


def last_days(prices: Prices, n: int, cfg: DataConfig) -> Prices:
    """The last n rows of a series (for a dry run)."""
    frame = prices.frame.iloc[-n:]
    return Prices(frame, prices.source, prices.path, find_gaps(frame.index, cfg.max_gap_days))


def check_dates(dates: pd.DatetimeIndex, where: object, lines: np.ndarray | None = None) -> None:
    """Dates must go forward one row at a time: sorted, each day once."""
    where_line = (lambda i: f"line {lines[i]}") if lines is not None else (lambda i: f"item {i}")
    if dates.has_duplicates:
        repeated = np.flatnonzero(dates.duplicated())
        raise DataError(
            _listed(where, [f"{where_line(i)}: {dates[i].date()} appears twice" for i in repeated])
            + "\nKeep one price per day."
        )
    backwards = np.flatnonzero(np.diff(dates.asi8) < 0) + 1
    if len(backwards):
        i = backwards[0]
        raise DataError(
            f"{where}: dates must be sorted oldest first; {where_line(i)} ({dates[i].date()}) comes after "
            f"{dates[i - 1].date()} ({len(backwards)} such places). Sort them by date."
        )


def find_gaps(dates: pd.DatetimeIndex, max_days: int) -> list[str]:
    """Calendar gaps longer than max_days between consecutive rows (a weekend is 3 days)."""
    steps = np.asarray((dates[1:] - dates[:-1]).days)
    return [f"{dates[i].date()} -> {dates[i + 1].date()} ({steps[i]} days)" for i in np.flatnonzero(steps > max_days)]


def _listed(where: object, problems: list[str], shown: int = 10) -> str:
    more = f"\n  ... and {len(problems) - shown} more" if len(problems) > shown else ""
    return f"{where}: {len(problems)} problem(s):\n  " + "\n  ".join(problems[:shown]) + more


def main(argv: list[str] | None = None) -> int:
    from mlstarter.scripts import load_config, train_parser

    cfg = load_config(Config, train_parser(__doc__).parse_args(argv))  # --data and --set, as train.py takes them
    prices = load(cfg).prices
    index = prices.frame.index
    print(f"{prices.source}\nFile: {prices.path}")
    print(f"{len(index):,} trading days, {index[0].date()} to {index[-1].date()}; columns: {', '.join(prices.frame)}")
    print(
        f"Gaps of more than {cfg.data.max_gap_days} calendar days: {len(prices.gaps)}"
        + "".join(f"\n  {g}" for g in prices.gaps[:10])
    )
    return 0


if __name__ == "__main__":
    from mlstarter.scripts import run_script

    raise SystemExit(run_script(main))
