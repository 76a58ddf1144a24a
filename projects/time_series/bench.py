"""Benchmark the time-series project: the walk-forward backtest's honesty and speed, and serving latency.

    $ make bench PROJECT=time_series
    $ make bench PROJECT=time_series ARGS="--part sequence"     # only the LSTM and GRU backtest, and the price trap
    $ python -m projects.time_series.bench [--requests 500] [--part all|sequence]

Runs `train` then `evaluate` as a user runs them, with the default config (expanding window,
monthly refits) and with a rolling four-year window refitted quarterly, on the S&P 500 series
that ships with `arch`. Reports every model's out-of-sample scores with their significance,
the intervals' coverage, and the backtest's wall time; then a load test of a real uvicorn
server. Results go to bench/results/time_series.{json,md} and into this project's README.

Then the opt-in sequence models: the default backtest again with the LSTM and the GRU beside the
six others (each model's wall time recorded), and the price-level trap (price_trap.py) on the
same series. Results: bench/results/time_series-sequence.{json,md} and the README's
`bench:sequence` block.
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
from .config import RETURN_MODELS, SEQUENCE_MODELS, Config

PROJECT = project_name(__package__)
VARIANTS = {
    "expanding window, monthly refits (default)": [],
    "rolling 4-year window, quarterly refits": ["backtest.window=rolling", "backtest.refit_every=63"],
}
EVERY_RETURN_MODEL = [f"model.returns={','.join(RETURN_MODELS)}"]  # the six default models, the LSTM and the GRU


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
        "overrides": overrides,
        "model_seconds": {m: run.metrics[f"backtest_seconds_{m}"] for m in cfg.model.returns},
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
        "--part",
        choices=["all", "sequence"],
        default="all",
        help="all: every measurement; sequence: only the backtest with the LSTM and GRU, and the price trap "
        "(about half an hour on 2 busy cores).",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="Measure nothing: write the README blocks again from the last results (bench/results/), "
        "after a change to how they are shown.",
    )
    args = parser.parse_args(argv)
    folder = paths.repo_root() / "bench" / "results"
    if args.render:
        results = json.loads((folder / f"{PROJECT}.json").read_text(encoding="utf-8"))
        results["summary"] = summarize(results)
        bench.write_results(PROJECT, results, render(results))
        if (folder / f"{PROJECT}-sequence.json").is_file():
            sequence = json.loads((folder / f"{PROJECT}-sequence.json").read_text(encoding="utf-8"))
            bench.write_section(PROJECT, "sequence", sequence, render_sequence(sequence))
        return 0
    if args.part == "sequence":
        sequence = bench_sequence()
        bench.write_section(PROJECT, "sequence", sequence, render_sequence(sequence))
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
    sequence = bench_sequence()
    bench.write_section(PROJECT, "sequence", sequence, render_sequence(sequence))
    return 0


def bench_sequence() -> dict:
    """The default backtest with the sequence models beside the others, then the price-level trap, as a user runs
    them: `train` and `evaluate` with --set model.returns=...,lstm,gru, and `python -m ...price_trap`."""
    results: dict = {"project": PROJECT, "machine": machine.describe(), "load_average_before": load_average()}
    run = train_and_evaluate(EVERY_RETURN_MODEL)
    cfg = model.load(runs.latest_run(PROJECT, run["run_id"])).cfg  # the settings the run was trained with
    every = {m: cfg.sequence.refit_every if m in SEQUENCE_MODELS else cfg.backtest.refit_every for m in RETURN_MODELS}
    all_origins = run["origins"] + cfg.backtest.warmup_days  # the warm-up origins are forecast (and fitted) too
    run["refit_every"] = every
    run["refits"] = {m: -(-all_origins // every[m]) for m in RETURN_MODELS}  # ceil(origins / every)
    run["sequence_settings"] = vars(cfg.sequence)
    results["run"] = run
    speed = bench.timed_subprocess([sys.executable, "-m", f"projects.{PROJECT}.price_trap"])
    trap = json.loads((paths.runs_dir() / f"{PROJECT}-price-trap" / "results.json").read_text(encoding="utf-8"))
    results["price_trap"] = {**trap, "speed": speed}
    results["load_average_after"] = load_average()
    return results


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
        parts += render_returns(v)
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


def render_returns(v: dict) -> list[str]:
    """A backtest's return scores and its verdict over all the models at once, as Markdown parts."""
    return [
        "**Returns** (MASE: MAE / the random walk's MAE on the same days; DM p: Diebold-Mariano test of "
        "squared errors against the random walk, two-sided; direction p: binomial test against 50% on non-overlapping origins, one-sided):\n",
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
        ),
        f"\n**All models at once** (Hansen's SPA test of 'no model beats the random walk' on squared errors, "
        "which allows for picking the best of several: the consistent p-value with its lower and upper bounds; "
        f"StepM names the models that beat it with a {evaluate.SIGNIFICANT:.0%} chance of naming any wrongly; "
        "stationary block bootstrap, "
        f"mean block {v['spa_settings']['block_days']} days, {v['spa_settings']['reps']:,} resamples, "
        f"seed {v['spa_settings']['seed']}):\n",
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
        ),
    ]


