"""Serve a time-series run over HTTP: a price path with intervals, and a volatility forecast.

    $ make serve PROJECT=time_series [RUN=<run id>] [PORT=8000]
    $ python -m projects.time_series.serve [--run <run id>] [--port 8000]
    $ curl -X POST localhost:8000/forecast -H 'Content-Type: application/json' -d '{"horizon": 5}'
    $ curl -X POST localhost:8000/forecast -d @projects/time_series/example.json
    $ make examples PROJECT=time_series    # writes runs/time_series-examples/request.json, a year of prices:
    $ curl -X POST localhost:8000/forecast -d @runs/time_series-examples/request.json

Open http://127.0.0.1:8000/ to try the forecaster and see its run (page.js), or /docs for a form.
`POST /forecast` takes a horizon (trading days) and,
optionally, your own recent daily prices (oldest first, at least 60); without them it forecasts
from the end of the training series. The answer: the median price each day with its interval,
the daily volatility forecast, the run id of the model that answered, and `warnings` about sent
prices unlike the training series (a daily move larger than any it had, a volatility outside its
range, fewer prices than the served models use); empty when there is nothing to say.

`make serve` logs each forecast for drift monitoring (monitor.py; `--no-log` turns it off): summary
numbers of the sent prices (how many, the last date and price, the recent volatility and large moves),
never the prices themselves, and the interval served for each day ahead, whose coverage `make monitor
ARGS="--prices actual.csv"` measures once the prices have arrived.
"""

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import norm

from mlstarter import server, serving
from mlstarter.datasets import DataError
from mlstarter.paths import project_name
from mlstarter.runs import Run

from . import data, model
from .config import ServeConfig

PROJECT = project_name(__package__)
LIMITS = ServeConfig()  # the default limits, shown in the schema; a run trained with others enforces its own
MAX_HORIZON = 250  # the most any run may allow (serve.max_horizon)
MAX_PRICES = 5000  # prices per request: twenty years of trading days
# a move counts as larger than any in training only beyond this margin (percentage points): prices rounded
# to the cent move a daily return of a $10 stock by up to 0.05, and the same day's return should not count
ROUNDING_PCT = 0.05
EXAMPLE = json.loads((Path(__file__).parent / "example.json").read_text(encoding="utf-8"))


class DailyPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date = Field(ge=dt.date(1900, 1, 1), le=dt.date(2200, 12, 31), description="Trading day, e.g. 2024-01-31")
    price: float = Field(gt=0, le=1e12, allow_inf_nan=False, description="Closing (or adjusted closing) price")


class ForecastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE, {"horizon": 5}]})

    horizon: serving.Integer = Field(
        default=5, ge=1, le=MAX_HORIZON, description=f"Trading days to forecast (up to {LIMITS.max_horizon} by default)"
    )
    history: list[DailyPrice] | None = Field(
        default=None,
        max_length=MAX_PRICES,
        description=f"Your daily prices, oldest first, at least {LIMITS.min_history}; "
        "leave out to forecast from the end of the training series",
    )


class Step(BaseModel):
    day: int = Field(description="Trading days ahead")
    date: dt.date = Field(description="The business day it falls on (exchange holidays are not skipped)")
    median_price: float = Field(
        description="Median forecast: the last price times exp(expected cumulative log return); "
        "the mean price is higher by a factor exp(variance / 2)"
    )
    lower: float = Field(description="Lower end of the prediction interval")
    upper: float = Field(description="Upper end of the prediction interval")
    volatility_pct: float = Field(description="Forecast standard deviation of that day's return, in percent")


class Forecast(BaseModel):
    model_version: str = Field(description="The run id of the model that answered")
    returns_model: str
    volatility_model: str
    interval: float = Field(description="Nominal coverage of [lower, upper]")
    last_date: dt.date
    last_price: float
    annualised_volatility_pct: float = Field(description="Tomorrow's volatility forecast, times sqrt(252)")
    path: list[Step]
    warnings: list[serving.PredictionWarning] = serving.warnings_field()


