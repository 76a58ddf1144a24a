"""Forecast from a file of daily prices with a trained time-series run: the price path, with intervals.

    $ make examples PROJECT=time_series      # writes runs/time_series-examples/recent.csv, a year of prices
    $ make predict PROJECT=time_series INPUT=runs/time_series-examples/recent.csv OUTPUT=forecast.csv ARGS="--price-column Close"
    $ python -m projects.time_series.predict prices.csv forecast.csv [--run <run id>] [--horizon 10]

The input is a daily price CSV as training reads one (a `Date` column and an `Adj Close` column by
default; --date-column and --price-column name yours, --separator semicolon, tab or pipe). Each line is checked
as the API checks one price (a date, a positive price); a bad line goes to OUTPUT.errors.csv with the
reason and is left out, and the forecast is made from the good ones, exactly as `POST /forecast` makes
it from a `history`: the output has one line per trading day ahead (date, median price, the interval,
the day's volatility), the run id and the forecast's warnings (e.g. `return_out_of_range(history)`:
prices unlike the training series). Exit code 1 when any line was bad, or when the good prices cannot
be forecast from (too few, not daily).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlstarter import batch, runs, serving
from mlstarter.datasets import SEPARATOR_NAMES, DataError, check_separator, separator
from mlstarter.paths import project_name
from mlstarter.scripts import predict_parser, run_script

from .serve import MAX_PRICES, DailyPrice, Forecaster, ForecastRequest

PROJECT = project_name(__package__)


def read_rows(path: Path, date_column: str, price_column: str, sep: str = ",") -> Iterator[tuple[str, dict[str, str]]]:
    """('line 2', {"date": ..., "price": ...}) for every line of the CSV."""
    if not path.is_file():
        raise DataError(f"{path}: no such file. Give a daily price CSV with a header")
    check_separator(path, sep, option="--separator")  # a ';'- or tab-separated file is named, with this flag
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file, delimiter=sep)
        missing = [c for c in (date_column, price_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"{path}: no column {', '.join(map(repr, missing))}; it has {', '.join(reader.fieldnames or [])}. "
                "Name yours with --date-column and --price-column."
            )
        for number, row in enumerate(reader, start=2):  # line 1 is the header
            if any(value.strip() for value in row.values() if value):
                yield f"line {number}", {"date": row[date_column].strip(), "price": row[price_column].strip()}


def main(argv: list[str] | None = None) -> int:
    parser = predict_parser(__doc__)
    parser.add_argument("--horizon", type=int, default=5, help="Trading days to forecast (default 5).")
    parser.add_argument("--date-column", default=None, help="The dates' column (default: the run's, e.g. Date).")
    parser.add_argument("--price-column", default=None, help="The prices' column (default: the run's, e.g. Adj Close).")
    parser.add_argument(
        "--separator", default=None, choices=SEPARATOR_NAMES, help="The field separator (default: the run's)."
    )
    args = parser.parse_args(argv)
    run = runs.served_run(PROJECT, args.run)  # the promoted run, else the newest
    forecaster = Forecaster(run)
    columns = (
        args.date_column or forecaster.cfg.data.date_column,
        args.price_column or forecaster.cfg.data.price_column,
    )
    print(f"***** Forecasting {args.horizon} days from {args.input} with {PROJECT} run {run.run_id} *****")

    # 1. Every line, checked as the API checks a price: the good ones kept, the bad ones listed with their reason.
    prices: list[DailyPrice] = []
    errors: list[tuple[str, str]] = []
    sep = separator(args.separator or forecaster.cfg.data.separator)
    for where, row in read_rows(args.input, *columns, sep):
        try:
            prices.append(DailyPrice.model_validate(row))
        except ValidationError as error:
            errors.append((where, batch.reason(error)))

    good = f"{len(prices):,} of {len(prices) + len(errors):,} lines good"

    # 2. One forecast from the good prices (the last MAX_PRICES, twenty years, as the API takes at most), with the
    #    API's own checks (enough prices, daily, in order).
    try:
        forecast = forecaster.forecast(ForecastRequest(horizon=args.horizon, history=prices[-MAX_PRICES:]))
    except (ValidationError, serving.InvalidInputError) as error:
        errors.append(("all lines", batch.reason(error)))
        forecast = None

    # 3. The path (written whole, or not at all) and the bad lines beside it.
    with batch.atomic_file(args.output) as out:
        writer = csv.writer(out)
        writer.writerow(
            ["day", "date", "median_price", "lower", "upper", "volatility_pct", "interval", "model_version", "warnings"]
        )
        warned = batch.cell([w.model_dump() for w in forecast.warnings]) if forecast else ""  # "code(field); ..."
        for step in forecast.path if forecast else []:
            writer.writerow([step.day, step.date, step.median_price, step.lower, step.upper, step.volatility_pct,
                             forecast.interval, run.run_id, warned])  # fmt: skip
    write_errors(args.output, errors)
    if forecast is None:
        print(f"No forecast: {errors[-1][1]} ({good}). See {args.output}.errors.csv")
        return 1
    print(f"Forecast {args.horizon} days from {forecast.last_date} ({good}) with run {run.run_id}: {args.output}")
    for warning in forecast.warnings:  # prices unlike the training series: the forecast may be far off
        print(f"warning: {warning.code}: {warning.message}")
    if errors:
        print(f"{len(errors):,} line(s) left out: each is in {args.output}.errors.csv, with the reason.")
    return 1 if errors else 0


def write_errors(output: Path, errors: list[tuple[str, Any]]) -> None:
    """OUTPUT.errors.csv with every bad line and its reason; none (and no old one) when all were good."""
    path = output.with_name(output.name + ".errors.csv")
    if not errors:
        path.unlink(missing_ok=True)
        return
    with batch.atomic_file(path) as file:
        csv.writer(file).writerows([("line", "error"), *errors])


if __name__ == "__main__":
    raise SystemExit(run_script(main))
