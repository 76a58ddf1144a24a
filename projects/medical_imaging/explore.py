"""Explore the X-rays before training on them: a data report, with what each plot shows computed from the data.

    $ make explore PROJECT=medical_imaging
    $ python -m projects.medical_imaging.explore [--data file.npz] [--out FOLDER]

Reads the images through data.load, as train.py does (so --data explores your own .npz the same way), and
writes runs/medical_imaging-explore/: report.md (it reads on its own), report.json (its numbers) and plots/.
1. the class balance of each split;
2. a sample of each class, to see what the model sees;
3. the pixel intensities of each class, and whether brightness alone gives the class away;
4. the mean image of each class and their difference: where the classes differ. A difference outside the
   lungs (a corner, a border, a text marker) is a warning sign of shortcut learning: a model can score
   well on it without looking at the lungs, and fail on another hospital's images;
5. duplicate and near-duplicate images across the splits: a test image that is a training image flatters
   the test score.
Steps 2 to 4 use the training split only: the validation and test images stay unseen, as in train.py.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from mlstarter import paths
from mlstarter.explore import (
    Report,
    exact_duplicates,
    explore_parser,
    image_rows,
    nearest_distances,
    percent,
    sample,
    write,
)
from mlstarter.scripts import load_config, run_script

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
SHOWN = 8  # images of each class in the sample grid: a row that fits a page
NEAR_COPY = 0.02  # RMS pixel distance (0-1) below which two images count as copies: ~5 grey levels, re-saved, not new
MAX_COMPARED = 2000  # validation and test images compared with the training images (a sample above this)
MAX_REFERENCES = 10_000  # training images they are compared with (a sample above this): 2,000 x 10,000 in seconds
BORDER = 0.07  # the outer 7% of each side (2 pixels of 28): the image's frame, where no lung is
BORDER_EXCESS = 1.5  # the frame holding over 1.5 times its share of the class difference: a shortcut warning


def region(row: int, column: int, side: int) -> str:
    """Where a pixel lies, in words: 'top left', 'centre', 'bottom edge'..."""
    down = ("top", "middle", "bottom")[min(2, 3 * row // side)]
    across = ("left", "centre", "right")[min(2, 3 * column // side)]
    return "centre" if (down, across) == ("middle", "centre") else f"{down} {across}".replace("middle ", "")


def report(cfg: Config) -> Report:
    """The data report of the configured images (PneumoniaMNIST, or --data), built in memory."""
    loaded = data.load(cfg)
    splits = loaded.splits
    X_train, y_train = splits["train"]
    side = X_train.shape[1]
    source = cfg.data.path or f"{data.DATASET.name} ({', '.join(loaded.files)})"
    total = sum(len(y) for _, y in splits.values())
    found = Report(PROJECT, f"{source}: {total:,} chest X-rays of {side}x{side} pixels, in {len(splits)} splits.")

    # 1. Class balance per split
    found.section("1. Class balance")
    share = {name: float(y.mean()) for name, (_, y) in splits.items()}  # share of pneumonia in each split
    widest = max(share.values()) - min(share.values())
    found.plot(
        "balance",
        balance_figure(splits),
        "Pneumonia is " + ", ".join(f"{percent(s)} of {name}" for name, s in share.items())
        + (f": the splits differ by {percent(widest)} points, so a threshold tuned on validation meets another "
           "balance in test (precision and accuracy move with it; ROC AUC does not)." if widest > 0.05
           else ": the same balance in every split."),
    )  # fmt: skip
    found.table(
        ["split", "images", *data.CLASS_NAMES, "pneumonia share"],
        [[name, len(y), *(int((y == c).sum()) for c in range(len(data.CLASS_NAMES))), percent(share[name], 1)]
         for name, (_, y) in splits.items()],
    )  # fmt: skip
    found.numbers["balance"] = {
        name: {"images": len(y), "pneumonia_share": share[name]} for name, (_, y) in splits.items()
    }

    # 2. What the images look like
    found.section("2. A sample of each class")
    rng = np.random.default_rng(cfg.seed)
    shown = {name: X_train[rng.choice(np.flatnonzero(y_train == c), min(SHOWN, int((y_train == c).sum())), replace=False)]
             for c, name in enumerate(data.CLASS_NAMES)}  # fmt: skip
    found.plot(
        "samples",
        image_rows(shown, "Training images, drawn at random"),
        f"{', '.join(f'{len(v)} {k}' for k, v in shown.items())} training images drawn with seed {cfg.seed}, "
        f"{side}x{side} pixels as the model sees them: look for what tells the classes apart besides the lungs "
        "(markers, borders, framing).",
    )

    # 3. Intensities per class
    found.section("3. Pixel intensities")
    brightness = X_train.reshape(len(X_train), -1).mean(axis=1)  # (N,) each image's mean pixel, 0-255
    auc = float(roc_auc_score(y_train, brightness))
    means = {name: float(brightness[y_train == c].mean()) for c, name in enumerate(data.CLASS_NAMES)}
    brighter = data.CLASS_NAMES[int(auc > 0.5)]
    found.plot(
        "intensity",
        intensity_figure(X_train, y_train, brightness),
        f"Mean pixel {means['normal']:.0f} for normal images, {means['pneumonia']:.0f} for pneumonia (of 255); an "
        f"image's mean brightness alone ranks the classes with ROC AUC {auc:.2f} ({brighter} images brighter)"
        + (": exposure alone gives part of the answer away, a shortcut a model can take." if abs(auc - 0.5) > 0.1
           else ": brightness alone tells little."),
    )  # fmt: skip
    found.numbers["intensity"] = {"mean_pixel": means, "roc_auc_brightness_alone": auc}

    # 4. The mean image of each class, and where they differ
    found.section("4. Mean images and their difference")
    mean_images = [X_train[y_train == c].astype(np.float64).mean(axis=0) for c in range(2)]  # (H, W) each
    difference = mean_images[1] - mean_images[0]  # (H, W) pneumonia - normal, in grey levels
    row, column = np.unravel_index(np.abs(difference).argmax(), difference.shape)
    ring = border_mask(side)
    border_share = float(np.abs(difference)[ring].sum() / max(np.abs(difference).sum(), 1e-12))
    # a warning when the frame holds clearly more than its share of the difference (1.5 times its share of the
    # pixels); one corner pixel that happens to differ most is not enough: a mean of a few thousand images has noise
    warning = border_share > BORDER_EXCESS * ring.mean()
    found.plot(
        "mean_images",
        mean_figure(mean_images, difference),
        f"The classes differ most at the {region(row, column, side)} (row {row}, column {column}): pneumonia images "
        f"are {difference[row, column]:+.0f} grey levels there on average. The frame (the outer {border_width(side)} "
        f"pixels, {percent(ring.mean())} of the image) holds {percent(border_share)} of the total difference"
        + (": far more than its share, where no lung is: a shortcut warning." if warning
           else ", about its share or less: no sign of a shortcut along the edges."),
    )  # fmt: skip
    found.text(
        "Where the classes differ on average is where a model can find its evidence. A difference over the lungs is "
        "expected (pneumonia shows as opacities); one in a corner or along an edge comes from how the images were "
        "taken (the machine, the positioning, a burned-in marker), and a model that uses it fails elsewhere. "
        "Grad-CAM (the API's `?gradcam=true`) shows where a trained model looks."
    )
    found.numbers["mean_images"] = {
        "largest_difference": float(difference[row, column]),
        "largest_difference_at": [int(row), int(column)],
        "border_share_of_difference": border_share,
        "border_share_of_pixels": float(ring.mean()),
        "shortcut_warning": bool(warning),
    }

    # 5. Duplicates and near-duplicates across the splits
    found.section("5. Duplicates across the splits")
    held_out = np.concatenate([splits["val"][0], splits["test"][0]])
    held_split = np.array(["val"] * len(splits["val"][0]) + ["test"] * len(splits["test"][0]))
    queries, refs = sample(len(held_out), MAX_COMPARED, cfg.seed), sample(len(X_train), MAX_REFERENCES, cfg.seed)
    distance, nearest = nearest_distances(held_out[queries], X_train[refs])  # RMS pixel distance on a 0-1 scale
    exact = exact_duplicates(held_out, X_train)  # every image: hashing is cheap
    within, _ = nearest_distances(
        X_train[refs[:MAX_COMPARED]], X_train[refs], skip=np.arange(min(len(refs), MAX_COMPARED))
    )
    near = distance < NEAR_COPY
    sampled = "" if len(queries) == len(held_out) and len(refs) == len(X_train) else (
        f" (samples: {len(queries):,} of {len(held_out):,} held-out and {len(refs):,} of {len(X_train):,} training "
        "images)")  # fmt: skip
    found.plot(
        "near_duplicates",
        duplicates_figure(distance, within),
        f"{int(exact.sum())} validation and test images are exact copies of a training image "
        f"({int(exact[held_split == 'test'].sum())} in test), and {int(near.sum())} of {len(queries):,} are within "
        f"{NEAR_COPY} RMS of one{sampled}; the typical held-out image is {np.median(distance):.3f} from its nearest "
        f"training image, a training image {np.median(within):.3f} from its nearest other one.",
    )
    found.text(
        f"Distance: the root mean square of the pixel differences on a 0-1 scale; below {NEAR_COPY} (about 5 grey "
        "levels) two images are the same X-ray, re-saved or re-exposed. Copies across splits let the test score "
        "count images the model trained on: remove them from test, or split by patient."
    )
    if near.any():
        pairs = np.flatnonzero(near)[:SHOWN]
        found.plot(
            "copies",
            image_rows({"held-out": held_out[queries][pairs], "training": X_train[refs][nearest[pairs]]},
                       "Held-out images and their nearest training image"),
            (f"{len(pairs)} of the {int(near.sum())} near-copies" if len(pairs) < near.sum() else
             f"The {len(pairs)} near-cop{'y' if len(pairs) == 1 else 'ies'}") + " (top) above the training image (bottom): "
            f"distances {', '.join(f'{d:.3f}' for d in distance[pairs])}.",
        )  # fmt: skip
    found.numbers["duplicates"] = {
        "exact_copies": int(exact.sum()),
        "exact_copies_in_test": int(exact[held_split == "test"].sum()),
        "near_copies": int(near.sum()),
        "compared": len(queries),
        "references": len(refs),
        "median_nearest_distance": float(np.median(distance)),
        "median_within_training_distance": float(np.median(within)),
        "threshold": NEAR_COPY,
    }
    return found


def border_width(side: int) -> int:
    return max(1, round(side * BORDER))


def border_mask(side: int) -> np.ndarray:
    """(side, side) True on the frame: the outer border_width(side) pixels of each side."""
    width = border_width(side)
    mask = np.ones((side, side), dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def balance_figure(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    names = list(splits)
    bottom = np.zeros(len(names))
    for c, (label, colour) in enumerate(zip(data.CLASS_NAMES, ("#4C72B0", "#DD8452"), strict=True)):
        counts = np.array([int((splits[n][1] == c).sum()) for n in names])
        bars = ax.bar(names, counts, bottom=bottom, color=colour, label=label)
        ax.bar_label(bars, [str(n) for n in counts], label_type="center", color="white", fontsize=8)
        bottom += counts
    ax.set(ylabel="images", title="Images per split and class")
    ax.legend()
    return fig


def intensity_figure(X: np.ndarray, y: np.ndarray, brightness: np.ndarray) -> Figure:
    """Pixel-value histograms per class (left) and each image's mean brightness per class (right)."""
    fig = Figure(figsize=(10, 3.8))
    pixels, means = fig.subplots(1, 2)
    for c, (label, colour) in enumerate(zip(data.CLASS_NAMES, ("#4C72B0", "#DD8452"), strict=True)):
        counts = np.bincount(X[y == c].ravel(), minlength=256)
        pixels.plot(np.arange(256), counts / counts.sum(), color=colour, label=label)
        means.hist(brightness[y == c], bins=40, alpha=0.55, color=colour, label=label)
    pixels.set(xlabel="pixel value", ylabel="share of pixels", title="Pixel values")
    means.set(xlabel="mean pixel value of an image", ylabel="images", title="Image brightness")
    pixels.legend()
    means.legend()
    return fig


