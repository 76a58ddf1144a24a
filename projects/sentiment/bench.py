"""Benchmark the sentiment project: 10-fold cross-validated quality, training speed, serving latency.

    $ make bench PROJECT=sentiment
    $ make bench PROJECT=sentiment ARGS="--part tuning"     # only the Optuna studies
    $ python -m projects.sentiment.bench [--folds 10] [--requests 1000]
    $ python -m projects.sentiment.bench --kinds lstm,transformer     # only these kinds; the others' kept

Quality is measured as the published results were: 10-fold cross-validation over all
10,662 sentences. In each fold the scikit-learn models train on the other nine folds; the
networks hold out a ninth of them for early stopping, as train.py does with its
validation split. Every model sees the same folds, so differences from the TF-IDF baseline
are also given paired, fold by fold (mean ± standard error): a difference within about two
standard errors of zero is not evidence of anything. Ablations switch off one design choice
at a time. Speed is the wall time and peak memory of `train` and `evaluate` run as a user
runs them (the default kind and each network); serving is a load test of a real uvicorn server
on 127.0.0.1. Results go to bench/results/sentiment.{json,md} and into this project's README.
`--kinds` measures only some kinds (quality, speed and serving) and keeps every other result of
the last full run as it was; the folds are the same (same seed), so the paired differences hold.

Tuning: `tune.py` studies run as a user runs them (tfidf; the network, with pruning), timed;
trial 0 of each is the default config. Results: bench/results/sentiment-tuning.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from tqdm import tqdm

from mlstarter import bench, loadgen, machine, paths, runs
from mlstarter.config import apply_overrides
from mlstarter.model_card import table
from mlstarter.paths import project_name
from mlstarter.scripts import run_script
from mlstarter.seeding import seed_everything

from . import data
from .config import Config
from .evaluate import PUBLISHED
from .model import NETWORK_KINDS, probability
from .serve import EXAMPLE
from .train import fit

PROJECT = project_name(__package__)
KINDS = ("tfidf", "nbsvm", "ensemble", "neural", "lstm", "transformer")
ABLATIONS = {
    "tfidf without character n-grams": ["model.kind=tfidf", "model.char_ngrams="],
    "tfidf with C=3 (less freedom)": ["model.kind=tfidf", "model.tfidf_c=3"],
    "nbsvm on word 1-2-grams (the paper's NBSVM-bi)": ["model.kind=nbsvm", "model.word_ngrams=2"],
    "nbsvm with character n-grams too": ["model.kind=nbsvm", "model.nbsvm_chars=true"],
    # the default before make bench of 2026-12-01: both members on word 1-2-grams and character n-grams
    "ensemble as before (word 1-2-grams, NB-SVM on characters too)": [
        "model.kind=ensemble",
        "model.word_ngrams=2",
        "model.nbsvm_chars=true",
    ],
    "neural without bigrams": ["model.kind=neural", "neural.bigrams=false"],
    "neural keeping n-grams seen once (min_count=1)": ["model.kind=neural", "neural.min_count=1"],
}


def cross_validate(cfg: Config, corpus: data.Data, folds: int, desc: str) -> dict[str, list[float]]:
    """Accuracy, macro F1, ROC AUC and fit seconds on each held-out fold of stratified k-fold CV over all sentences."""
    frame = corpus.sentences
    y = frame[data.LABEL].to_numpy()
    scores: dict[str, list[float]] = {"accuracy": [], "macro_f1": [], "roc_auc": [], "fit_seconds": []}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=cfg.seed)
    for fit_idx, test_idx in tqdm(list(splitter.split(frame, y)), desc=desc, unit="fold"):
        train, test = frame.iloc[fit_idx], frame.iloc[test_idx]
        val = train.iloc[:0]
        if cfg.model.kind in NETWORK_KINDS:  # early stopping needs validation sentences: a ninth of the training folds
            train, val = train_test_split(train, test_size=1 / 9, stratify=train[data.LABEL], random_state=cfg.seed)
        seed_everything(cfg.seed)  # every fold starts from the same random state, as train.py: a rerun repeats it
        start = time.perf_counter()
        classifier, _ = fit(cfg, dataclasses.replace(corpus, splits={"train": train, "val": val}), progress=False)
        scores["fit_seconds"].append(time.perf_counter() - start)
        p, y_test = probability(classifier, test[data.TEXT].tolist()), test[data.LABEL].to_numpy()
        scores["accuracy"].append(float(((p >= 0.5) == y_test).mean()))
        scores["macro_f1"].append(float(f1_score(y_test, p >= 0.5, average="macro")))
        scores["roc_auc"].append(float(roc_auc_score(y_test, p)))
    return scores


# model kind: trials (one worker, a seeded sampler, so a rerun proposes the same values)
STUDIES = {"tfidf": 10, "neural": 15}


def tuning_part() -> None:
    results: dict = {"project": PROJECT, "machine": machine.describe(), "load_average_before": list(os.getloadavg())}
    with tempfile.TemporaryDirectory() as runs_dir:
        results["studies"] = {
            kind: bench.bench_study(
                PROJECT,
                kind,
                ["--trials", str(n), "--set", f"model.kind={kind}", "--sampler-seed", "0"],
                1,
                Path(runs_dir),
            )
            for kind, n in STUDIES.items()
        }
    bench.write_section(PROJECT, "tuning", results, render_tuning(results))


def render_tuning(results: dict) -> str:
    def params(values: dict) -> str:
        return ", ".join(f"{k.split('.')[1]} {v:.3g}" if isinstance(v, float) else f"{k.split('.')[1]} {v}"
                         for k, v in values.items())  # fmt: skip

    def seconds(s: dict, state: str) -> str:
        t = s["trial_seconds"][state]
        return f"{t['min']:.0f}-{t['max']:.0f}" if t else "-"

    body = table(
        [
            {
                "study": kind,
                "trials (pruned)": f"{s['finished_trials']} ({s['pruned']})",
                "seconds per trial: complete / pruned": f"{seconds(s, 'complete')} / {seconds(s, 'pruned')}",
                "whole command (min)": f"{s['wall_seconds'] / 60:.1f}",
                "trial 0: the defaults' val accuracy": f"{s['baseline_value']:.3f}",
                "best val accuracy": f"{s['best_value']:.3f} ({params(s['best_params'])})",
            }
            for kind, s in results["studies"].items()
        ]
    )
    loads = ", ".join(f"{x:.2f}" for x in results["load_average_before"])
    return (
        f'Measured by `make bench PROJECT={results["project"]} ARGS="--part tuning"` on '
        f"{machine.line(results['machine'])}; load average before {loads}. One study of each, "
        f"`--sampler-seed 0`, on one validation split of {Config().data.val_size:.0%} of the sentences.\n\n{body}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=10, help="Folds of cross-validation (default 10).")
    parser.add_argument("--requests", type=int, default=1000, help="Requests per serving scenario (default 1000).")
    parser.add_argument(
        "--part", choices=("all", "quality", "tuning"), default="all", help="What to measure (default all)."
    )
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help="The model kinds to measure, comma-separated (default all). With only some, every other result "
        "(other kinds, ablations) is kept from the last run's bench/results file.",
    )
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        parser.error(f"--kinds {args.kinds}: {', '.join(unknown) or 'no kind'} is not one of {', '.join(KINDS)}")
    partial = set(kinds) != set(KINDS)
    if args.part == "tuning" or (args.part == "all" and not partial):
        tuning_part()
    if args.part == "tuning":
        return 0
    corpus = data.load(Config())
    results: dict = {"project": PROJECT, "machine": machine.describe(), "quality": {}, "ablations": {}, "speed": {}}
    if partial:  # the last run's results; the measured kinds' are replaced below, with a note of when
        previous = paths.repo_root() / "bench" / "results" / f"{PROJECT}.json"
        if not previous.is_file():
            parser.error(f"--kinds keeps the other kinds' results from {previous}, which does not exist: run all first")
        results = json.loads(previous.read_text(encoding="utf-8"))
        if len(results["quality"]["tfidf"]["accuracy"]["folds"]) != args.folds:
            parser.error(
                f"--kinds pairs the kinds' folds with the last run's, which had a different --folds than {args.folds}"
            )
        runs_so_far = [r for r in results.get("partial_runs", []) if set(r["kinds"]) - set(kinds)]
        threads = os.environ.get("OMP_NUM_THREADS", "all cores")  # torch's threads: one each on a shared machine
        results["partial_runs"] = [*runs_so_far, {"kinds": kinds, "machine": machine.describe(), "threads": threads}]

    # 1. Quality of every model kind, with the project's defaults, on the same folds.
    for kind in kinds:
        cfg = apply_overrides(Config(), [f"model.kind={kind}"])
        scores = cross_validate(cfg, corpus, args.folds, f"{kind}: {args.folds}-fold CV")
        results["quality"][kind] = {name: bench.summary(values) for name, values in scores.items()}
    results["quality"] = {kind: results["quality"][kind] for kind in KINDS if kind in results["quality"]}
    baseline = results["quality"]["tfidf"]["accuracy"]["folds"]
    for v in results["quality"].values():
        v["accuracy_vs_tfidf"] = bench.paired(v["accuracy"]["folds"], baseline)

    # 2. Ablations: one design choice switched off at a time, paired with the same kind's defaults.
    for name, overrides in ABLATIONS.items() if not partial else ():
        cfg = apply_overrides(Config(), overrides)
        scores = cross_validate(cfg, corpus, args.folds, name)
        reference = results["quality"][cfg.model.kind]["accuracy"]["folds"]
        results["ablations"][name] = {
            "accuracy": bench.summary(scores["accuracy"]),
            "fit_seconds": bench.summary(scores["fit_seconds"]),
            "accuracy_vs_default": bench.paired(scores["accuracy"], reference),
        }

    # 3. Speed: train + evaluate as `make train` / `make evaluate` run them: the default, then each network.
    served = {}
    for kind in [k for k in (Config().model.kind, *NETWORK_KINDS) if k in kinds]:
        command = [sys.executable, "-m", f"projects.{PROJECT}.train", "--set", f"model.kind={kind}"]
        results["speed"][f"train ({kind})"] = bench.timed_subprocess(command)
        served[kind] = runs.latest_run(PROJECT).run_id
        command = [sys.executable, "-m", f"projects.{PROJECT}.evaluate", "--run", served[kind]]
        results["speed"][f"evaluate ({kind})"] = bench.timed_subprocess(command)

    # 4. Serving: a real server in a subprocess, load from this process.
    results["serving"] = {name: v for name, v in results.get("serving", {}).items() if name.split(":")[0] not in kinds}
    batch = {"texts": [EXAMPLE["text"]] * 100}
    for kind, run_id in served.items():
        with loadgen.serve_in_subprocess(PROJECT, run_id) as url:
            scenarios = {
                f"{kind}: one text, 1 client": (f"{url}/predict", EXAMPLE, 1, args.requests),
                f"{kind}: one text, 8 clients": (f"{url}/predict", EXAMPLE, 8, args.requests),
                f"{kind}: batch of 100 texts, 1 client": (f"{url}/predict/batch", batch, 1, args.requests // 10),
            }
            for name, (endpoint, body, concurrency, n) in scenarios.items():
                results["serving"][name] = loadgen.load_test(endpoint, body, concurrency=concurrency, requests=n)

    q = results["quality"]
    best = max(q, key=lambda kind: q[kind]["accuracy"]["mean"])
    results["summary"] = {
        "project": f"[{PROJECT}](projects/{PROJECT}/README.md)",
        "task": "review polarity, text",
        "dataset": "Rotten Tomatoes sentences (Pang & Lee), 10,662",
        "result (cross-validated)": f"accuracy {q[best]['accuracy']['mean']:.3f} ({best}); "
        f"TF-IDF baseline {q['tfidf']['accuracy']['mean']:.3f}",
        "reference": "accuracy 0.794 (NB-SVM), 0.815 (CNN + word2vec)",
        "train + evaluate": f"{results['speed'][f'train ({Config().model.kind})']['seconds'] + results['speed'][f'evaluate ({Config().model.kind})']['seconds']:.0f} s",
        "measured": results["machine"]["date"],
    }
    bench.write_results(PROJECT, results, render(results))  # also prints the results and where they went
    return 0


def render(results: dict) -> str:
    q, m = results["quality"], results["machine"]
    folds = len(next(iter(q.values()))["accuracy"]["folds"])

    def spread(v: dict) -> str:
        return f"{v['mean']:.3f} ± {v['sd']:.3f}"

    def diff(v: dict) -> str:
        return f"{v['mean'] * 100:+.2f} ± {v['se'] * 100:.2f} points"

    quality = table(
        [
            {
                "model": f"**{kind}**",
                f"accuracy ({folds}-fold CV)": spread(v["accuracy"]),
                "vs tfidf (paired)": diff(v["accuracy_vs_tfidf"]),
                "macro F1": spread(v["macro_f1"]),
                "ROC AUC": spread(v["roc_auc"]),
                "fit time per fold (s)": f"{v['fit_seconds']['mean']:.1f}",
            }
            for kind, v in q.items()
        ]
        + [
            {
                "model": f"{name} (published)",
                f"accuracy ({folds}-fold CV)": f"{acc:.3f}",
                "vs tfidf (paired)": "",
                "macro F1": "",
                "ROC AUC": "",
                "fit time per fold (s)": "",
            }
            for name, acc in PUBLISHED.items()
        ]
        + [
            {
                "model": "no model: always one class",
                f"accuracy ({folds}-fold CV)": "0.500",
                "vs tfidf (paired)": "",
                "macro F1": "0.333",
                "ROC AUC": "0.500",
                "fit time per fold (s)": "",
            }
        ]
    )
    ablations = table(
        [
            {
                "changed": name,
                f"accuracy ({folds}-fold CV)": spread(v["accuracy"]),
                "vs the same kind with defaults (paired)": diff(v["accuracy_vs_default"]),
                "fit time per fold (s)": f"{v['fit_seconds']['mean']:.1f}",
            }
            for name, v in results["ablations"].items()
        ]
    )
    speed = bench.speed_table(results["speed"])
    serving = bench.serving_table(results["serving"])
    later = "".join(
        f" {', '.join(r['kinds'])}: measured later, by `make bench PROJECT={results['project']} "
        f'ARGS="--kinds {",".join(r["kinds"])}"` on {machine.line(r["machine"])}; OMP_NUM_THREADS {r["threads"]}.'
        for r in results.get("partial_runs", [])
    )
    return (
        f"Measured by `make bench PROJECT={results['project']}` on {machine.line(m)}.{later}\n\n"
        f"**Quality**: mean ± sd over {folds} held-out folds of stratified cross-validation on all 10,662 "
        f"sentences, the protocol of the published results (which come from the papers, not from this machine). "
        f"`vs tfidf` is the paired difference from the TF-IDF baseline on the same folds (mean ± standard error).\n\n"
        f"{quality}\n\n"
        f"**What each choice is worth** (one change at a time):\n\n{ablations}\n\n"
        f"**Speed** (each step run as `python -m projects.{results['project']}.<step>`, with 80% of the "
        f"sentences for training):\n\n{speed}\n\n"
        f"**Serving** (uvicorn, 1 worker, on 127.0.0.1; load from a second process; each answer includes the "
        f"words that pushed the decision, which costs one more prediction per distinct word):\n\n{serving}"
    )


def predict_input(folder: Path, rows: int | None = None) -> dict:
    """`make bench-predict`: a text file of 100,000 sentences (the corpus's, repeated) for predict.py."""
    rows = rows or 100_000
    texts = data.load(Config()).sentences[data.TEXT]
    path = folder / "reviews.txt"
    path.write_text("\n".join(texts.sample(rows, replace=True, random_state=0)) + "\n", encoding="utf-8")
    return {"predict": [str(path), str(folder / "labels.csv")], "rows": rows, "unit": "line"}


if __name__ == "__main__":
    raise SystemExit(run_script(main))
