"""Benchmark the GAN project: image quality over several seeds, training speed, 28x28 images, serving latency.

    $ make bench PROJECT=gan
    $ python -m projects.gan.bench [--seeds 3] [--epochs-28 60] [--requests 300] [--data file.npz]

Quality: `train` then `evaluate`, run as a user runs them, on the digits with the default
(conditional) config and several seeds (a GAN's result moves with its random start), plus the
unconditional variant. The targets of the project: training under 3 minutes on 2 CPU cores, a
Fréchet distance under a third of the untrained generator's, and a class accuracy of the
conditional samples of at least 90%. Then one 28x28 model, timed against its target of 15
minutes: on MNIST when it can be found or downloaded, else on the shared PneumoniaMNIST-format
X-ray sample (`MLSTARTER_DATA_DIR`), and the results say which. Serving is a load test of a real
uvicorn server. Results go to bench/results/gan.{json,md} and into this project's README.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mlstarter import bench, datasets, loadgen, machine, runs
from mlstarter.metrics import shown
from mlstarter.model_card import table
from mlstarter.paths import project_name
from mlstarter.scripts import run_script

from . import data

PROJECT = project_name(__package__)
SAMPLE = Path("pneumoniamnist-sample") / "pneumoniamnist_balanced.npz"
TARGET_SECONDS = {"digits": 180, "28x28": 900}  # the project's speed targets on 2 cores (issue 5)
# The 28x28 run: 60 epochs on the 2,428 X-rays make 2,220 updates; MNIST's 55,000 training images make 859 an
# epoch, so 4 epochs there make 3,436, and its judge needs no more than 2 epochs of patience on so many images.
SETTINGS_28 = {"xrays": ["train.epochs=60"], "mnist": ["train.epochs=4", "judge.patience=2"]}
KEYS = ("test_fd", "test_fd_real", "test_fd_untrained", "test_fd_ratio", "test_precision", "test_recall",
        "test_class_mix_tv", "test_near_copies", "test_nn_distance_fake", "test_nn_distance_real",
        "val_best_epoch", "judge_val_accuracy", "test_judge_accuracy_real")  # fmt: skip


def find_28x28_data(explicit: str | None) -> tuple[list[str], str, str]:
    """(training arguments, a name, a description) of the 28x28 data: yours, MNIST, or the shared X-ray sample."""
    if explicit:
        return ["--data", explicit], "xrays", f"your file {explicit}"
    try:
        datasets.fetch(data.MNIST)
        return ["--set", "data.source=mnist"], "mnist", "MNIST (55,000 training images, 28x28)"
    except datasets.DatasetNotFoundError:
        for folder in filter(None, os.environ.get("MLSTARTER_DATA_DIR", "").split(os.pathsep)):
            if (Path(folder) / SAMPLE).is_file():
                return (
                    ["--data", str(Path(folder) / SAMPLE)],
                    "xrays",
                    (
                        "the shared PneumoniaMNIST-format sample (2,428 training chest X-rays, 28x28), because MNIST "
                        "could not be downloaded here"
                    ),
                )
    raise SystemExit("No 28x28 data: neither MNIST nor the shared sample (set MLSTARTER_DATA_DIR) is available.")


def train_and_evaluate(args: list[str], processes: int = 1) -> dict:
    """`train` (in `processes` processes with torchrun when above 1) then `evaluate`, timed as a user runs them."""
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"] if processes > 1 else []
    command = [sys.executable, *launcher, "-m", f"projects.{PROJECT}.train", *args]
    speed = {"train": bench.timed_subprocess(command)}
    run = runs.latest_run(PROJECT)
    speed["evaluate"] = bench.timed_subprocess(
        [sys.executable, "-m", f"projects.{PROJECT}.evaluate", "--run", run.run_id]
    )
    m = runs.latest_run(PROJECT, run.run_id).metrics
    found = {k: m[k] for k in (*KEYS, "test_class_accuracy") if k in m}
    return {"run_id": run.run_id, "args": args, **found, "speed": speed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="Seeds of the default digits model (default 3).")
    parser.add_argument("--epochs-28", type=int, default=None, help="Epochs of the 28x28 run (default: SETTINGS_28).")
    parser.add_argument("--requests", type=int, default=300, help="Requests per serving scenario (default 300).")
    parser.add_argument("--data", default=None, help="Use this 28x28 .npz for the 28x28 run instead of MNIST.")
    args = parser.parse_args(argv)
    results: dict = {
        "project": PROJECT,
        "machine": machine.describe(),
        "load_average_before": load_average(),
        "runs": {},
    }

    # 1. The digits: the default conditional model over several seeds, then the unconditional variant.
    for seed in range(42, 42 + args.seeds):
        results["runs"][f"digits, conditional, seed {seed}"] = train_and_evaluate(["--set", f"seed={seed}"])
    default_run = results["runs"]["digits, conditional, seed 42"]["run_id"]
    results["runs"]["digits, unconditional, seed 42"] = train_and_evaluate(["--set", "model.conditional=false"])
    # the same default training in two processes (DDP, `make train NPROC=2`): does it learn as well as one?
    results["runs"]["digits, conditional, seed 42, 2 processes"] = train_and_evaluate([], processes=2)
    conditional = [results["runs"][f"digits, conditional, seed {seed}"] for seed in range(42, 42 + args.seeds)]
    results["digits"] = {
        key: bench.summary([v[key] for v in conditional])
        for key in ("test_fd", "test_fd_real", "test_fd_untrained", "test_fd_ratio", "test_class_accuracy")
    }
    results["digits"]["train_seconds"] = bench.summary([v["speed"]["train"]["seconds"] for v in conditional])

    # 2. A 28x28 model, against its 15-minute target.
    data_args, kind, label = find_28x28_data(args.data)
    settings = [*SETTINGS_28[kind], *([f"train.epochs={args.epochs_28}"] if args.epochs_28 else [])]
    results["data_28"] = label
    results["runs"][f"28x28 ({kind}), conditional, seed 42"] = train_and_evaluate(
        [*data_args, *[arg for s in settings for arg in ("--set", s)]]
    )

    # 3. Serving: a PNG grid of 16 images, and 100 images as JSON pixels.
    results["serving"] = {}
    with loadgen.serve_in_subprocess(PROJECT, default_run) as url:
        scenarios = {
            "16 images as a PNG grid, 1 client": ({"n": 16, "seed": 3}, 1),
            "16 images as a PNG grid, 8 clients": ({"n": 16, "seed": 3}, 8),
            "100 images as JSON, 1 client": ({"n": 100, "seed": 3, "format": "json"}, 1),
        }
        for name, (params, concurrency) in scenarios.items():
            results["serving"][name] = loadgen.load_test(
                f"{url}/generate", method="GET", params=params, concurrency=concurrency, requests=args.requests
            )

    results["load_average_after"] = load_average()
    d = results["digits"]
    results["summary"] = {
        "project": f"[{PROJECT}](projects/{PROJECT}/README.md)",
        "task": "image synthesis (GAN), images",
        "dataset": "scikit-learn digits, 1,797 8x8",
        "result (cross-validated)": f"Fréchet distance {d['test_fd']['mean']:.1f} (real images {d['test_fd_real']['mean']:.1f}, "
        f"untrained {d['test_fd_untrained']['mean']:.0f}); class accuracy {shown(d['test_class_accuracy']['mean'])} "
        f"({args.seeds} seeds, test split)",
        "reference": "targets: under 1/3 of the untrained distance, accuracy at least 0.90",
        "train + evaluate": f"{d['train_seconds']['mean'] + conditional[0]['speed']['evaluate']['seconds']:.0f} s",
        "measured": results["machine"]["date"],
    }
    bench.write_results(PROJECT, results, render(results))  # also prints the results and where they went
    return 0


def load_average() -> list[float] | None:
    """The machine's 1, 5 and 15-minute load averages: other work on the cores slows every timing here."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _loads(values: list[float] | None) -> str:
    return ", ".join(f"{v:.2f}" for v in values) if values else "unknown"


