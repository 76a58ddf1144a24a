"""Benchmark the medical-imaging project: test quality over several seeds, training speed, serving latency,
the out-of-distribution check and Grad-CAM, and the epoch time of one process against two (DDP).

    $ make bench PROJECT=medical_imaging
    $ make bench PROJECT=medical_imaging ARGS="--part distributed"      # only 1 vs 2 processes
    $ make bench PROJECT=medical_imaging ARGS="--part trust [--run RUN_ID]"   # only OOD and Grad-CAM, on one run
    $ python -m projects.medical_imaging.bench [--seeds 3] [--requests 500] [--data file.npz]

Quality: `train` then `evaluate`, run as a user runs them, with the default config and
several seeds (a CNN's test AUC moves with its random start), plus the ResNet variant; the
test split's ROC AUC and accuracy at 0.5 are the MedMNIST protocol. The official
PneumoniaMNIST file is used when it can be found or downloaded; otherwise the shared
PneumoniaMNIST-format sample (`MLSTARTER_DATA_DIR`), and the results say so: its test split
is a class-balanced subset of the official one, not the official benchmark. Serving is a
load test of a real uvicorn server with PNG uploads. Results go to
bench/results/medical_imaging.{json,md} and into this project's README.

Trust: on one run (the CNN of seed 42, or --run), every out-of-distribution score we considered,
each with a threshold that flags the same share of validation X-rays: how many real test X-rays
it flags, and how many black, white, grey, noise and inverted images it catches. Then the
deletion test of Grad-CAM at every block of the network: delete the pixels a map ranks first
and see how fast P(pneumonia) falls, against random and brightest-first orders. Results:
bench/results/medical_imaging-ood.{json,md} and medical_imaging-gradcam.{json,md}.

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
import torch
from PIL import Image

from mlstarter import bench, datasets, loadgen, machine, paths, runs
from mlstarter.config import from_dict
from mlstarter.metrics import shown
from mlstarter.model_card import table
from mlstarter.paths import project_name
from mlstarter.scripts import run_script

from . import data, model, ood
from .config import Config
from .evaluate import PUBLISHED
from .model import TrainedModel, to_tensor

PROJECT = project_name(__package__)
SAMPLE = Path("pneumoniamnist-sample") / "pneumoniamnist_balanced.npz"
NOT_COMPARABLE = "not comparable: different split"  # beside any published result, unless the data is the official file


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
        "--part",
        choices=("all", "quality", "distributed", "trust", "render"),
        default="all",
        help="What to measure (default all); render: write the README blocks again from the last results "
        "(bench/results/), after a change to how they are shown, measuring nothing.",
    )
    parser.add_argument("--run", default=None, help="--part trust: measure this run instead of training one.")
    args = parser.parse_args(argv)
    if args.part == "render":
        results = json.loads((paths.repo_root() / "bench" / "results" / f"{PROJECT}.json").read_text(encoding="utf-8"))
        results["summary"] = summarize(results)
        bench.write_results(PROJECT, results, render(results))
        return 0
    data_path, data_label = find_data(args.data)
    if args.part in ("all", "distributed"):
        distributed_part(data_path, data_label)
        if args.part == "distributed":
            return 0
    if args.part == "trust":
        run_id = args.run or train_and_evaluate(["seed=42"], data_path)["run_id"]
        trust_part(run_id, data_path, data_label)
        return 0
    results: dict = {
        "project": PROJECT,
        "machine": machine.describe(),
        "data": data_label,
        "official_split": is_official(data_path),
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

    results["summary"] = summarize(results)
    bench.write_results(PROJECT, results, render(results))  # also prints the results and where they went
    if args.part == "all":
        trust_part(cnn_run, data_path, data_label)
    return 0


def summarize(results: dict) -> dict:
    """The project's row of the top-level README: beside the published figures of the official split, a result
    on another split (the shared sample) says "not comparable" in the same cell."""
    c = results["cnn"]
    cnn = [v for k, v in results["runs"].items() if k.startswith("cnn")]
    official = results.get("official_split", "sample" not in results["data"])  # older results: by their label
    return {
        "project": f"[{PROJECT}](projects/{PROJECT}/README.md)",
        "task": "pneumonia from chest X-rays, images",
        "dataset": "PneumoniaMNIST" + ("" if official else " (shared sample)"),
        "result (cross-validated)": f"test AUC {shown(c['test_roc_auc']['mean'])}, accuracy "
        f"{shown(c['test_accuracy']['mean'])} (CNN, {len(cnn)} seeds; test split, not CV)",
        "reference": "AUC 0.944-0.948, ACC 0.854-0.878 (MedMNIST v2, official split"
        + (")" if official else f"; {NOT_COMPARABLE})"),
        "train + evaluate": f"{c['train_seconds']['mean'] + cnn[0]['speed']['evaluate']['seconds']:.0f} s",
        "measured": results["machine"]["date"],
    }


def _conditions(results: dict) -> str:
    """The threads each training could use (older results did not record them); the load is in the machine line."""
    return f"; OMP_NUM_THREADS {results['omp_num_threads']}" if "omp_num_threads" in results else ""


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def render(results: dict) -> str:
    m, c = results["machine"], results["cnn"]
    # results saved before "official_split" was recorded: official only if the data line says so
    official = results.get("official_split", results["data"].startswith("the official PneumoniaMNIST file"))
    published = "published, official split" + ("" if official else f"; **{NOT_COMPARABLE}**")
    quality = table(
        [
            {
                "model": name,
                "test ROC AUC [95% CI]": f"{shown(v['test_roc_auc'])} [{shown(v['test_roc_auc_ci_low'])}, {shown(v['test_roc_auc_ci_high'])}]",
                "test accuracy at 0.5": shown(v["test_accuracy"]),
                "sensitivity / specificity at threshold": f"{shown(v['test_screening_sensitivity'])} / {shown(v['test_screening_specificity'])} "
                f"(at {v['test_screening_threshold']:.2f})",
                "best epoch": v["val_best_epoch"],
                "train (s)": f"{v['speed']['train']['seconds']:.0f}",
                "peak memory (MiB)": v["speed"]["train"]["peak_rss_mib"],
            }
            for name, v in results["runs"].items()
        ]
        + [
            {
                "model": f"{name} ({published})",
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
        f"CNN over {len(c['test_roc_auc']['folds'])} seeds: test ROC AUC {shown(c['test_roc_auc']['mean'])} ± {c['test_roc_auc']['sd']:.3f}, "
        f"accuracy {shown(c['test_accuracy']['mean'])} ± {c['test_accuracy']['sd']:.3f} (mean ± sd). Intervals: BCa bootstrap over test images."
        + ("" if official else f" The published rows were measured on the official test split: **{NOT_COMPARABLE}**.")
        + f"\n\n{quality}\n\n"
        f"**Serving** (uvicorn, 1 worker, on 127.0.0.1; PNG uploads from a second process):\n\n{serving}"
    )


def is_official(data_path: str | None) -> bool:
    """Whether the benchmark's data is the official PneumoniaMNIST file (None: it was fetched as such)."""
    return data_path is None or data.is_official({Path(data_path).name: Path(data_path)})


