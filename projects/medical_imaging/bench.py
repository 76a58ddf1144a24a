"""Benchmark the medical-imaging project: test quality over several seeds, training speed, serving latency,
and the epoch time of one process against two (DDP).

    $ make bench PROJECT=medical_imaging
    $ make bench PROJECT=medical_imaging ARGS="--part distributed"      # only 1 vs 2 processes
    $ python -m projects.medical_imaging.bench [--seeds 3] [--requests 500] [--data file.npz]

Quality: `train` then `evaluate`, run as a user runs them, with the default config and
several seeds (a CNN's test AUC moves with its random start), plus the ResNet variant; the
test split's ROC AUC and accuracy at 0.5 are the MedMNIST protocol. The official
PneumoniaMNIST file is used when it can be found or downloaded; otherwise the shared
PneumoniaMNIST-format sample (`MLSTARTER_DATA_DIR`), and the results say so: its test split
is a class-balanced subset of the official one, not the official benchmark. Serving is a
load test of a real uvicorn server with PNG uploads. Results go to
bench/results/medical_imaging.{json,md} and into this project's README.

Distributed: short trainings (3 epochs) in one process with 1 and with all cores' threads,
and in 2 processes (torchrun, gloo) with 1 thread each; the median seconds per epoch after
the first (which warms up). Results: bench/results/medical_imaging-distributed.{json,md}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mlstarter import bench, datasets, loadgen, machine, runs
from mlstarter.model_card import table
from mlstarter.paths import project_name
from mlstarter.scripts import run_script

from . import data
from .evaluate import PUBLISHED

PROJECT = project_name(__package__)
SAMPLE = Path("pneumoniamnist-sample") / "pneumoniamnist_balanced.npz"


def find_data(explicit: str | None) -> tuple[str | None, str]:
    """(--data value or None for the official file, a description for the results)."""
    if explicit:
        return explicit, f"your file {explicit}"
    try:
        datasets.fetch(data.DATASET)
        return None, "the official PneumoniaMNIST file (4708/524/624)"
    except datasets.DatasetNotFoundError:
        for folder in filter(None, os.environ.get("MLSTARTER_DATA_DIR", "").split(os.pathsep)):
            if (Path(folder) / SAMPLE).is_file():
                return str(Path(folder) / SAMPLE), (
                    "the shared PneumoniaMNIST-format sample (2428/270/468, class-balanced subset of the official file), "
                    "because the official file could not be downloaded here: **not** the official benchmark"
                )
    raise SystemExit("No data: neither the official file nor the shared sample (set MLSTARTER_DATA_DIR) is available.")


def train_and_evaluate(overrides: list[str], data_path: str | None) -> dict:
    command = [sys.executable, "-m", f"projects.{PROJECT}.train"]
    command += ["--data", data_path] if data_path else []
    for item in overrides:
        command += ["--set", item]
    speed = {"train": bench.timed_subprocess(command)}
    run = runs.latest_run(PROJECT)
    speed["evaluate"] = bench.timed_subprocess(
        [sys.executable, "-m", f"projects.{PROJECT}.evaluate", "--run", run.run_id]
    )
    m = runs.latest_run(PROJECT, run.run_id).metrics
    keys = ("test_roc_auc", "test_accuracy", "test_roc_auc_ci_low", "test_roc_auc_ci_high", "test_screening_sensitivity",
            "test_screening_specificity", "test_screening_threshold", "val_best_epoch")  # fmt: skip
    return {"run_id": run.run_id, **{k: m[k] for k in keys}, "speed": speed}


def epoch_seconds(data_path: str | None, processes: int, threads: int, epochs: int = 3) -> dict:
    """Train for `epochs` epochs in `processes` processes of `threads` threads each; time every epoch."""
    script = ["-m", f"projects.{PROJECT}.train", *(["--data", data_path] if data_path else [])]
    script += ["--set", f"train.epochs={epochs}", "--set", f"train.patience={epochs}"]
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"] if processes > 1 else []
    with tempfile.TemporaryDirectory() as runs_dir:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MLSTARTER_RUNS_DIR": runs_dir}
        began = time.perf_counter()
        subprocess.run([sys.executable, *launcher, *script], env=env, check=True, capture_output=True)
        wall = time.perf_counter() - began
        run = sorted((Path(runs_dir) / PROJECT).iterdir())[-1]
        history = json.loads((run / "history.json").read_text())["epochs"]
        metrics = json.loads((run / "metrics.json").read_text())
    return {
        "processes": processes,
        "threads_per_process": threads,
        "epoch_seconds": statistics.median(row["seconds"] for row in history[1:]),  # the first epoch warms up
        "first_epoch_seconds": history[0]["seconds"],
        "wall_seconds": wall,  # start-up, data, all epochs, saving
        "val_roc_auc": metrics["val_roc_auc"],
    }


def distributed_part(data_path: str | None, data_label: str) -> None:
    this_machine = machine.describe()
    settings = [(1, 1), (1, this_machine["cores"]), (2, max(1, this_machine["cores"] // 2))]
    results = {
        "project": PROJECT,
        "machine": this_machine,
        "data": data_label,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "settings": [epoch_seconds(data_path, p, t) for p, t in settings],
    }
    bench.write_section(PROJECT, "distributed", results, render_distributed(results))


def render_distributed(results: dict) -> str:
    rows = results["settings"]
    base = next(r for r in rows if r["processes"] == 1 and r["threads_per_process"] > 1)["epoch_seconds"]
    body = table(
        [
            {
                "processes x threads": f"{r['processes']} x {r['threads_per_process']}",
                "seconds per epoch": f"{r['epoch_seconds']:.2f}",
                "speed-up over 1 process": f"{base / r['epoch_seconds']:.2f}x",
                "first epoch (s)": f"{r['first_epoch_seconds']:.2f}",
                "whole command (s)": f"{r['wall_seconds']:.1f}",
                "validation ROC AUC (3 epochs)": f"{r['val_roc_auc']:.3f}",
            }
            for r in rows
        ]
    )
    loads = ", ".join(f"{x:.2f}" for x in results["load_average_before"])
    return (
        f'Measured by `make bench PROJECT={results["project"]} ARGS="--part distributed"` on '
        f"{machine.line(results['machine'])}; load average before {loads}.\n\n"
        f"**Data**: {results['data']}. Each row: `train` for 3 epochs with the default config; seconds per epoch "
        f"(training and validation) is the median of epochs 2-3.\n\n{body}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="Seeds of the default CNN (default 3).")
    parser.add_argument("--requests", type=int, default=500, help="Requests per serving scenario (default 500).")
    parser.add_argument("--data", default=None, help="Benchmark on this .npz instead of the official file.")
    parser.add_argument(
        "--part", choices=("all", "quality", "distributed"), default="all", help="What to measure (default all)."
    )
    args = parser.parse_args(argv)
    data_path, data_label = find_data(args.data)
    if args.part in ("all", "distributed"):
        distributed_part(data_path, data_label)
        if args.part == "distributed":
            return 0
    results: dict = {
        "project": PROJECT,
        "machine": machine.describe(),
        "data": data_label,
        # the threads each training may use: with the machine's load, they move the seconds measured
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "all cores"),
        "runs": {},
    }

    # 1. Quality and training speed: the default CNN with several seeds, then the ResNet variant.
    for seed in range(42, 42 + args.seeds):
        results["runs"][f"cnn, seed {seed}"] = train_and_evaluate([f"seed={seed}"], data_path)
    cnn_run = results["runs"]["cnn, seed 42"]["run_id"]
    results["runs"]["resnet, seed 42"] = train_and_evaluate(["model.kind=resnet"], data_path)
    cnn = [v for k, v in results["runs"].items() if k.startswith("cnn")]
    results["cnn"] = {
        "test_roc_auc": bench.summary([v["test_roc_auc"] for v in cnn]),
        "test_accuracy": bench.summary([v["test_accuracy"] for v in cnn]),
        "train_seconds": bench.summary([v["speed"]["train"]["seconds"] for v in cnn]),
    }

    # 2. Serving: PNG uploads of a test image, at the training size and as a 1024x1024 scan.
    images = (
        data.read_npz(Path(data_path))
        if data_path
        else data.read_npz(datasets.fetch(data.DATASET)["pneumoniamnist.npz"])
    )
    xray = images["test"][0][0]
    uploads = {"28x28": _png(xray), "1024x1024": _png(np.array(Image.fromarray(xray).resize((1024, 1024))))}
    results["serving"] = {}
    with loadgen.serve_in_subprocess(PROJECT, cnn_run) as url:
        scenarios = {
            "28x28 PNG, 1 client": (f"{url}/predict", uploads["28x28"], 1, args.requests),
            "28x28 PNG, 8 clients": (f"{url}/predict", uploads["28x28"], 8, args.requests),
            "1024x1024 PNG, 1 client": (f"{url}/predict", uploads["1024x1024"], 1, args.requests // 5),
            "28x28 PNG with Grad-CAM, 1 client": (
                f"{url}/predict?gradcam=true",
                uploads["28x28"],
                1,
                args.requests // 5,
            ),
        }
        for name, (endpoint, png, concurrency, n) in scenarios.items():
            files = {"file": ("xray.png", png, "image/png")}
            results["serving"][name] = loadgen.load_test(endpoint, files=files, concurrency=concurrency, requests=n)

    c = results["cnn"]
    results["summary"] = {
        "project": f"[{PROJECT}](projects/{PROJECT}/README.md)",
        "task": "pneumonia from chest X-rays, images",
        "dataset": "PneumoniaMNIST" + (" (shared sample)" if data_path and "sample" in data_label else ""),
        "result (cross-validated)": f"test AUC {c['test_roc_auc']['mean']:.3f}, accuracy {c['test_accuracy']['mean']:.3f} "
        f"(CNN, {args.seeds} seeds; test split, not CV)",
        "reference": "AUC 0.944-0.948, ACC 0.854-0.878 (MedMNIST v2, official split)",
        "train + evaluate": f"{c['train_seconds']['mean'] + cnn[0]['speed']['evaluate']['seconds']:.0f} s",
        "measured": results["machine"]["date"],
    }
    bench.write_results(PROJECT, results, render(results))  # also prints the results and where they went
    return 0


def _conditions(results: dict) -> str:
    """The threads each training could use (older results did not record them); the load is in the machine line."""
    return f"; OMP_NUM_THREADS {results['omp_num_threads']}" if "omp_num_threads" in results else ""


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def render(results: dict) -> str:
    m, c = results["machine"], results["cnn"]
    quality = table(
        [
            {
                "model": name,
                "test ROC AUC [95% CI]": f"{v['test_roc_auc']:.3f} [{v['test_roc_auc_ci_low']:.3f}, {v['test_roc_auc_ci_high']:.3f}]",
                "test accuracy at 0.5": f"{v['test_accuracy']:.3f}",
                "sensitivity / specificity at threshold": f"{v['test_screening_sensitivity']:.3f} / {v['test_screening_specificity']:.3f} "
                f"(at {v['test_screening_threshold']:.2f})",
                "best epoch": v["val_best_epoch"],
                "train (s)": f"{v['speed']['train']['seconds']:.0f}",
                "peak memory (MiB)": v["speed"]["train"]["peak_rss_mib"],
            }
            for name, v in results["runs"].items()
        ]
        + [
            {
                "model": f"{name} (published, official split)",
                "test ROC AUC [95% CI]": f"{auc:.3f}",
                "test accuracy at 0.5": f"{acc:.3f}",
                "sensitivity / specificity at threshold": "",
                "best epoch": "",
                "train (s)": "",
                "peak memory (MiB)": "",
            }
            for name, (auc, acc) in PUBLISHED.items()
        ]
    )
    serving = bench.serving_table(results["serving"])
    return (
        f"Measured by `make bench PROJECT={results['project']}` on {machine.line(m)}"
        f"{_conditions(results)}.\n\n"
        f"**Data**: {results['data']}.\n\n"
        f"**Quality** on the test split (each run: `train` then `evaluate`, default config unless named). "
        f"CNN over {len(c['test_roc_auc']['folds'])} seeds: test ROC AUC {c['test_roc_auc']['mean']:.3f} ± {c['test_roc_auc']['sd']:.3f}, "
        f"accuracy {c['test_accuracy']['mean']:.3f} ± {c['test_accuracy']['sd']:.3f} (mean ± sd). Intervals: BCa bootstrap over test images.\n\n"
        f"{quality}\n\n"
        f"**Serving** (uvicorn, 1 worker, on 127.0.0.1; PNG uploads from a second process):\n\n{serving}"
    )


def predict_input(folder: Path, rows: int | None = None) -> dict:
    """`make bench-predict`: a folder of 2,000 PNG X-rays (the test images, repeated, at 224x224: a typical
    upload, so the decoding and resizing are measured too) for predict.py."""
    rows = rows or 2000
    data_path, _ = find_data(None)  # the official file, or the shared sample
    npz = Path(data_path) if data_path else datasets.fetch(data.DATASET)["pneumoniamnist.npz"]
    images, _ = data.read_npz(npz)["test"]
    xrays = folder / "xrays"
    xrays.mkdir()
    for i in range(rows):
        Image.fromarray(images[i % len(images)]).resize((224, 224)).save(xrays / f"xray_{i:05d}.png")
    return {"train": ["--data", data_path] if data_path else [], "predict": [str(xrays), str(folder / "scores.csv")],
            "rows": rows, "unit": "image"}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(run_script(main))