def mean_figure(mean_images: list[np.ndarray], difference: np.ndarray) -> Figure:
    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 3)
    for ax, image, label in zip(axes[:2], mean_images, data.CLASS_NAMES, strict=True):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"mean {label} image")
    limit = max(float(np.abs(difference).max()), 1e-9)
    shown = axes[2].imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[2].set_title("pneumonia − normal")
    fig.colorbar(shown, ax=axes[2], label="grey levels")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def duplicates_figure(distance: np.ndarray, within: np.ndarray) -> Figure:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    edges = np.linspace(0, max(float(distance.max()), float(within.max()), NEAR_COPY * 2), 60)
    ax.hist(within, bins=edges, alpha=0.5, color="grey", label="training image to its nearest other one")
    ax.hist(distance, bins=edges, alpha=0.7, color="#4C72B0", label="held-out image to its nearest training one")
    ax.axvline(NEAR_COPY, color="tab:red", linestyle="--", label=f"copy below {NEAR_COPY}")
    ax.set_yscale("log")
    ax.set(xlabel="RMS pixel distance (0-1)", ylabel="images", title="How close is the nearest training image?")
    ax.legend(fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> int:
    args = explore_parser(__doc__, PROJECT).parse_args(argv)
    cfg = load_config(Config, args)  # --data and --set, as train.py takes them
    found = report(cfg)
    written = write(found, args.out)
    print(found.summary())
    print(f"Report: {paths.shown(written)} (plots in {paths.shown(written.parent / 'plots')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
