"""Benchmark the credit-risk project: quality by repeated cross-validation, speed, serving latency.

    $ make bench PROJECT=credit_risk
    $ make bench PROJECT=credit_risk ARGS="--part tuning"     # only the Optuna studies
    $ python -m projects.credit_risk.bench

From one 200-applicant test fold to the next ROC AUC moves by about ±0.03, so quality is
measured the way the published results were, over many folds:
- ROC AUC by 5 x 5-fold stratified cross-validation: in each fold, the training part
  chooses hyperparameters by inner CV exactly as train.py does, then the model is scored
  on the held-out fold;
- the expected cost per applicant by 10-fold CV (the StatLog protocol): in each fold,
  train.py's whole procedure (CV, threshold, refit) on the training folds, cost on the
  held-out fold.
Every model and variant sees the same folds, so differences are also reported paired,
fold by fold, as mean ± standard error: a difference within about two standard errors of
zero is not evidence of anything.
Speed is the wall time and peak memory of `train` and `evaluate` run as a user runs them
(the run lands in runs/ like any other); serving is a load test of a real uvicorn server on
127.0.0.1 from this (second) process. Results go to bench/results/credit_risk.{json,md}
and into this project's README.

Tuning: `tune.py` studies run as a user runs them (logistic and boosting, each with one and
with two workers on one SQLite study), timed: trials per minute from the trials' own
start and end times. Then train + evaluate with the default config and with the best
config found, for the test ROC AUC of each. Results: bench/results/credit_risk-tuning.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from tqdm import tqdm

from mlstarter import bench, loadgen, machine, paths, runs
from mlstarter.config import apply_overrides
from mlstarter.model_card import table
from mlstarter.paths import project_name
from mlstarter.scripts import run_script

from . import data, model
from .config import Config
from .serve import EXAMPLE
from .train import cross_validate, fit, tune_threshold

PROJECT = project_name(__package__)
KINDS = ("logistic", "boosting", "blend")
# Reference results on this dataset. ROC AUC: 5-fold CV results for this dataset as quoted in
# this project's brief. Cost: the StatLog comparison, 10-fold CV with the same cost matrix
# (Michie, Spiegelhalter & Taylor, Machine Learning, Neural and Statistical Classification, 1994).
REFERENCE_AUC = {"logistic regression": 0.780, "random forest": 0.791, "boosting": 0.799}
REFERENCE_COST = {"LDA, best in StatLog": 0.535, "logistic, StatLog": 0.538}


def cv_auc(cfg: Config, frame, repeats: int, folds: int) -> list[float]:
    """ROC AUC on each held-out fold of repeated stratified k-fold CV (hyperparameters chosen inside)."""
    X, y = data.features(frame, cfg.data.drop_features), frame[data.TARGET].to_numpy()
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=cfg.seed)
    aucs = []
    estimator = model.build(cfg, X)
    for fit_idx, test_idx in tqdm(
        list(splitter.split(X, y)), desc=f"{cfg.model.kind}: {repeats}x{folds}-fold AUC", unit="fold"
    ):
        params, _, _ = cross_validate(cfg, estimator, X.iloc[fit_idx], y[fit_idx], progress=False)
        fitted = clone(estimator).set_params(**params).fit(X.iloc[fit_idx], y[fit_idx])
        aucs.append(float(roc_auc_score(y[test_idx], fitted.predict_proba(X.iloc[test_idx])[:, 1])))
    return aucs


def cv_cost(cfg: Config, frame, folds: int, threshold_from: str = "cv") -> tuple[list[float], list[float]]:
    """Expected cost per applicant on each held-out fold, and the threshold used in each.

    threshold_from="cv": train.py's procedure (the validation folds of its cross-validation choose it);
    "split": a single stratified 25% validation split chooses it instead (the model is still refit on all);
    "bayes": the theoretical good_as_bad / (good_as_bad + bad_as_good), no data needed.
    """
    y = frame[data.TARGET].to_numpy()
    costs, thresholds = [], []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=cfg.seed)
    estimator = model.build(cfg, data.features(frame, cfg.data.drop_features))
    for fit_idx, test_idx in tqdm(
        list(splitter.split(frame, y)), desc=f"{cfg.model.kind}: {folds}-fold cost ({threshold_from})", unit="fold"
    ):
        develop, test = frame.iloc[fit_idx], frame.iloc[test_idx]
        result = fit(cfg, estimator, develop, progress=False)
        threshold = result.threshold
        if threshold_from == "split":
            X, y_develop = data.features(develop, cfg.data.drop_features), develop[data.TARGET].to_numpy()
            chosen = clone(estimator).set_params(**result.params)
            threshold = float(tune_threshold(cfg, chosen, X, y_develop, cv=0.25).best_threshold_)
        elif threshold_from == "bayes":
            threshold = model.bayes_threshold(cfg.cost)
        p = result.model.predict_proba(data.features(test, cfg.data.drop_features))[:, 1]
        costs.append(model.expected_cost(test[data.TARGET].to_numpy(), p, threshold, cfg.cost))
        thresholds.append(threshold)
    return costs, thresholds


# name: (model kind, trials, worker processes)
STUDIES = {
    "logistic, 1 worker": ("logistic", 50, 1),
    "logistic, 2 workers": ("logistic", 50, 2),
    "boosting, 1 worker": ("boosting", 20, 1),
    "boosting, 2 workers": ("boosting", 20, 2),
}


def train_evaluate_metrics(env: dict, config: str | None = None) -> dict:
    """`train` (with the defaults, or `--config config`) then `evaluate`; the run's key metrics."""
    python = [sys.executable, "-m"]
    subprocess.run([*python, f"projects.{PROJECT}.train", *(["--config", config] if config else [])],
                   env=env, check=True, capture_output=True)  # fmt: skip
    subprocess.run([*python, f"projects.{PROJECT}.evaluate"], env=env, check=True, capture_output=True)
    run = sorted(p for p in (Path(env["MLSTARTER_RUNS_DIR"]) / PROJECT).iterdir() if not p.name.startswith("."))[-1]
    metrics = json.loads((run / "metrics.json").read_text())
    return {k: metrics[k] for k in ("val_cost", "cv_roc_auc_mean", "test_roc_auc", "test_cost")}