# ----- Trust: the out-of-distribution check and Grad-CAM, measured on one run -----


def trust_part(run_id: str, data_path: str | None, data_label: str) -> None:
    run = runs.latest_run(PROJECT, run_id)
    trained, cfg = model.load(run), from_dict(Config, run.config)
    npz = Path(data_path) if data_path else datasets.fetch(data.DATASET)["pneumoniamnist.npz"]
    splits = data.read_npz(npz)
    about = {"project": PROJECT, "machine": machine.describe(), "data": data_label, "run_id": run.run_id,
             "model": f"{cfg.model.kind} {cfg.model.channels}, seed {cfg.seed}"}  # fmt: skip
    results = {**about, "flag_rate": cfg.ood.flag_rate, "ood_block": cfg.ood.block,
               "ood": ood_scores_compared(trained, splits, cfg.ood.flag_rate, cfg.seed)}  # fmt: skip
    bench.write_section(PROJECT, "ood", results, render_ood(results))
    results = {**about, "gradcam_block": cfg.gradcam.block, "deletion": deletion_test(trained, splits, cfg.seed)}
    bench.write_section(PROJECT, "gradcam", results, render_gradcam(results))


def ood_scores_compared(trained: TrainedModel, splits: dict, flag_rate: float, seed: int) -> dict[str, dict]:
    """Every OOD score considered, each thresholded to flag `flag_rate` of the validation X-rays: the share of
    real test X-rays flagged, and of each kind of unusual image caught."""
    (X_train, y_train), (X_val, _), (X_test, _) = splits["train"], splits["val"], splits["test"]
    net = trained.network

    def x(images: np.ndarray) -> torch.Tensor:
        return to_tensor(images, trained.mean, trained.std)

    def mahalanobis_of(features):  # features: uint8 images (N, H, W) -> (N, C)
        ref = ood.fit_reference(features(X_train), y_train, features(X_val), X_train, flag_rate, block=-1)["ood"]
        means, precision = np.asarray(ref["class_means"]), np.linalg.inv(np.asarray(ref["covariance"]))
        return lambda images: ood.mahalanobis(features(images), means, precision)

    @torch.no_grad()
    def penultimate(images: np.ndarray) -> np.ndarray:  # (N, 128): after the last max-pool, what the head reads
        return net.pooled(net.feature_maps(x(images))).double().numpy()

    def logit(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(x(images)).numpy()

    stats = ood.image_statistics(X_train)

    def pixel_statistics(images: np.ndarray) -> np.ndarray:
        # how many standard deviations an image's mean and spread of intensity lie from the training images'
        flat = images.reshape(len(images), -1)
        z_mean = np.abs(flat.mean(axis=1) - stats["image_mean"]["mean"]) / stats["image_mean"]["std"]
        z_std = np.abs(flat.std(axis=1) - stats["image_std"]["mean"]) / stats["image_std"]["std"]
        return np.maximum(z_mean, z_std)

    scores = {
        f"Mahalanobis, block {b}": mahalanobis_of(lambda images, b=b: ood.features(net, x(images), b))
        for b in range(len(net.blocks))
    }  # each block's maps averaged over the image, as ood.py does
    scores["Mahalanobis, penultimate layer (pooled)"] = mahalanobis_of(penultimate)
    scores["energy, -log(1 + e^logit) (Liu et al. 2020)"] = lambda images: -np.logaddexp(0, logit(images))
    scores["low confidence, -|P - 0.5|"] = lambda images: -np.abs(trained.predict_proba(images) - 0.5)
    scores["pixel statistics (z of mean and spread)"] = pixel_statistics
    unusual = ood.unusual_images(X_test, seed=seed)
    compared = {}
    for name, score in scores.items():
        threshold = np.quantile(score(X_val), 1 - flag_rate)  # each score flags the same share of validation X-rays
        compared[name] = {"real test X-rays": float((score(X_test) > threshold).mean())}
        compared[name] |= {kind: float((score(images) > threshold).mean()) for kind, images in unusual.items()}
    return compared


DELETION_STEPS = 10  # delete 10% of the pixels at a time


@torch.no_grad()
def deletion_areas(trained: TrainedModel, x: torch.Tensor, baseline: torch.Tensor, order: np.ndarray) -> np.ndarray:
    """The deletion test (Petsiuk et al. 2018) for each image: replace its pixels by the baseline's, in `order`
    (N, H*W; the most important first), 10% at a time, and follow P(pneumonia). Returns each image's area under
    that curve (N,), from 0% to 100% deleted: lower means the order found the evidence sooner.

    # area = trapezoid rule over the 11 points (0%, 10%, ..., 100% deleted), x from 0 to 1
    """
    n, _, h, w = x.shape
    flat, base, order_t = x.reshape(n, h * w), baseline.reshape(1, h * w).expand(n, -1), torch.from_numpy(order)
    curve = []
    for k in np.linspace(0, h * w, DELETION_STEPS + 1).round().astype(int):
        chosen = order_t[:, :k]  # (N, k): the k most important pixels of each image
        deleted = flat.clone().scatter_(1, chosen, base.gather(1, chosen))
        curve.append(torch.sigmoid(trained.network(deleted.reshape(n, 1, h, w))).numpy())
    return np.trapezoid(np.stack(curve, axis=1), dx=1 / DELETION_STEPS, axis=1)


def deletion_test(trained: TrainedModel, splits: dict, seed: int) -> dict:
    """Grad-CAM at every block against two orders that know nothing of the network, on the test X-rays the run
    calls pneumonia. Deleted pixels take the value of the average *normal* training X-ray: a grey or blurred
    image is itself called pneumonia by these networks (opacity), so it cannot stand for "no evidence"."""
    (X_train, y_train), (X_test, _) = splits["train"], splits["test"]
    called = X_test[trained.predict_proba(X_test) >= trained.threshold]
    n, side = len(called), called.shape[1]
    x = to_tensor(called, trained.mean, trained.std)
    baseline = to_tensor(X_train[y_train == 0].mean(axis=0).round().astype(np.uint8)[None], trained.mean, trained.std)
    rng = np.random.default_rng(seed)
    orders = {f"Grad-CAM, block {b}": (f"{side >> b}x{side >> b}", np.argsort(-trained.grad_cam(called, block=b).reshape(n, -1), axis=1, kind="stable"))
              for b in range(len(trained.network.blocks))}  # fmt: skip
    orders["random pixels"] = ("", np.argsort(rng.random((n, side * side)), axis=1))
    orders["brightest pixels first"] = ("", np.argsort(-called.reshape(n, -1), axis=1, kind="stable"))
    areas = {name: deletion_areas(trained, x, baseline, order) for name, (_, order) in orders.items()}
    random = areas["random pixels"]
    with torch.no_grad():
        p_baseline = float(torch.sigmoid(trained.network(baseline)).item())
    return {
        "images": n,
        "p_baseline": p_baseline,
        "orders": {
            name: {
                "map": orders[name][0],
                "area": float(a.mean()),
                "area_se": float(a.std(ddof=1) / np.sqrt(n)),
                "minus_random": float((a - random).mean()),  # paired: the same images
                "minus_random_se": float((a - random).std(ddof=1) / np.sqrt(n)),
            }
            for name, a in areas.items()
        },
    }


def _measured(results: dict) -> str:
    return (
        f'Measured by `make bench PROJECT={results["project"]} ARGS="--part trust"` on '
        f"{machine.line(results['machine'])}, on run {results['run_id']} ({results['model']}).\n\n"
        f"**Data**: {results['data']}."
    )


def render_ood(results: dict) -> str:
    kinds = [k for k in next(iter(results["ood"].values())) if k != "real test X-rays"]
    default = f"Mahalanobis, block {results['ood_block']}"
    rows = table(
        [
            {
                "score": f"**{name}** (the default)" if name == default else name,
                "real test X-rays flagged": f"{v['real test X-rays']:.1%}",
                **{f"{kind} caught": f"{v[kind]:.0%}" for kind in kinds},
            }
            for name, v in results["ood"].items()
        ]
    )
    return (
        f"{_measured(results)}\n\nEach score with the threshold that flags {results['flag_rate']:.0%} of the "
        "validation X-rays: the share of real test X-rays flagged (false alarms), and of 100 images of each "
        f"kind that is not an X-ray caught:\n\n{rows}"
    )


def render_gradcam(results: dict) -> str:
    d = results["deletion"]
    rows = table(
        [
            {
                "order of deletion": name,
                "map": v["map"],
                "area ± se (lower: found the evidence)": f"{v['area']:.3f} ± {v['area_se']:.3f}",
                "minus random, paired ± se": f"{v['minus_random']:+.3f} ± {v['minus_random_se']:.3f}",
            }
            for name, v in d["orders"].items()
        ]
    )
    return (
        f"{_measured(results)}\n\nThe {d['images']} test X-rays the run calls pneumonia: their pixels are "
        "replaced, the most important first (10% at a time), by those of the average normal training X-ray "
        f"(P(pneumonia) {d['p_baseline']:.2f}); the area under the mean P(pneumonia) curve from 0% to 100% "
        f"deleted, ± its standard error over images:\n\n{rows}"
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
