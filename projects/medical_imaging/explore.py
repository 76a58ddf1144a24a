"""Explore the X-rays before training on them: a data report, with what each plot shows computed from the data.

    $ make explore PROJECT=medical_imaging
    $ python -m projects.medical_imaging.explore [--data file.npz] [--out FOLDER]

Reads the images through data.load, as train.py does (so --data explores your own .npz the same way), and
writes runs/medical_imaging-explore/: report.md (it reads on its own), report.json (its numbers) and plots/.
1. the class balance of each split;
2. a sample of each class, to see what the model sees;
3. the pixel intensities of each class, and whether brightness alone gives the class away;
4. the mean image of each class and their difference, each pixel's against its standard error (t): where
   the classes differ beyond chance. A clear difference outside the lungs (a corner, a border, a text
   marker) is a warning sign of shortcut learning: a model can score well on it without looking at the
   lungs, and fail on another hospital's images;
5. duplicate and near-duplicate images across the splits: a test image that is a training image flatters
   the test score.
Steps 2 to 4 use the training split only: the validation and test images stay unseen, as in train.py.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from scipy import stats
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
MAX_COMPARED = (
    2000  # images whose nearest training image is searched (a random sample above this): seconds, not minutes
)
BORDER = 0.07  # the outer 7% of each side (2 pixels of 28): the image's frame, where no lung is
FRAME_RATIO = 0.5  # a frame difference at least half as clear (in t) as the interior's clearest: a model can lean on it
CHANCE = 0.05  # the chance level of the per-pixel t: a |t| that the largest of H x W noise pixels passes in 5% of data


def report(cfg: Config) -> Report:
    """The data report of the configured images (PneumoniaMNIST, or --data), built in memory, one section a step."""
    loaded = data.load(cfg)
    splits = loaded.splits
    X_train, y_train = splits["train"]
    side = X_train.shape[1]
    source = cfg.data.path or f"{data.DATASET.name} ({', '.join(loaded.files)})"
    total = sum(len(y) for _, y in splits.values())
    found = Report(PROJECT, f"{source}: {total:,} chest X-rays of {side}x{side} pixels, in {len(splits)} splits.")
    class_balance(found, splits)
    class_samples(found, X_train, y_train, cfg.seed)
    intensities(found, X_train, y_train)
    mean_images(found, X_train, y_train)
    duplicates(found, splits, cfg.seed)
    return found


def class_balance(found: Report, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """1. The share of pneumonia in each split."""
    found.section("1. Class balance")
    share = {name: float(y.mean()) for name, (_, y) in splits.items()}  # share of pneumonia in each split
    widest = max(share.values()) - min(share.values())
    found.plot(
        "balance",
        balance_figure(splits),
        "Pneumonia is " + ", ".join(f"{percent(s)} of {name}" for name, s in share.items())
        + (f": the splits differ by up to {100 * widest:.0f} percentage points, so a threshold tuned on validation "
           "meets another balance in test (precision and accuracy move with it; ROC AUC does not)." if widest > 0.05
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


def class_samples(found: Report, X_train: np.ndarray, y_train: np.ndarray, seed: int) -> None:
    """2. A few training images of each class, drawn at random."""
    found.section("2. A sample of each class")
    side = X_train.shape[1]
    rng = np.random.default_rng(seed)
    shown = {}  # class name -> (at most SHOWN, H, W) of its training images
    for c, name in enumerate(data.CLASS_NAMES):
        members = np.flatnonzero(y_train == c)
        shown[name] = X_train[rng.choice(members, min(SHOWN, len(members)), replace=False)]
    found.plot(
        "samples",
        image_rows(shown, "Training images, drawn at random"),
        f"{', '.join(f'{len(v)} {k}' for k, v in shown.items())} training images drawn with seed {seed}, "
        f"{side}x{side} pixels as the model sees them: look for what tells the classes apart besides the lungs "
        "(markers, borders, framing).",
    )


def intensities(found: Report, X_train: np.ndarray, y_train: np.ndarray) -> None:
    """3. Pixel intensities per class, and how well an image's mean brightness alone ranks the classes."""
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