class Forecaster:
    """The models of one run, loaded once at start-up by `model.load` (plain numbers: nothing to unpickle)."""

    def __init__(self, run: Run):
        saved = model.load(run)
        self.run_id = run.run_id
        self.saved = saved.served  # the served models' parameters
        self.cfg = saved.cfg
        self.history = saved.history  # the end of the training series
        # what the training series looked like (its moves, its volatility); runs saved before it existed have none
        self.seen = run.reference

    def forecast(self, request: ForecastRequest) -> Forecast:
        limits = self.cfg.serve
        if request.horizon > limits.max_horizon:
            raise serving.InvalidInputError(
                f"horizon: at most {limits.max_horizon} trading days; got {request.horizon}"
            )
        prices = self.history if request.history is None else self.checked(request.history)
        r = data.log_returns(prices).to_numpy()
        with np.errstate(all="ignore"):
            mean, variance = model.forecast_path(r, self.saved, request.horizon, seed=self.cfg.seed)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(variance)) and np.all(variance < 1e4)):
            raise serving.InvalidInputError(
                f"history: these prices move too much to forecast (the largest daily change is "
                f"{np.max(np.abs(r)):.0f}% in log terms). Send daily prices of one instrument."
            )
        # the cumulative log return after k days has mean sum(mean[:k]) and, with independent days,
        # variance sum(variance[:k]); the interval is mean +- z * sd (a normal approximation)
        center, spread = np.cumsum(mean), np.sqrt(np.cumsum(variance))
        z = norm.ppf(0.5 + self.cfg.backtest.interval / 2)
        last_price, last_date = float(prices.iloc[-1]), prices.index[-1].date()
        dates = pd.bdate_range(last_date + dt.timedelta(days=1), periods=request.horizon)
        path = [
            Step(
                day=k + 1,
                date=dates[k].date(),
                median_price=significant(last_price * np.exp(center[k] / 100)),
                lower=significant(last_price * np.exp((center[k] - z * spread[k]) / 100)),
                upper=significant(last_price * np.exp((center[k] + z * spread[k]) / 100)),
                volatility_pct=significant(np.sqrt(variance[k])),
            )
            for k in range(request.horizon)
        ]
        return Forecast(
            model_version=self.run_id,
            returns_model=self.saved["returns"],
            volatility_model=self.saved["volatility"],
            interval=self.cfg.backtest.interval,
            last_date=last_date,
            last_price=last_price,
            annualised_volatility_pct=round(float(np.sqrt(252 * variance[0])), 2),
            path=path,
            warnings=[] if request.history is None else unlike_training(prices, self.seen),
        )

    def checked(self, history: list[DailyPrice]) -> pd.Series:
        """The request's prices as a series, or a 422 that says what is wrong with them."""
        if len(history) < self.cfg.serve.min_history:
            raise serving.InvalidInputError(
                f"history: at least {self.cfg.serve.min_history} daily prices are needed to estimate volatility; "
                f"got {len(history)}. Send more, or leave history out to use the training series."
            )
        dates = pd.DatetimeIndex([p.date for p in history])
        try:
            data.check_dates(dates, "history")
        except DataError as error:
            raise serving.InvalidInputError(str(error)) from None
        gaps = data.find_gaps(dates, self.cfg.data.max_gap_days)
        if len(gaps) > len(history) // 10:
            raise serving.InvalidInputError(
                f"history: {len(gaps)} gaps of more than {self.cfg.data.max_gap_days} days between prices, "
                f"e.g. {gaps[0]}: send daily prices (one per trading day)."
            )
        return pd.Series([p.price for p in history], index=dates)


def unlike_training(prices: pd.Series, seen: dict | None) -> list[serving.PredictionWarning]:
    """A warning for each way the sent prices are unlike the training series (`seen`, the run's reference.json):
    a daily move larger than any it had, a recent volatility outside the range it went through, fewer prices
    than the served models use. The forecast is still made; these say where it may be far off."""
    if seen is None:
        return []
    warnings = []
    r = data.log_returns(prices)  # daily log returns in percent, as the models see them
    moves = seen["returns"]
    outside = r[(r < moves["min"] - ROUNDING_PCT) | (r > moves["max"] + ROUNDING_PCT)]
    if len(outside):
        day = outside.abs().idxmax()
        warnings.append(serving.PredictionWarning(
            code="return_out_of_range", field="history",
            message=f"{len(outside)} daily move(s) larger than any in the training series, the largest "
            f"{r[day]:+.1f}% on {day.date()} (training: from {moves['min']:+.1f}% on {moves['min_date']} to "
            f"{moves['max']:+.1f}% on {moves['max_date']}): the volatility model never saw such a move, and its "
            "forecast, the interval above all, may be far off",
        ))  # fmt: skip
    seen_volatility = seen["volatility"]
    recent = data.realised_volatility(r, seen_volatility["window_days"])
    low, high = seen_volatility["min"], seen_volatility["max"]
    if len(recent) and not low <= recent.iloc[-1] <= high:
        side = "below the lowest" if recent.iloc[-1] < low else "above the highest"
        warnings.append(serving.PredictionWarning(
            code="volatility_out_of_range", field="history",
            message=f"the last {seen_volatility['window_days']} days' volatility, {recent.iloc[-1]:.1f}% a year, is "
            f"{side} of the training series ({low:.1f}% to {high:.1f}%): the model was fitted on calmer or "
            "wilder markets than these prices, so its volatility forecast is an extrapolation",
        ))  # fmt: skip
    if len(prices) < seen["history_wanted"]:
        warnings.append(serving.PredictionWarning(
            code="short_history", field="history",
            message=f"{len(prices)} prices; the served models use the last {seen['history_wanted']} "
            "(a moving average or variance over that window): the forecast rests on fewer days than it was "
            "designed for. Send more prices",
        ))  # fmt: skip
    return warnings