def render(results: dict) -> str:
    d = results["digits"]
    rows = []
    for name, v in results["runs"].items():
        target = TARGET_SECONDS["28x28" if name.startswith("28x28") else "digits"]
        rows.append(
            {
                "run": name,
                "Fréchet distance (real / untrained)": f"{v['test_fd']:.2f} ({v['test_fd_real']:.2f} / {v['test_fd_untrained']:.0f})",
                "of untrained": f"{v['test_fd_ratio']:.1%}",
                "class accuracy": shown(v["test_class_accuracy"]) if "test_class_accuracy" in v else "-",
                "precision / recall": f"{shown(v['test_precision'], 2)} / {shown(v['test_recall'], 2)}",
                "near-copies": f"{v['test_near_copies']:.1%}",
                "best epoch": v["val_best_epoch"],
                "train (s)": f"{v['speed']['train']['seconds']:.0f} (target {target})",
                "peak memory (MiB)": v["speed"]["train"]["peak_rss_mib"],
            }
        )
    return (
        f"Measured by `make bench PROJECT={results['project']}` on {machine.line(results['machine'])}; "
        f"load average (1, 5, 15 min) {_loads(results['load_average_before'])} before, "
        f"{_loads(results['load_average_after'])} after: the benchmark itself adds about 1 to 2, more means other "
        f"work shared the cores and slowed the timings.\n\n"
        f"**Digits**, default config over {len(d['test_fd']['folds'])} seeds (mean ± sd): Fréchet distance "
        f"{d['test_fd']['mean']:.2f} ± {d['test_fd']['sd']:.2f}, which is {d['test_fd_ratio']['mean']:.1%} of the untrained "
        f"generator's {d['test_fd_untrained']['mean']:.0f} (target: under 33%); real images score "
        f"{d['test_fd_real']['mean']:.2f}. Class accuracy of generated digits {shown(d['test_class_accuracy']['mean'])} ± "
        f"{d['test_class_accuracy']['sd']:.3f} (target: at least 0.90). Training {d['train_seconds']['mean']:.0f} s "
        f"(target: under 180 s).\n\n"
        f"**28x28**: {results['data_28']}.\n\n"
        f"Each run: `train` then `evaluate`, default config unless named; distances between half the test split's "
        f"real images and as many generated ones, in the judge's feature space; near-copies: "
        f"the share of generated images closer to a training image than 95% of real test images are (5% = no copying).\n\n"
        f"{table(rows)}\n\n"
        f"**Serving** (`GET /generate`, uvicorn, 1 worker, on 127.0.0.1; requests from a second process):\n\n"
        f"{bench.serving_table(results['serving'])}"
    )


def predict_input(folder: Path, rows: int | None = None) -> dict:
    """`make bench-predict`: 10,000 digits drawn into a folder by predict.py (a generator takes no input file)."""
    rows = rows or 10_000
    return {"predict": [str(folder / "samples"), "--n", str(rows)], "rows": rows, "unit": "image"}


if __name__ == "__main__":
    raise SystemExit(run_script(main))
