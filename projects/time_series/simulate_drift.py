"""Send forecast requests from a turbulent market to a running server, then watch `make monitor` find it.

    $ make serve PROJECT=time_series                       # in one terminal
    $ make simulate-drift PROJECT=time_series [PORT=8000]  # in another: 500 requests from autumn 2008
    $ python -m projects.time_series.simulate_drift --port 8000 [--unshifted] [--n 500]
    $ make monitor PROJECT=time_series                      # verdict: act
    $ make monitor PROJECT=time_series ARGS="--prices runs/time_series-examples/prices.csv --set data.price_column=Close"

The shift is the one a forecaster meets: the market moves into another volatility regime. Each shifted
request sends a year of the run's own series (`HISTORY_DAYS` prices) ending on a day of its most turbulent
quarter: the `TURBULENT_DAYS` trading days whose 21-day volatility is highest on average (for the S&P 500,
autumn 2008: from 29 September to 26 December, after Lehman Brothers failed). Every price is a real one.
`--unshifted` sends histories ending on days of the backtest's test period (2009 to 2018 for the S&P 500),
drawn with replacement: the monitor should stay quiet (make bench-monitor measures how often it does not).
Each request asks for a horizon between 1 and the run's `serve.max_horizon` days; its outcomes are in the
same series, so `--prices` can measure the served intervals' coverage afterwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlstarter import monitoring, paths
from mlstarter.config import from_dict
from mlstarter.runs import Run

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
HISTORY_DAYS = 252  # prices per request: a trading year, as make examples' request.json sends
TURBULENT_DAYS = 63  # the shifted requests end on the days of the series' most volatile quarter


def turbulent_days(prices: pd.Series, window: int, days: int = TURBULENT_DAYS) -> pd.DatetimeIndex:
    """The `days` consecutive trading days whose `window`-day volatility is highest on average."""
    volatility = data.realised_volatility(data.log_returns(prices), window)
    last = volatility.rolling(days).mean().idxmax()  # the last day of the most volatile stretch
    end = volatility.index.get_loc(last)
    return volatility.index[end - days + 1 : end + 1]


def traffic(run: Run, n: int, seed: int, shifted: bool) -> list[dict]:
    """`n` requests to POST /forecast: a year of prices ending in the test period, or in the turbulent quarter."""
    cfg = from_dict(Config, run.config)
    prices = data.load(cfg).prices.frame["price"]
    if shifted:
        ends = turbulent_days(prices, cfg.volatility.historical_window)
    else:  # the backtest's scored origins: the run's test period
        ends = prices.index[prices.index >= pd.Timestamp(run.read_json("model.json")["first_scored_origin"])]
    positions = prices.index.get_indexer(ends)
    positions = positions[positions >= cfg.serve.min_history - 1]  # a request sends at least min_history prices
    rng = np.random.default_rng(seed)
    requests = []
    for end in rng.choice(positions, n):
        history = prices.iloc[max(0, end + 1 - HISTORY_DAYS) : end + 1]
        requests.append({
            "path": "/forecast",
            "json": {
                "horizon": int(rng.integers(1, cfg.serve.max_horizon + 1)),
                "history": [{"date": str(day.date()), "price": float(price)} for day, price in history.items()],
            },
        })  # fmt: skip
    return requests


def main(argv: list[str] | None = None) -> int:
    return monitoring.simulate_main(PROJECT, traffic, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