def welch_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel Welch t of mean(b) - mean(a), images (n, H, W) -> (H, W): t = d / sqrt(s_a^2/n_a + s_b^2/n_b).

    Each variance is at least 1/12, the variance of rounding to whole grey levels: a pixel that is the same in
    every image of both classes gets t = 0, and one constant in each class but different, a large finite t."""
    var_a, var_b = (np.maximum(x.var(axis=0, ddof=1), 1 / 12) for x in (a, b))  # (H, W) each
    return (b.mean(axis=0) - a.mean(axis=0)) / np.sqrt(var_a / len(a) + var_b / len(b))


def mean_images(found: Report, X_train: np.ndarray, y_train: np.ndarray) -> None:
    """4. The mean image of each class, and where they differ beyond chance: on the frame is a shortcut warning.

    A plain difference of means mixes signal with noise and with where the pixels vary anyway; the per-pixel t
    (difference / its standard error) says how clear each pixel's difference is. The frame's clearest pixel is
    compared with the interior's clearest: a marker in a corner stands out there even when the lungs differ too."""
    found.section("4. Mean images and their difference")
    side = X_train.shape[1]
    groups = [X_train[y_train == c].astype(np.float64) for c in range(2)]  # (n_c, H, W) normal, pneumonia
    means = [g.mean(axis=0) for g in groups]  # (H, W) each
    difference = means[1] - means[0]  # (H, W) pneumonia - normal, in grey levels
    t = welch_t(*groups)  # (H, W)
    ring = border_mask(side)
    # Bonferroni: the |t| that the largest of H x W pixels passes by chance in CHANCE of data sets (normal t)
    chance_t = float(stats.norm.isf(CHANCE / 2 / t.size))
    frame, interior = (clearest(t, where) for where in (ring, ~ring))  # (row, column) of the largest |t| in each
    frame_t, interior_t = abs(t[frame]), abs(t[interior])
    warning = bool(frame_t > chance_t and frame_t >= FRAME_RATIO * interior_t)
    ratio = frame_t / max(interior_t, 1e-12)  # how clear the frame's difference is against the interior's
    if warning:
        verdict = (
            f"the frame's is real and {ratio:.2g}x as clear as the interior's, where no lung is: a shortcut warning."
        )
    elif frame_t > chance_t:
        verdict = (f"the frame's is real but only {ratio:.2g}x as clear as the interior's (under {FRAME_RATIO:g}x): "
                   "no sign of a shortcut along the edges.")  # fmt: skip
    else:
        verdict = "the frame's is within chance: no sign of a shortcut along the edges."

    def pixel(p: tuple[int, int]) -> str:
        return f"{region(*p, side)} (row {p[0]}, column {p[1]}): {difference[p]:+.0f} grey levels, t {t[p]:.1f}"

    found.plot(
        "mean_images",
        mean_figure(means, difference, t, ring),
        f"Pneumonia minus normal, per pixel, with t = difference / its standard error: the clearest difference away "
        f"from the edges is at the {pixel(interior)}; on the frame (the outer {border_width(side)} pixels, "
        f"{percent(ring.mean())} of the image) at the {pixel(frame)}. By chance the largest |t| of {t.size} pixels "
        f"passes {chance_t:.1f} in {percent(CHANCE)} of data sets: {verdict}",
    )
    found.text(
        "Where the classes differ on average is where a model can find its evidence. A difference over the lungs is "
        "expected (pneumonia shows as opacities); one in a corner or along an edge comes from how the images were "
        "taken (the machine, the positioning, a burned-in marker), and a model that uses it fails elsewhere. "
        f"The warning fires when the frame's clearest pixel is beyond chance and at least {FRAME_RATIO:g}x as clear "
        "as the interior's clearest (in |t|). Grad-CAM (the API's `?gradcam=true`) shows where a trained model looks."
    )
    found.numbers["mean_images"] = {
        "interior": {
            "at": [int(i) for i in interior],
            "difference": float(difference[interior]),
            "t": float(t[interior]),
        },
        "frame": {"at": [int(i) for i in frame], "difference": float(difference[frame]), "t": float(t[frame])},
        "chance_t": chance_t,
        "frame_share_of_pixels": float(ring.mean()),
        "shortcut_warning": warning,
    }


