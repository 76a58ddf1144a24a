"""Benchmark the time-series project: the walk-forward backtest's honesty and speed, and serving latency.

    $ make bench PROJECT=time_series
    $ python -m projects.time_series.bench [--requests 500]

Runs `train` then `evaluate` as a user runs them, with the default config (expanding window,
monthly refits) and with a rolling four-year window refitted quarterly, on the S&P 500 series
that ships with `arch`. Reports every model's out-of-sample scores with their significance,
the intervals' coverage, and the backtest's wall time; then a load test of a real uvicorn
server. Results go to bench/results/time_series.{json,md} and into this project's README.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mlstarter import bench, loadgen, machine, paths, runs
from mlstarter.metrics import shown
from mlstarter.model_card import table
from mlstarter.paths import project_name
from mlstarter.scripts import run_script

from . import backtest, data, evaluate, model
from .config import Config

PROJECT = project_name(__package__)
VARIANTS = {
    "expanding window, monthly refits (default)": [],
    "rolling 4-year window, quarterly refits": ["backtest.window=rolling", "backtest.refit_every=63"],
}


def train_and_evaluate(overrides: list[str]) -> dict:
    command = [sys.executable, "-m", f"projects.{PROJECT}.train"]
    for item in overrides:
        command += ["--set", item]
    speed = {"train": bench.timed_subprocess(command)}
    run = runs.latest_run(PROJECT)
    speed["evaluate"] = bench.timed_subprocess(
        [sys.executable, "-m", f"projects.{PROJECT}.evaluate", "--run", run.run_id]
    )
    run = runs.latest_run(PROJECT, run.run_id)
    saved = model.load(run)
    cfg, returns, volatility = saved.cfg, saved.returns, saved.volatility
    scores = evaluate.return_table(returns)
    spa = backtest.beats_the_random_walk(returns, cfg, size=evaluate.SIGNIFICANT)  # seeded: as evaluate found it
    vol = {
        proxy: backtest.volatility_scores(volatility, cfg.volatility.models, proxy).to_dict("records")
        for proxy in ("squared_return", "range_variance")
    }
    return {
        "run_id": run.run_id,
        "origins": int(returns.origin.nunique()),
        "first": str(returns.origin.min().date()),
        "last": str(returns.origin.max().date()),
        "backtest_seconds": run.metrics["backtest_seconds"],
        "served_interval_coverage": run.metrics["test_served_interval_coverage"],
        "served": f"{cfg.serve.returns} +- z x {cfg.volatility.serve} volatility",
        "interval": cfg.backtest.interval,
        "returns": json.loads(scores.to_json(orient="records")),  # NaN -> null
        "volatility": json.loads(json.dumps(vol, default=float).replace("NaN", "null")),
        "spa": spa.to_dict("records"),
        "spa_settings": {"block_days": cfg.backtest.spa_block_days, "reps": cfg.backtest.spa_reps, "seed": cfg.seed},
        "verdicts": evaluate.verdicts(
            scores, backtest.volatility_scores(volatility, cfg.volatility.models, "squared_return"), spa, cfg
        ),
        "speed": speed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="Requests per serving scenario (default 500).")
    parser.add_argument(
        "--render",
        action="store_true",
        help="Measure nothing: write the README blocks again from the last results (bench/results/), "
        "after a change to how they are shown.",
    )
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads((paths.repo_root() / "bench" / "results" / f"{PROJECT}.json").read_text(encoding="utf-8"))
        results["summary"] = summarize(results)
        bench.write_results(PROJECT, results, render(results))
        return 0
    results: dict = {"project": PROJECT, "machine": machine.describe(), "load_average_before": load_average()}
    results["runs"] = {}

    for name, overrides in VARIANTS.items():
        results["runs"][name] = train_and_evaluate(overrides)
    default = results["runs"][next(iter(VARIANTS))]

    example = json.loads((Path(__file__).parent / "example.json").read_text(encoding="utf-8"))
    results["serving"] = {}
    with loadgen.serve_in_subprocess(PROJECT, default["run_id"]) as url:
        scenarios = {
            "5 days from the training series' end, 1 client": ({"horizon": 5}, 1),
            "5 days from the training series' end, 8 clients": ({"horizon": 5}, 8),
            "20 days from 60 sent prices, 1 client": ({**example, "horizon": 20}, 1),
        }
        for name, (body, concurrency) in scenarios.items():
            results["serving"][name] = loadgen.load_test(
                f"{url}/forecast", body, concurrency=concurrency, requests=args.requests
            )

    results["summary"] = summarize(results)
    results["load_average_after"] = load_average()
    bench.write_results(PROJECT, results, render(results))  # also prints the results and where they went
    return 0


def summarize(results: dict) -> dict:
    """The project's row of the top-level README, from the default configuration's run."""
    default = results["runs"][next(iter(VARIANTS))]
    h1 = {row["model"]: row for row in default["returns"] if row["horizon"] == 1}
    best = min((m for m in h1 if m != "naive"), key=lambda m: h1[m]["mase"])
    spa_h1 = next(row for row in default["spa"] if row["horizon"] == 1)
    vol = {row["model"]: row for row in default["volatility"]["squared_return"]}
    served = Config().volatility.serve
    return {
        "project": f"[{PROJECT}](projects/{PROJECT}/README.md)",
        "task": "S&P 500 returns and volatility, daily time series",
        "dataset": "S&P 500 1999-2018 (in `arch`)",
        "result (cross-validated)": f"next-day MASE {shown(h1[best]['mase'])} at best ({best}; random walk 1; "
        f"SPA p = {shown(spa_h1['spa_p'], 2)} over {spa_h1['models']} models); "
        f"{served} QLIKE {shown(vol[served]['qlike'])} vs EWMA {shown(vol['ewma']['qlike'])} "
        f"({default['origins']:,}-day walk-forward, not CV)",
        "reference": "random walk unbeaten (MASE ~ 1); GARCH beats EWMA on QLIKE",
        "train + evaluate": f"{default['speed']['train']['seconds'] + default['speed']['evaluate']['seconds']:.0f} s",
        "measured": results["machine"]["date"],
    }


def load_average() -> list[float] | None:
    """The machine's 1-, 5- and 15-minute load averages: other work on the same cores slows every timing here."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _p(value: float | None) -> str:
    return "-" if value is None else ("< 0.001" if value < 0.001 else shown(value))  # 0.9996 as "> 0.999"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render(results: dict) -> str:
    m = results["machine"]
    loads = [results.get("load_average_before"), results.get("load_average_after")]
    busy = (
        f" Load average (1, 5 and 15 minutes) {', '.join(map(str, loads[0]))} before and "
        f"{', '.join(map(str, loads[1]))} after, on {m['cores']} cores: above {m['cores']}, other work was waiting "
        "for the cores and slowed every timing below (the scores do not depend on it)."
        if all(loads)
        else ""
    )
    parts = [f"Measured by `make bench PROJECT={results['project']}` on {machine.line(m)}.{busy}\n"]
    for name, v in results["runs"].items():
        parts.append(
            f"### {name}\n\n{v['origins']:,} scored origins, {v['first']} to {v['last']}; backtest "
            f"{v['backtest_seconds']:.0f} s, `train` {v['speed']['train']['seconds']:.0f} s in all "
            f"(peak {v['speed']['train']['peak_rss_mib']:.0f} MiB), `evaluate` {v['speed']['evaluate']['seconds']:.0f} s.\n"
        )
        parts.append(
            "**Returns** (MASE: MAE / the random walk's MAE on the same days; DM p: Diebold-Mariano test of "
            "squared errors against the random walk, two-sided; direction p: binomial test against 50% on non-overlapping origins, one-sided):\n"
        )
        parts.append(
            table(
                [
                    {
                        "horizon": f"{r['horizon']} d",
                        "model": r["model"],
                        # shown: the drift's 0.9996 as "> 0.999", so rounding never ties it with the random walk
                        "MASE": shown(r["mase"]),
                        "RMSE (%)": f"{r['rmse']:.3f}",
                        "DM p": _p(r["dm_p"]),
                        "direction": _pct(r["direction"]),
                        "direction p": _p(r["direction_p"]),
                        "always up": _pct(r["up_share"]),
                        "90% interval coverage": _pct(r["coverage"]),
                    }
                    for r in v["returns"]
                ]
            )
        )
        parts.append(
            f"\n**All models at once** (Hansen's SPA test of 'no model beats the random walk' on squared errors, "
            "which allows for picking the best of several: the consistent p-value with its lower and upper bounds; "
            f"StepM names the models that beat it with a {evaluate.SIGNIFICANT:.0%} chance of naming any wrongly; "
            "stationary block bootstrap, "
            f"mean block {v['spa_settings']['block_days']} days, {v['spa_settings']['reps']:,} resamples, "
            f"seed {v['spa_settings']['seed']}):\n"
        )
        parts.append(
            table(
                [
                    {
                        "horizon": f"{r['horizon']} d",
                        "models": r["models"],
                        "SPA p": _p(r["spa_p"]),
                        "lower": _p(r["spa_p_lower"]),
                        "upper": _p(r["spa_p_upper"]),
                        "beat the random walk (StepM)": ", ".join(r["superior"]) or "none",
                    }
                    for r in v["spa"]
                ]
            )
        )
        parts.append(
            "\n**Volatility**, next day (QLIKE and MSE, lower is better; p: Diebold-Mariano test of QLIKE against "
            "each baseline, two-sided):\n"
        )
        rows = []
        for proxy, label in (("squared_return", "squared return"), ("range_variance", "high-low range")):
            for r in v["volatility"][proxy]:
                rows.append(
                    {
                        "scored against": label,
                        "model": r["model"],
                        "QLIKE": shown(r["qlike"]),
                        "MSE": f"{r['mse']:.2f}",
                        "p vs historical": _p(r.get("vs_historical_p")),
                        "p vs EWMA": _p(r.get("vs_ewma_p")),
                    }
                )
        parts.append(table(rows))
        parts.append(
            f"\nServed one-day intervals ({v['served']}) covered "
            f"{v['served_interval_coverage']:.1%} of outcomes (nominal {v['interval']:.0%}).\n\n"
            + "\n".join(f"- {line}" for line in v["verdicts"])
            + "\n"
        )
    parts.append(
        f"**Serving** (uvicorn, 1 worker, on 127.0.0.1; load from a second process):\n\n"
        f"{bench.serving_table(results['serving'])}"
    )
    return "\n".join(parts)


def predict_input(folder: Path, rows: int | None = None) -> dict:
    """`make bench-predict`: the S&P 500 series (about 5,000 daily prices) as a price CSV, forecast 20 days ahead."""
    prices = data.load_prices(Config().data).frame["price"]
    rows = min(rows or len(prices), len(prices))
    path = folder / "prices.csv"
    prices.iloc[-rows:].rename("Adj Close").rename_axis("Date").to_csv(path)
    return {"predict": [str(path), str(folder / "forecast.csv"), "--horizon", "20"], "rows": rows, "unit": "price"}


if __name__ == "__main__":
    raise SystemExit(run_script(main))