def tuning_part() -> None:
    results: dict = {"project": PROJECT, "machine": machine.describe(), "load_average_before": list(os.getloadavg())}
    with tempfile.TemporaryDirectory() as runs_dir:
        results["studies"] = {}
        for name, (kind, trials, workers) in STUDIES.items():
            args = ["--trials", str(trials), "--set", f"model.kind={kind}"]
            args += ["--sampler-seed", "0"] if workers == 1 else []  # two workers with one seed would propose alike
            study = name.replace(", ", "-").replace(" ", "-")
            results["studies"][name] = bench.bench_study(PROJECT, study, args, workers, Path(runs_dir))
        env = {**os.environ, "MLSTARTER_RUNS_DIR": runs_dir}
        results["default_config"] = train_evaluate_metrics(env)
        results["best_config"] = train_evaluate_metrics(env, results["studies"]["logistic, 1 worker"]["best_config"])
    bench.write_section(PROJECT, "tuning", results, render_tuning(results))


def render_tuning(results: dict) -> str:
    body = table(
        [
            {
                "study": name,
                "trials": s["finished_trials"],
                "trials per minute": f"{s['trials_per_minute']:.0f}",
                "whole command (s)": f"{s['wall_seconds']:.0f}",
                "best cost per applicant (CV)": f"{s['best_value']:.3f}",
                "its CV ROC AUC": f"{s['best_also']['cv_roc_auc_mean']:.3f}",
            }
            for name, s in results["studies"].items()
        ]
    )
    d, b = results["default_config"], results["best_config"]
    c = results["studies"]["logistic, 1 worker"]["best_params"]["model.logistic_c"]
    loads = ", ".join(f"{x:.2f}" for x in results["load_average_before"])
    return (
        f'Measured by `make bench PROJECT={results["project"]} ARGS="--part tuning"` on '
        f"{machine.line(results['machine'])}; load average before {loads}.\n\n{body}\n\n"
        f"Each study minimises the cost per applicant at the threshold chosen on its out-of-fold predictions (as "
        f"train.py chooses it), the figure the project decides by; ROC AUC is kept beside it.\n\n"
        f"The logistic study's best config (C = {c:.3g}) against the default grid, each trained and evaluated once: "
        f"cost per applicant (CV) {b['val_cost']:.3f} vs {d['val_cost']:.3f}; "
        f"5-fold CV ROC AUC {b['cv_roc_auc_mean']:.3f} vs {d['cv_roc_auc_mean']:.3f}; test ROC AUC "
        f"{b['test_roc_auc']:.3f} vs {d['test_roc_auc']:.3f}; test cost per applicant {b['test_cost']:.3f} vs "
        f"{d['test_cost']:.3f}. The best CV score of a study is chosen among its trials on the same folds, so it "
        f"flatters; the 200 test applicants move ROC AUC by about ±0.03, so only a larger gap than that means much."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="Repeats of 5-fold CV for ROC AUC (default 5).")
    parser.add_argument("--requests", type=int, default=1000, help="Requests per serving scenario (default 1000).")
    parser.add_argument(
        "--part",
        choices=("all", "quality", "tuning", "render"),
        default="all",
        help="What to measure (default all); render: write the README blocks again from the last results "
        "(bench/results/), after a change to how they are shown, measuring nothing.",
    )
    args = parser.parse_args(argv)
    if args.part == "render":
        results = json.loads((paths.repo_root() / "bench" / "results" / f"{PROJECT}.json").read_text(encoding="utf-8"))
        results["summary"] = summarize(results)
        bench.write_results(PROJECT, results, render(results))
        return 0
    if args.part in ("all", "tuning"):
        tuning_part()
        if args.part == "tuning":
            return 0
    frame = data.load(Config()).frame
    results: dict = {
        "project": PROJECT,
        "machine": machine.describe(),
        "quality": {},
        "ablations": {},
        "speed": {},
        "serving": {},
    }

    # 1. Quality of every model kind, with the project's defaults; differences paired against the default.
    for kind in KINDS:
        cfg = apply_overrides(Config(), [f"model.kind={kind}"])
        costs, thresholds = cv_cost(cfg, frame, 10)
        results["quality"][kind] = {
            "roc_auc": bench.summary(cv_auc(cfg, frame, args.repeats, 5)),
            "cost": bench.summary(costs),
            "threshold": bench.summary(thresholds),
        }
    default = results["quality"][Config().model.kind]
    for v in results["quality"].values():
        v["roc_auc_vs_default"] = bench.paired(v["roc_auc"]["folds"], default["roc_auc"]["folds"])
        v["cost_vs_default"] = bench.paired(v["cost"]["folds"], default["cost"]["folds"])

    # 2. Ablations of the logistic model's cost: what each design choice is worth.
    logistic = apply_overrides(Config(), ["model.kind=logistic"])
    variants = {
        "threshold from a single 25% validation split": (logistic, "split"),
        "Bayes threshold 1/6, no tuning": (logistic, "bayes"),
        "without cost weighting": (apply_overrides(logistic, ["model.logistic_cost_weighted=false"]), "cv"),
    }
    for name, (cfg, threshold_from) in variants.items():
        costs, thresholds = cv_cost(cfg, frame, 10, threshold_from)
        results["ablations"][name] = {
            "cost": bench.summary(costs),
            "threshold": bench.summary(thresholds),
            "cost_vs_default": bench.paired(costs, results["quality"]["logistic"]["cost"]["folds"]),
        }

    # 3. Speed: train + evaluate with the defaults, as `make train` / `make evaluate` run them.
    for step in ("train", "evaluate"):
        results["speed"][step] = bench.timed_subprocess([sys.executable, "-m", f"projects.{PROJECT}.{step}"])
    run_id = runs.latest_run(PROJECT).run_id

    # 4. Serving: a real server in a subprocess, load from this process.
    with loadgen.serve_in_subprocess(PROJECT, run_id) as url:
        batch = {"applicants": [EXAMPLE] * 100}
        scenarios = {
            "single, 1 client": (f"{url}/predict", EXAMPLE, 1, args.requests),
            "single, 8 clients": (f"{url}/predict", EXAMPLE, 8, args.requests),
            "single with explanation, 1 client": (f"{url}/predict?explain=true", EXAMPLE, 1, args.requests // 2),
            "batch of 100, 1 client": (f"{url}/predict/batch", batch, 1, args.requests // 10),
        }
        for name, (endpoint, body, concurrency, n) in scenarios.items():
            results["serving"][name] = loadgen.load_test(endpoint, body, concurrency=concurrency, requests=n)

    results["summary"] = summarize(results)
    bench.write_results(PROJECT, results, render(results))  # also prints the results and where they went
    return 0


def summarize(results: dict) -> dict:
    """The project's row of the top-level README: the default model's figures first, as a default run trains it."""
    quality, default = results["quality"], Config().model.kind
    best = max(quality, key=lambda kind: quality[kind]["roc_auc"]["mean"])
    cheapest = min(quality, key=lambda kind: quality[kind]["cost"]["mean"])
    result = f"ROC AUC {quality[default]['roc_auc']['mean']:.3f}, cost {quality[default]['cost']['mean']:.3f} ({default}, the default)"
    if best != default:
        result += f"; best ROC AUC {quality[best]['roc_auc']['mean']:.3f}: `--set model.kind={best}`"
    if cheapest != default:
        result += f"; lowest cost {quality[cheapest]['cost']['mean']:.3f}: `--set model.kind={cheapest}`"
    return {
        "project": f"[{PROJECT}](projects/{PROJECT}/README.md)",
        "task": "loan default, tabular",
        "dataset": "German Credit (UCI), 1000 rows",
        "result (cross-validated)": result,
        "reference": "ROC AUC 0.780–0.799; cost 0.535 (StatLog)",
        "train + evaluate": f"{sum(v['seconds'] for v in results['speed'].values()):.0f} s",
        "measured": results["machine"]["date"],
    }


def render(results: dict) -> str:
    q, m = results["quality"], results["machine"]

    def spread(v: dict) -> str:
        return f"{v['mean']:.3f} ± {v['sd']:.3f}"

    def diff(v: dict) -> str:
        return f"{v['mean']:+.3f} ± {v['se']:.3f}"

    quality = table(
        [
            {
                "model": f"**{kind}**",
                "ROC AUC (5x5-fold CV)": spread(v["roc_auc"]),
                "vs logistic": diff(v["roc_auc_vs_default"]),
                "cost per applicant (10-fold CV)": spread(v["cost"]),
                "vs logistic ": diff(v["cost_vs_default"]),
                "threshold": f"{v['threshold']['mean']:.2f} ± {v['threshold']['sd']:.2f}",
            }
            for kind, v in q.items()
        ]
        + [
            {
                "model": f"{name} (reference)",
                "ROC AUC (5x5-fold CV)": f"{auc:.3f}",
                "vs logistic": "",
                "cost per applicant (10-fold CV)": "",
                "vs logistic ": "",
                "threshold": "",
            }
            for name, auc in REFERENCE_AUC.items()
        ]
        + [
            {
                "model": f"{name} (reference)",
                "ROC AUC (5x5-fold CV)": "",
                "vs logistic": "",
                "cost per applicant (10-fold CV)": f"{cost:.3f}",
                "vs logistic ": "",
                "threshold": "",
            }
            for name, cost in REFERENCE_COST.items()
        ]
        + [
            {
                "model": "no model: reject everyone",
                "ROC AUC (5x5-fold CV)": "0.500",
                "vs logistic": "",
                "cost per applicant (10-fold CV)": "0.700",
                "vs logistic ": "",
                "threshold": "0",
            }
        ]
    )
    ablations = table(
        [
            {
                "logistic model, changed": name,
                "cost per applicant (10-fold CV)": spread(v["cost"]),
                "vs the project's logistic model": diff(v["cost_vs_default"]),
                "threshold": f"{v['threshold']['mean']:.2f} ± {v['threshold']['sd']:.2f}",
            }
            for name, v in results["ablations"].items()
        ]
    )
    speed = bench.speed_table(results["speed"])
    serving = bench.serving_table(results["serving"])
    auc_folds = len(next(iter(q.values()))["roc_auc"]["folds"])
    return (
        f"Measured by `make bench PROJECT={results['project']}` on {machine.line(m)}.\n\n"
        f"**Quality**: mean ± sd over {auc_folds} held-out folds for ROC AUC and 10 for cost, with the "
        f"hyperparameters and the threshold chosen inside each fold, as train.py does. The `vs logistic` columns are "
        f"paired differences from the default model on the same folds (mean ± standard error). References: ROC AUC "
        f"from 5-fold CV as quoted in this project's brief; cost from the StatLog comparison (Michie et al., 1994).\n\n"
        f"{quality}\n\n"
        f"**What each choice is worth** (the logistic model; 10-fold CV cost, lower is better):\n\n{ablations}\n\n"
        f"**Speed** (default config, each step run as `python -m projects.{results['project']}.<step>`):\n\n{speed}\n\n"
        f"**Serving** (uvicorn, 1 worker, on 127.0.0.1; load from a second process):\n\n{serving}"
    )


def predict_input(folder: Path, rows: int | None = None) -> dict:
    """`make bench-predict`: a CSV of 1,000,000 applicants (the data's 1,000, repeated) for predict.py."""
    rows = rows or 1_000_000
    frame = data.load(Config()).frame
    path = folder / "applicants.csv"
    frame.sample(rows, replace=True, random_state=0).to_csv(path, index=False)
    return {"predict": [str(path), str(folder / "scores.csv")], "rows": rows, "unit": "line"}


if __name__ == "__main__":
    raise SystemExit(run_script(main))
