"""Evaluate a trained pneumonia classifier on the held-out test X-rays.

    $ make evaluate PROJECT=medical_imaging [RUN=<run id>]
    $ python -m projects.medical_imaging.evaluate [--run <run id>]

Measures the model on the test split that training never saw: ROC AUC and accuracy at 0.5
(the MedMNIST protocol, to compare with published results), sensitivity and specificity at
the threshold chosen on validation images (the screening decision), PR AUC, calibration with
its expected calibration error, and BCa bootstrap 95% confidence intervals for AUC and accuracy.
Draws Grad-CAM heatmaps for correct and incorrect test images. Writes test_* metrics into
metrics.json, plots/*.png and MODEL_CARD.md into the run folder.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from matplotlib.figure import Figure
from scipy.stats import DegenerateDataWarning, bootstrap, rankdata

from mlstarter import datasets, model_card, plots, runs
from mlstarter.config import from_dict
from mlstarter.metrics import binary_metrics, prefixed
from mlstarter.paths import project_name
from mlstarter.scripts import evaluate_parser, run_script

from . import data, model
from .config import Config
from .model import TrainedModel

PROJECT = project_name(__package__)
# MedMNIST v2 (Yang et al. 2023), PneumoniaMNIST at 28x28, test split: (AUC, ACC)
PUBLISHED = {
    "ResNet-18 (28)": (0.944, 0.854),
    "ResNet-50 (28)": (0.948, 0.854),
    "auto-sklearn": (0.942, 0.855),
    "AutoKeras": (0.947, 0.878),
}


def roc_auc(y_true: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
    """ROC AUC along `axis`, for many resamples at once: the chance that a random pneumonia image
    scores above a random normal one (a tie counts half).

    # AUC = U / (n_pos * n_neg), U = (sum of the positives' ranks among all scores) - n_pos (n_pos + 1) / 2
    """
    ranks = rankdata(p, axis=axis)  # tied scores share their mean rank: the "half" of a tie
    n_pos = y_true.sum(axis=axis)
    n_neg = y_true.shape[axis] - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample of one class has no AUC: nan
        return ((ranks * y_true).sum(axis=axis) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def accuracy_at_half(y_true: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Accuracy at the MedMNIST threshold of 0.5, along `axis`."""
    return ((p >= 0.5) == y_true).mean(axis=axis)


