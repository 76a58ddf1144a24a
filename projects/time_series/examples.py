"""Write example input files: a price CSV for --data and make predict, and a request body for the API.

    $ make examples PROJECT=time_series
    $ python -m projects.time_series.examples [--out FOLDER] [--data prices.csv --set data.price_column=Close]

From the configured prices (the S&P 500 series that ships with `arch`, or your --data file), it
writes to runs/time_series-examples/ (or --out):

- prices.csv, the whole series as `Date,Close`, oldest first, in the layout of a broker's export:
  train on it with `make train PROJECT=time_series ARGS="--data runs/time_series-examples/prices.csv
  --set data.price_column=Close"` (the same prices as the default, so the same results);
- recent.csv, its last trading year in the same layout: forecast from it with `make predict`;
- request.json, a body for `POST /forecast`: a horizon and the same year of prices.

Each file is printed with the command that uses it.
"""

from __future__ import annotations

import json

import pandas as pd

from mlstarter import paths, runs
from mlstarter.paths import project_name
from mlstarter.scripts import examples_parser, load_config, run_script

from . import data, model
from .config import Config
from .serve import MAX_PRICES

PROJECT = project_name(__package__)
TRADING_YEAR = 252  # prices in recent.csv and request.json: more than the served models use, so no short_history
HORIZON = 5  # the request's trading days ahead: the API's default, a week


def as_csv(prices: pd.Series) -> str:
    """Prices as a broker exports them: `Date,Close`, ISO dates, oldest first, commas between fields."""
    # %.10g: every digit a price has (2506.850098), without float noise in the last place
    return prices.rename("Close").rename_axis("Date").to_csv(date_format="%Y-%m-%d", float_format="%.10g")


def main(argv: list[str] | None = None) -> int:
    args = examples_parser(__doc__, PROJECT).parse_args(argv)
    cfg = load_config(Config, args)  # --data and --set, as train.py takes them
    prices = data.load_prices(cfg.data)
    series = prices.frame["price"]
    out = args.out.expanduser().resolve()
    print(f"***** Example inputs for {PROJECT}, from {prices.source} ({len(series):,} prices) *****")

    # 1. The whole series, for --data: what `make train` reads from a user's file.
    whole = out / "prices.csv"
    runs.write_text(whole, as_csv(series))

    # 2. The last trading year, for `make predict` (a CSV) and the API (JSON): at least what the served models use.
    days = min(max(TRADING_YEAR, model.history_wanted(cfg)), MAX_PRICES)
    recent = series.iloc[-days:]
    recent_csv = out / "recent.csv"
    runs.write_text(recent_csv, as_csv(recent))
    request = out / "request.json"
    history = [{"date": str(day.date()), "price": float(price)} for day, price in recent.items()]
    runs.write_text(request, json.dumps({"horizon": HORIZON, "history": history}, indent=1) + "\n")

    print(
        f"\n{paths.shown(whole)}: {len(series):,} daily prices, {series.index[0].date()} to {series.index[-1].date()}"
    )
    print(f'  make train PROJECT={PROJECT} ARGS="--data {paths.shown(whole)} --set data.price_column=Close"')
    print(f"\n{paths.shown(recent_csv)}: the last {len(recent)} of them")
    print(f"  make predict PROJECT={PROJECT} INPUT={paths.shown(recent_csv)} OUTPUT={paths.shown(out / 'forecast.csv')} "
          'ARGS="--price-column Close"')  # fmt: skip
    print(
        f"\n{paths.shown(request)}: the same {len(recent)} prices and a horizon of {HORIZON} days, for POST /forecast"
    )
    print(f"  make serve PROJECT={PROJECT}    # then, in another terminal:")
    print(f"  curl -X POST localhost:8000/forecast -H 'Content-Type: application/json' -d @{paths.shown(request)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