def render_sequence(results: dict) -> str:
    """The sequence models' backtest (what each model cost, and every score beside the others') and the price trap."""
    v, trap, sc = results["run"], results["price_trap"], results["run"]["sequence_settings"]
    cores, after = results["machine"]["cores"], ", ".join(map(str, results["load_average_after"]))
    parts = [
        f'Measured by `make bench PROJECT={results["project"]} ARGS="--part sequence"` (part of `make bench '
        f"PROJECT={results['project']}`) on {machine.line(results['machine'])}, {after} after (1, 5 and 15 "
        f"minutes), on {cores} cores: above {cores}, other work was waiting for the cores and slowed every timing "
        "below (the scores do not depend on it).\n",
        f"**The default backtest with the LSTM and the GRU.** `--set {v['overrides'][0]}`: {v['origins']:,} scored "
        f"origins, {v['first']} to {v['last']}; backtest {v['backtest_seconds']:.0f} s, `train` "
        f"{v['speed']['train']['seconds']:.0f} s in all (peak {v['speed']['train']['peak_rss_mib']:.0f} MiB), "
        f"`evaluate` {v['speed']['evaluate']['seconds']:.0f} s. The sequence models: {sc['length']}-day sequences, "
        f"hidden size {sc['hidden_size']}, up to {sc['epochs']} epochs (patience {sc['patience']}), refitted every "
        f"{sc['refit_every']} origins; the others every {v['refit_every']['naive']}.\n",
        "**What each return model cost** (its fits and forecasts over all origins, warm-up included):\n",
        table(
            [
                {
                    "model": m,
                    "refits": v["refits"][m],
                    "seconds": f"{seconds:.1f}",
                    "seconds per refit": f"{seconds / v['refits'][m]:.2f}",
                }
                for m, seconds in v["model_seconds"].items()
            ]
        ),
        "",
        *render_returns(v),
        "\n" + "\n".join(f"- {line}" for line in v["verdicts"] if not line.startswith("Volatility")) + "\n",
        f"**The price-level trap.** `python -m projects.{results['project']}.price_trap`: the LSTM on windows of "
        f"{trap['price_trap']['length']} prices ({trap['price_trap']['scaling']} scaling), tested on the last "
        f"{trap['price_trap']['test_share']:.0%}, {trap['first']} to {trap['last']} ({trap['scores']['test_days']:,} "
        f"days); {trap['epochs']} epochs (best {trap['best_epoch']}), trained in {trap['train_seconds']:.0f} s, "
        f"{trap['speed']['seconds']:.0f} s in all. Report: `runs/{results['project']}-price-trap/report.md`.\n",
        table(
            [
                {
                    "forecast": "LSTM on prices",
                    "R² on prices": f"{trap['scores']['r2_price']:.4f}",
                    "MASE on returns": shown(trap["scores"]["mase"]),
                    "DM p": _p(trap["scores"]["dm_p"]),
                    "squared error vs the random walk": "higher" if trap["scores"]["dm_difference"] > 0 else "lower",
                    "direction": _pct(trap["scores"]["direction"]),
                    "always up": _pct(trap["scores"].get("up_share")),
                },
                {
                    "forecast": "random walk (P_t)",
                    "R² on prices": f"{trap['scores']['r2_price_random_walk']:.4f}",
                    "MASE on returns": "1",
                    "DM p": "-",
                    "squared error vs the random walk": "-",
                    "direction": "-",
                    "always up": "-",
                },
            ]
        ),
    ]
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