def confidence_interval(
    y_true: np.ndarray,
    p: np.ndarray,
    statistic: Callable[..., np.ndarray],
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """BCa bootstrap interval of `statistic(y_true, p)` over the test images (scipy.stats.bootstrap).

    Draw len(y) images with replacement, each with its own label and probability (paired),
    recompute the statistic, repeat. The plain percentile interval takes the middle `level` of
    those values; BCa (bias-corrected and accelerated, Efron 1987) moves both ends to correct
    for a bootstrap distribution that is off-centre or skewed, as an AUC near its ceiling of 1
    is: most resamples cannot score higher, a few score much lower. The same seed gives every
    statistic the same resamples.
    """
    with warnings.catch_warnings():  # values that never vary make BCa warn and divide by zero: handled below
        warnings.simplefilter("ignore", DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = bootstrap(
            (np.asarray(y_true), np.asarray(p)),
            statistic,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=level,
            method="BCa",
            rng=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):
        # BCa needs values that vary: on a perfectly separated test set every resample's AUC is 1.
        # Then, as for any other failure, the percentile interval of the values there are.
        tail = (1 - level) / 2 * 100
        low, high = np.nanpercentile(result.bootstrap_distribution, [tail, 100 - tail])
    return float(low), float(high)


def gradcam_grid(trained: TrainedModel, images, labels, p, path, per_row: int = 6) -> None:
    """Two rows of correct and two of incorrect test images (most confident first), each with its heatmap."""
    predicted = (p >= trained.threshold).astype(int)
    confidence = np.abs(p - trained.threshold)
    groups = {
        "correct": np.flatnonzero(predicted == labels),
        "wrong": np.flatnonzero(predicted != labels),
    }
    rows = []
    for name, idx in groups.items():
        chosen = idx[np.argsort(-confidence[idx])][: 2 * per_row]
        rows += [(name, chosen[i : i + per_row]) for i in range(0, len(chosen), per_row)]
    rows = [r for r in rows if len(r[1])]
    fig = Figure(figsize=(2 * per_row, 2.3 * max(len(rows), 1)))
    axes = fig.subplots(max(len(rows), 1), per_row, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, (name, idx) in enumerate(rows):
        heat = trained.grad_cam(images[idx])
        for c, i in enumerate(idx):
            ax = axes[r, c]
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
            ax.imshow(heat[c], cmap="jet", alpha=0.35)
            ax.set_title(
                f"{name}: {data.CLASS_NAMES[labels[i]]}\nP(pneumonia) {p[i]:.2f}",
                fontsize=8,
                color="green" if name == "correct" else "red",
            )
    fig.suptitle("Grad-CAM: where the network found evidence of pneumonia (test images)")
    plots.save(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = evaluate_parser(__doc__).parse_args(argv)
    run = runs.latest_run(PROJECT, args.run)
    trained = model.load(run)  # the network, its pixel statistics and its threshold
    cfg = from_dict(Config, run.config)
    torch.manual_seed(cfg.seed)

    # 1. The test split of the same file.
    dataset = data.load(cfg)
    if datasets.checksums(dataset.files) != run.environment["dataset_sha256"]:
        print("warning: the data file differs from the one this run was trained on.")
    X_test, y_test = dataset.splits["test"]
    p_test = trained.predict_proba(X_test)

    # 2. Metrics: the MedMNIST protocol at 0.5, the screening decision at the chosen threshold, intervals.
    at_half = binary_metrics(y_test, p_test, 0.5)
    at_threshold = binary_metrics(y_test, p_test, trained.threshold)
    auc_low, auc_high = confidence_interval(y_test, p_test, roc_auc, seed=cfg.seed)
    acc_low, acc_high = confidence_interval(y_test, p_test, accuracy_at_half, seed=cfg.seed)
    metrics = {
        **prefixed(at_half, "test"),
        "test_roc_auc_ci_low": auc_low,
        "test_roc_auc_ci_high": auc_high,
        "test_accuracy_ci_low": acc_low,
        "test_accuracy_ci_high": acc_high,
        **prefixed(
            {
                k: at_threshold[k]
                for k in ("threshold", "accuracy", "sensitivity", "specificity", "precision", "tn", "fp", "fn", "tp")
            },
            "test_screening",
        ),
    }

    # 3. Plots.
    plot_dir = run.path / "plots"
    plots.roc(y_test, p_test, plot_dir / "roc.png", title="ROC curve, pneumonia = positive (test)")
    plots.precision_recall(y_test, p_test, plot_dir / "precision_recall.png", title="Precision-recall (test)")
    plots.calibration(y_test, p_test, plot_dir / "calibration.png", title="Calibration (test)")
    confusion = np.array([[at_threshold["tn"], at_threshold["fp"]], [at_threshold["fn"], at_threshold["tp"]]])
    plots.confusion(
        confusion,
        list(data.CLASS_NAMES),
        plot_dir / "confusion_matrix.png",
        title=f"Confusion at threshold {trained.threshold:.2f} (test)",
    )
    history = run.read_json("history.json")["epochs"]
    plots.curve(
        np.array([h["epoch"] for h in history]),
        np.array([h["val_roc_auc"] for h in history]),
        plot_dir / "validation_auc.png",
        title="Validation ROC AUC by epoch",
        xlabel="epoch",
        ylabel="ROC AUC",
        mark_x=run.metrics["val_best_epoch"],
        mark_label="best epoch (kept)",
    )
    gradcam_grid(trained, X_test, y_test, p_test, plot_dir / "gradcam.png")

    # 4. Write everything into the run folder.
    all_metrics = runs.update_json(run.path / "metrics.json", metrics)
    table = metrics_table(all_metrics, y_test)
    runs.write_text(run.path / "MODEL_CARD.md", render_card(run, cfg, all_metrics, table, dataset.splits))

    print(f"***** Evaluation of {PROJECT} run {run.run_id} on {len(y_test)} held-out X-rays *****")
    print(table)
    print(f"Plots (Grad-CAM in plots/gradcam.png) and MODEL_CARD.md written to {run.path}")
    return 0


def metrics_table(m: dict, y_test: np.ndarray) -> str:
    majority = max(y_test.mean(), 1 - y_test.mean())
    rows = [
        (
            "ROC AUC",
            f"{m['test_roc_auc']:.3f} [{m['test_roc_auc_ci_low']:.3f}, {m['test_roc_auc_ci_high']:.3f}]",
            "0.500 (no skill)",
        ),
        (
            "Accuracy at 0.5 (MedMNIST protocol)",
            f"{m['test_accuracy']:.3f} [{m['test_accuracy_ci_low']:.3f}, {m['test_accuracy_ci_high']:.3f}]",
            f"{majority:.3f} (always the majority class)",
        ),
        (
            f"Sensitivity at threshold {m['test_screening_threshold']:.2f}",
            f"{m['test_screening_sensitivity']:.3f}",
            "pneumonia cases flagged",
        ),
        (
            f"Specificity at threshold {m['test_screening_threshold']:.2f}",
            f"{m['test_screening_specificity']:.3f}",
            "normal cases cleared",
        ),
        (
            "Average precision (PR AUC)",
            f"{m['test_average_precision']:.3f}",
            f"{y_test.mean():.3f} (the pneumonia rate)",
        ),
        ("Expected calibration error", f"{m['test_ece']:.3f}", "0 (perfect)"),
    ]
    return model_card.table([{"metric": a, "value [95% CI]": b, "baseline": c} for a, b, c in rows])


def render_card(run: runs.Run, cfg: Config, m: dict, table: str, splits: dict) -> str:
    sizes = ", ".join(f"{name} {len(labels)} ({labels.mean():.0%} pneumonia)" for name, (_, labels) in splits.items())
    side = splits["train"][0].shape[1]
    source = (
        f"Your own file: `{cfg.data.path}`."
        if cfg.data.path
        else f"{data.DATASET.citation} License {data.DATASET.license}."
    )
    published = model_card.table(
        [{"model (MedMNIST v2)": k, "test AUC": a, "test ACC": b} for k, (a, b) in PUBLISHED.items()]
    )
    return model_card.render(
        f"{run.project} · run {run.run_id}",
        {
            "Model details": (
                f"- A {cfg.model.kind} network written in PyTorch, blocks of {cfg.model.channels} channels, trained from scratch "
                f"with AdamW, cosine learning-rate decay, augmentation (rotation ±{cfg.augment.rotate_degrees:g}°, shift ±{cfg.augment.shift_pixels:g} px, "
                f"brightness/contrast ±{cfg.augment.brightness:g}/{cfg.augment.contrast:g}) and a class-weighted loss\n"
                f"- Kept: the weights of epoch {m['val_best_epoch']}, the best validation ROC AUC ({m['val_roc_auc']:.3f})\n"
                f"- Output: P(pneumonia); flagged as pneumonia at or above **{m['test_screening_threshold']:.2f}** (Youden's J on validation images)\n"
                f"- Seed {cfg.seed}; full config in `config.json`, versions in `environment.json`"
            ),
            "Intended use": (
                "Teaching: how to train, evaluate and explain an image classifier for a medical screening task. "
                "**It is not a medical device** and must never inform the care of a patient."
            ),
            "Data": f"{source}\n\nSplits: {sizes}; {side}x{side} grayscale.",
            "Test metrics": (
                f"{table}\n\n95% intervals: BCa bootstrap over the test images (1000 resamples of the "
                "(label, probability) pairs; scipy.stats.bootstrap). "
                f"Confusion at the threshold: normal → cleared {m['test_screening_tn']}, flagged {m['test_screening_fp']}; "
                f"pneumonia → missed {m['test_screening_fn']}, flagged {m['test_screening_tp']}.\n\n"
                f"Published results on the official 28x28 test split, for scale:\n\n{published}"
            ),
            "What the network looks at": (
                "`plots/gradcam.png`: Grad-CAM heatmaps on correct and incorrect test images. Evidence on the lungs is "
                "what we hope for; evidence on the image border, text markers or the shoulders is a warning sign of a shortcut."
            ),
            "Limitations and ethical considerations": (
                "- 28x28 pixels: a radiologist reads X-rays at over 1000x1000; fine signs are invisible here.\n"
                "- Pediatric patients (1-5 years) from one hospital in Guangzhou (Kermany et al. 2018): other ages, "
                "machines and hospitals will differ, and the model has not been tested on them.\n"
                "- Labels are the diagnosis recorded with the image, not a confirmed ground truth; pneumonia cases "
                "were not separated into bacterial and viral here.\n"
                "- A screening threshold trades missed cases against false alarms; who bears each cost is a clinical "
                "and ethical decision, not a statistical one."
            ),
        },
    )


if __name__ == "__main__":
    raise SystemExit(run_script(main))
