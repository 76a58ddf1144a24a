"""Evaluate a trained pneumonia classifier on the held-out test X-rays.

    $ make evaluate PROJECT=medical_imaging [RUN=<run id>]
    $ python -m projects.medical_imaging.evaluate [--run <run id>]

Measures the model on the test split that training never saw: ROC AUC and accuracy at 0.5
(the MedMNIST protocol, to compare with published results), sensitivity and specificity at
the threshold chosen on validation images (the screening decision), PR AUC, calibration with
its expected calibration error, and BCa bootstrap 95% confidence intervals for AUC and accuracy.
Checks the out-of-distribution score: the share of real test X-rays it flags, and the share
of black, white, noise and inverted images it catches. Draws Grad-CAM heatmaps beside correct
and incorrect test images. Writes test_* metrics into metrics.json, plots/*.png,
MODEL_CARD.md and the test answers the drift monitor compares with (test_answers.json) into the
run folder, with a few test X-rays of each class in examples/ (xray-pneumonia-1.png, ...), which
the page at GET / of `make serve` offers to click.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from PIL import Image
from scipy.stats import DegenerateDataWarning, bootstrap, rankdata

from mlstarter import datasets, model_card, plots, runs
from mlstarter.config import from_dict
from mlstarter.metrics import binary_metrics, prefixed, shown
from mlstarter.paths import project_name
from mlstarter.scripts import evaluate_parser, run_script

from . import data, model, monitor, ood
from .config import Config
from .model import TrainedModel

PROJECT = project_name(__package__)
EXAMPLES_PER_CLASS = 3  # test X-rays of each class saved with the run for the page: a row of six to click
# make promote refuses (without --force) a run worse than the promoted one in any of these test metrics: how well
# it ranks the X-rays, and how many pneumonias the screening decision finds
PROMOTE_ON = {"test_roc_auc": "higher", "test_screening_sensitivity": "higher"}
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


def gradcam_grid(trained: TrainedModel, images, labels, p, path, per_row: int = 4) -> None:
    """Two rows of correct and two of incorrect test images (most confident first), each beside its heatmap."""
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
    # each case: two panels of 1.6 inches (176 pixels for 28: about 6 screen pixels per X-ray pixel)
    fig = Figure(figsize=(2 * 1.6 * per_row, 2.15 * max(len(rows), 1)))
    axes = fig.subplots(max(len(rows), 1), 2 * per_row, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, (name, idx) in enumerate(rows):
        heat = trained.grad_cam(images[idx], size=model.GRADCAM_SIDE)
        for c, i in enumerate(idx):
            pair = axes[r, 2 * c : 2 * c + 2]
            model.draw_gradcam(pair, images[i], heat[c])
            for ax in pair:
                ax.set_title("")
            pair[0].set_title(
                f"true: {data.CLASS_NAMES[labels[i]]}\npredicted: {data.CLASS_NAMES[predicted[i]]} (P {shown(p[i], 2)})",
                fontsize=8,
                color="darkgreen" if name == "correct" else "firebrick",
                loc="left",
            )
    fig.suptitle(
        "Grad-CAM on test X-rays: each image, then the same image under its heatmap of evidence for pneumonia "
        f"(red: the image's strongest, blue: none; block {trained.gradcam_block % len(trained.network.blocks)})\n"
        f"predicted at the threshold {trained.threshold:.2f}; two rows of correct answers, then two of wrong ones, "
        "most confident first",
        fontsize=10,
    )
    plots.save(fig, path)


def save_examples(images: np.ndarray, labels: np.ndarray, folder: Path, per_class: int, seed: int) -> list[Path]:
    """`per_class` test X-rays of each class, drawn at random, as PNGs named for their true label (xray-normal-1.png,
    xray-pneumonia-1.png, ...): the examples the page offers (GET /page/run/examples/<name>). Written to a hidden
    folder, then renamed, as a run is: a reader sees the old examples or the new ones, never half of them."""
    rng = np.random.default_rng(seed)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for label, name in enumerate(data.CLASS_NAMES):
        found = np.flatnonzero(labels == label)  # your own file may hold fewer of a class (or none)
        for i, index in enumerate(rng.choice(found, min(per_class, len(found)), replace=False), 1):
            Image.fromarray(images[index]).save(tmp / f"xray-{name}-{i}.png")  # (H, W) uint8: an 8-bit grayscale PNG
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return sorted(folder.glob("*.png"))


def ood_plot(test_scores: np.ndarray, unusual: dict[str, np.ndarray], threshold: float, path) -> None:
    """Histograms of the OOD score: real test X-rays against each kind of unusual image, with the threshold."""
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    everything = np.concatenate([test_scores, *unusual.values()])
    bins = np.geomspace(max(everything.min(), 1e-2), everything.max() * 1.01, 50)  # scores span decades: log bins
    ax.hist(
        test_scores, bins=bins, alpha=0.7, label=f"real test X-rays ({(test_scores > threshold).mean():.1%} flagged)"
    )
    for kind, scores in unusual.items():
        ax.hist(scores, bins=bins, alpha=0.6, label=f"{kind} ({(scores > threshold).mean():.0%} flagged)")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.1f}")
    ax.set(xscale="log", xlabel="OOD score (Mahalanobis distance of the features; log scale)", ylabel="images",
           title="Out-of-distribution score: real X-rays against images that are not X-rays")  # fmt: skip
    steps = [m * 10.0**e for e in range(-1, 4) for m in (1, 2, 3, 5)]  # 0.1, 0.2, 0.3, 0.5, 1, 2, ...
    ticks = [t for t in steps if bins[0] <= t <= bins[-1]]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])  # plain numbers, not 2x10^0 ...
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(top=ax.get_ylim()[1] * 1.5)  # room for the legend above the bars
    ax.legend(fontsize=8, ncol=2, loc="upper center")
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
    p_test, ood_test = trained.predict(X_test)  # P(pneumonia) and the OOD score (section 3), in one pass

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

    # 3. The out-of-distribution check: how many real test X-rays it flags (about ood.flag_rate, if the test
    #    images are like the validation ones), and how many images that are not X-rays it catches.
    unusual = {kind: trained.ood_score(images) for kind, images in ood.unusual_images(X_test, seed=cfg.seed).items()}
    metrics["test_ood_flag_rate"] = float((ood_test > trained.ood_threshold).mean())
    for kind, scores in unusual.items():
        metrics[f"ood_catch_rate_{kind}"] = float((scores > trained.ood_threshold).mean())

    # 4. Plots.
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
    ood_plot(ood_test, unusual, trained.ood_threshold, plot_dir / "ood_scores.png")

    # 5. Write everything into the run folder, with the test X-rays' answers, which the drift monitor compares the
    #    served answers with (monitor.py): the answers these metrics describe; and a few test X-rays of each class,
    #    which the page at GET / offers to click (a model never trains on the test split).
    all_metrics = runs.update_json(run.path / "metrics.json", metrics)
    runs.write_json(run.path / monitor.TEST_ANSWERS, monitor.answers_reference(p_test, trained.threshold))
    table = metrics_table(all_metrics, y_test)
    card = render_card(run, cfg, all_metrics, table, dataset.splits, official=data.is_official(dataset.files))
    runs.write_text(run.path / "MODEL_CARD.md", card)
    save_examples(X_test, y_test, run.path / "examples", EXAMPLES_PER_CLASS, seed=cfg.seed)

    print(f"***** Evaluation of {PROJECT} run {run.run_id} on {len(y_test)} held-out X-rays *****")
    print(table)
    print(
        f"Out-of-distribution check: {metrics['test_ood_flag_rate']:.1%} of the test X-rays flagged; caught "
        + ", ".join(f"{metrics[f'ood_catch_rate_{kind}']:.0%} of {kind}" for kind in unusual)
        + " images."
    )
    print(f"Plots (Grad-CAM in plots/gradcam.png), MODEL_CARD.md and example X-rays (examples/) written to {run.path}")
    return 0


def metrics_table(m: dict, y_test: np.ndarray) -> str:
    majority = max(y_test.mean(), 1 - y_test.mean())
    rows = [
        (
            "ROC AUC",
            f"{shown(m['test_roc_auc'])} [{shown(m['test_roc_auc_ci_low'])}, {shown(m['test_roc_auc_ci_high'])}]",
            "0.500 (no skill)",
        ),
        (
            "Accuracy at 0.5 (MedMNIST protocol)",
            f"{shown(m['test_accuracy'])} [{shown(m['test_accuracy_ci_low'])}, {shown(m['test_accuracy_ci_high'])}]",
            f"{shown(majority)} (always the majority class)",
        ),
        (
            f"Sensitivity at threshold {m['test_screening_threshold']:.2f}",
            shown(m["test_screening_sensitivity"]),
            "pneumonia cases flagged",
        ),
        (
            f"Specificity at threshold {m['test_screening_threshold']:.2f}",
            shown(m["test_screening_specificity"]),
            "normal cases cleared",
        ),
        (
            "Average precision (PR AUC)",
            shown(m["test_average_precision"]),
            f"{shown(y_test.mean())} (the pneumonia rate)",
        ),
        ("Expected calibration error", shown(m["test_ece"]), "0 (perfect)"),
    ]
    return model_card.table([{"metric": a, "value [95% CI]": b, "baseline": c} for a, b, c in rows])


def ood_sentence(m: dict, flag_rate: float) -> str:
    """The out-of-distribution check's measured rates, in words."""
    kinds = [key.removeprefix("ood_catch_rate_") for key in m if key.startswith("ood_catch_rate_")]
    caught = ", ".join(f"{m[f'ood_catch_rate_{kind}']:.0%} of {kind}" for kind in kinds)
    return (
        f"it flags {m['test_ood_flag_rate']:.1%} of the real test X-rays (its threshold was set to flag {flag_rate:.0%} "
        f"of the validation ones) and catches {caught} images (100 of each; `plots/ood_scores.png`)"
    )