def significant(value: float) -> float:
    """Six significant digits: a price of 0.00012345 keeps its digits, one of 2506.85 its cents."""
    return float(f"{value:.6g}")


router = APIRouter(tags=[PROJECT])
ForecasterDep = Annotated[Forecaster, Depends(serving.get_predictor)]


@router.post("/forecast")
def forecast(sent: ForecastRequest, forecaster: ForecasterDep, request: Request) -> Forecast:
    """Forecast the next `horizon` trading days: price path, intervals and volatility."""
    answer = forecaster.forecast(sent)
    log(request, forecaster, sent, answer)
    return answer


def log(request: Request, forecaster: Forecaster, sent: ForecastRequest, answer: Forecast) -> None:
    """Log the forecast for drift monitoring (monitor.py), when the server logs: what the sent prices looked
    like, in summary numbers (`summary`), and the interval served for each day ahead, which the monitor holds
    against the prices once they have arrived (its coverage). The prices themselves are not logged."""
    output = {
        "interval": answer.interval,  # the nominal coverage, e.g. 0.9
        "lower": [step.lower for step in answer.path],  # day 1, 2, ... ahead: the k-th trading day after last_date
        "upper": [step.upper for step in answer.path],
    }
    serving.log_prediction(request, summary(sent.history, answer, forecaster), output, answer.warnings)


def summary(history: list[DailyPrice] | None, answer: Forecast, forecaster: Forecaster) -> dict:
    """What the monitor needs of a request: how many prices it sent (0: none, the forecast starts from the
    training series' end), the last date and price (to find the outcomes in a price file later), and, of
    the last `window` daily returns, the annualised volatility and how many were large moves (beyond the
    training returns' 5% and 95% quantiles)."""
    found = {
        "history_prices": 0 if history is None else len(history),
        "horizon": len(answer.path),
        "last_date": str(answer.last_date),
        "last_price": answer.last_price,
        "volatility_pct": None,
        "window_returns": None,
        "large_moves": None,
    }
    if history is None:  # the training series itself: nothing new to compare with it
        return found
    seen = forecaster.seen
    window = seen["volatility"]["window_days"] if seen else forecaster.cfg.volatility.historical_window
    recent = np.array([p.price for p in history[-(window + 1) :]])
    r = 100 * np.diff(np.log(recent))  # the last `window` daily log returns, in percent
    found["volatility_pct"] = round(float(np.std(r, ddof=1) * np.sqrt(252)), 2)  # sd * sqrt(252), as in data.py
    found["window_returns"] = len(r)
    found["large_moves"] = data.large_moves(r, seen) if seen else None
    return found


def document_limits(schema: dict, forecaster: Forecaster) -> None:
    """The served run's own limits in /openapi.json (its config may differ from the defaults above)."""
    request = schema["components"]["schemas"]["ForecastRequest"]["properties"]
    request["horizon"]["maximum"] = forecaster.cfg.serve.max_horizon
    request["horizon"]["description"] = f"Trading days to forecast, 1 to {forecaster.cfg.serve.max_horizon}"
    history = next(option for option in request["history"]["anyOf"] if option.get("type") == "array")
    history["minItems"] = forecaster.cfg.serve.min_history


def example_requests() -> dict[str, dict]:
    """What `make bench-serve` sends: a forecast from the training series' end, and one from 60 sent prices."""
    return {
        "single": {"path": "/forecast", "json": {"horizon": 5}},
        "batch": {"path": "/forecast", "json": EXAMPLE},
    }


def create_app(run_id: str | None = None) -> FastAPI:
    """The app for `uvicorn --factory projects.time_series.serve:create_app` (newest run by default)."""
    return serving.create_app(
        project=PROJECT,
        router=router,
        load_predictor=Forecaster,
        input_model=ForecastRequest,
        document_limits=document_limits,
        run_id=run_id,
        description=__doc__,
        panel=Path(__file__).with_name("page.js"),  # the Try-it tab of the page at GET /
    )


if __name__ == "__main__":
    raise SystemExit(server.main(PROJECT))