def clearest(t: np.ndarray, where: np.ndarray) -> tuple[int, int]:
    """(row, column) of the largest |t| among the pixels where `where` is True."""
    row, column = np.unravel_index(np.where(where, np.abs(t), -1).argmax(), t.shape)
    return int(row), int(column)


def region(row: int, column: int, side: int) -> str:
    """Where a pixel lies, in words: 'top left', 'centre', 'bottom centre'..."""
    down = ("top", "middle", "bottom")[min(2, 3 * row // side)]
    across = ("left", "centre", "right")[min(2, 3 * column // side)]
    return "centre" if (down, across) == ("middle", "centre") else f"{down} {across}".replace("middle ", "")


def border_width(side: int) -> int:
    return max(1, round(side * BORDER))


def border_mask(side: int) -> np.ndarray:
    """(side, side) True on the frame: the outer border_width(side) pixels of each side."""
    width = border_width(side)
    mask = np.ones((side, side), dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def duplicates(found: Report, splits: dict[str, tuple[np.ndarray, np.ndarray]], seed: int) -> None:
    """5. Exact and near copies of training images among the validation and test images."""
    found.section("5. Duplicates across the splits")
    X_train = splits["train"][0]
    held_out = np.concatenate([splits["val"][0], splits["test"][0]])
    held_split = np.array(["val"] * len(splits["val"][0]) + ["test"] * len(splits["test"][0]))
    queries = sample(len(held_out), MAX_COMPARED, seed)  # a random sample of the held-out images, or all
    distance, nearest = nearest_distances(held_out[queries], X_train)  # RMS pixel distance (0-1) to all training
    exact = exact_duplicates(held_out, X_train)  # every image: hashing is cheap
    own = sample(len(X_train), MAX_COMPARED, seed + 1)  # training images, at random, searched among the others
    within, _ = nearest_distances(X_train[own], X_train, skip=own)  # themselves skipped
    near = distance < NEAR_COPY
    parts = [f"{len(queries):,} of {len(held_out):,} held-out images"] if len(queries) < len(held_out) else []
    if len(own) < len(X_train):
        parts.append(f"{len(own):,} of {len(X_train):,} training images searched among the others")
    sampled = f" (random samples: {' and '.join(parts)}, each against all the training images)" if parts else ""
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
            image_rows({"held-out": held_out[queries][pairs], "training": X_train[nearest[pairs]]},
                       "Held-out images and their nearest training image"),
            (f"{len(pairs)} of the {int(near.sum())} near-copies" if len(pairs) < near.sum() else
             f"The {len(pairs)} near-cop{'y' if len(pairs) == 1 else 'ies'}")
            + f" (top) above the training image (bottom): distances {', '.join(f'{d:.3f}' for d in distance[pairs])}.",
        )  # fmt: skip
    found.numbers["duplicates"] = {
        "exact_copies": int(exact.sum()),
        "exact_copies_in_test": int(exact[held_split == "test"].sum()),
        "near_copies": int(near.sum()),
        "compared": len(queries),
        "training_compared": len(own),
        "references": len(X_train),
        "median_nearest_distance": float(np.median(distance)),
        "median_within_training_distance": float(np.median(within)),
        "threshold": NEAR_COPY,
    }


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


def mean_figure(means: list[np.ndarray], difference: np.ndarray, t: np.ndarray, ring: np.ndarray) -> Figure:
    """The mean image of each class, their difference in grey levels, and its per-pixel t with the frame outlined."""
    fig = Figure(figsize=(13, 3.6))
    axes = fig.subplots(1, 4)
    for ax, image, label in zip(axes[:2], means, data.CLASS_NAMES, strict=True):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"mean {label} image")
    for ax, values, title, unit in ((axes[2], difference, "pneumonia − normal", "grey levels"),
                                    (axes[3], t, "t: difference / standard error", "t")):  # fmt: skip
        limit = max(float(np.abs(values).max()), 1e-9)
        shown = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title)
        fig.colorbar(shown, ax=ax, label=unit)
    axes[3].contour(ring, levels=[0.5], colors="black", linewidths=0.8)  # the frame's inner edge
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