def render_card(run: runs.Run, cfg: Config, m: dict, table: str, splits: dict, official: bool) -> str:
    sizes = ", ".join(f"{name} {len(labels)} ({labels.mean():.0%} pneumonia)" for name, (_, labels) in splits.items())
    side = splits["train"][0].shape[1]
    source = (
        f"Your own file: `{cfg.data.path}`{' (the official PneumoniaMNIST file)' if official else ''}."
        if cfg.data.path
        else f"{data.DATASET.citation} License {data.DATASET.license}."
    )
    published = model_card.table(
        [{"model (MedMNIST v2)": k, "test AUC": a, "test ACC": b} for k, (a, b) in PUBLISHED.items()]
    )
    scale = (
        f"Published results on the official 28x28 test split, for scale:\n\n{published}"
        if official
        else "Published results on the official 28x28 test split, **not comparable: different split** (this run was "
        f"tested on the test split of `{Path(cfg.data.path).name}`, not on the official PneumoniaMNIST file's):"
        f"\n\n{published}"
    )
    block = cfg.gradcam.block % len(cfg.model.channels)
    return model_card.render(
        f"{run.project} · run {run.run_id}",
        {
            "Model details": (
                f"- A {cfg.model.kind} network written in PyTorch, blocks of {cfg.model.channels} channels, trained from scratch "
                f"with AdamW, cosine learning-rate decay, augmentation (rotation ±{cfg.augment.rotate_degrees:g}°, shift ±{cfg.augment.shift_pixels:g} px, "
                f"brightness/contrast ±{cfg.augment.brightness:g}/{cfg.augment.contrast:g}) and a class-weighted loss\n"
                f"- Kept: the weights of epoch {m['val_best_epoch']}, the best validation ROC AUC ({shown(m['val_roc_auc'])})\n"
                f"- Output: P(pneumonia); flagged as pneumonia at or above **{m['test_screening_threshold']:.2f}** (Youden's J on validation images)\n"
                f"- An out-of-distribution score with every answer (`reference.json`): the Mahalanobis distance of the image's "
                f"features to the training images'; above its threshold the answer carries a warning\n"
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
                f"pneumonia → missed {m['test_screening_fn']}, flagged {m['test_screening_tp']}.\n\n{scale}"
            ),
            "What the network looks at": (
                f"`plots/gradcam.png`: Grad-CAM heatmaps beside correct and incorrect test images (block {block}'s maps, "
                f"{side >> block}x{side >> block} cells upsampled to the image). Evidence on the lungs is what we hope for; "
                "evidence on the image border, text markers or the shoulders is a warning sign of a shortcut. "
                "The map is scaled to its own peak, so an image called normal still shows its strongest (weak) "
                "evidence. Why this block: the deletion test in the project's README (section 6)."
            ),
            "Limitations and ethical considerations": (
                f"- {side}x{side} pixels: a radiologist reads X-rays at over 1000x1000; one pixel here is several "
                "millimetres of a child's chest, so fine signs (air bronchograms, small effusions, line and tube "
                "positions) are invisible, and a heatmap can point to a region of a lung, never to a lesion.\n"
                f"- Out-of-distribution check: {ood_sentence(m, cfg.ood.flag_rate)}. It measures distance from the training images' "
                "features, so it misses an image that is wrong in a way the features do not register (an adult's "
                "X-ray, another hospital's machine may score as in-distribution), and it flags some real X-rays.\n"
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
