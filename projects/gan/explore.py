"""Explore the images before a GAN learns to draw them: a data report, with what each plot shows computed from the data.

    $ make explore PROJECT=gan
    $ python -m projects.gan.explore [--data file.npz | --set data.source=mnist] [--out FOLDER]

Reads the images through data.load, as train.py does (so --data explores your own .npz the same way), and
writes runs/gan-explore/: report.md (it reads on its own), report.json (its numbers) and plots/.
1. the splits and how many images each class has (a conditional generator learns each class from its own);
2. a sample of each class: what the generator should learn to draw;
3. pixel statistics: how the values are spread, how much of each image is background, and how the
   classes differ in ink: the generator's tanh output has to reach the same extremes;
4. the nearest-neighbour distances within the real data: how close one real image comes to another.
   That is the yardstick for copying: evaluate.py calls a generated image a near-copy when it is closer
   to a training image than almost every real test image is; the closest real pairs show what such
   closeness looks like.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

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
from .evaluate import NEAR_COPY_PERCENTILE  # the near-copy line evaluate.py draws: one definition, used by both

PROJECT = paths.project_name(__package__)
SHOWN = 8  # images of each class in the sample grid
MAX_CLASSES_SHOWN = 20  # rows of the sample grid at most (a file may have up to data.MAX_CLASSES classes)
MAX_COMPARED = 2000  # images whose nearest training image is searched (a random sample above this: MNIST has 55,000)
CLOSEST_PAIRS = 8  # the closest real pairs shown: what "too close" looks like in this data


def report(cfg: Config) -> Report:
    """The data report of the configured images (the digits, MNIST, or --data), built in memory, a section a step."""
    images = data.load(cfg)
    X_train, y_train = images.splits["train"]
    colour = "colour" if images.channels == 3 else "grayscale"
    total = sum(len(y) for _, y in images.splits.values())
    found = Report(PROJECT, f"{images.name}: {total:,} {colour} images of {images.side}x{images.side} pixels, "
                            f"{images.n_classes} classes.")  # fmt: skip
    counts = np.bincount(y_train, minlength=images.n_classes)  # (n_classes,) training images per class
    splits_and_classes(found, images.splits, counts)
    class_samples(found, X_train, y_train, counts, cfg.seed)
    pixel_statistics(found, X_train, y_train, counts, images.channels)
    nearest_neighbours(found, X_train, images.splits["test"][0], cfg.seed)
    return found


def splits_and_classes(found: Report, splits: dict[str, tuple[np.ndarray, np.ndarray]], counts: np.ndarray) -> None:
    """1. The splits, and how many training images each class has."""
    found.section("1. Splits and classes")
    found.table(
        ["split", "images", "fewest of a class", "most of a class"],
        [[name, len(y), int(np.bincount(y, minlength=len(counts)).min()),
          int(np.bincount(y, minlength=len(counts)).max())] for name, (_, y) in splits.items()],
    )  # fmt: skip
    rare, common = int(counts.argmin()), int(counts.argmax())
    found.plot(
        "classes",
        classes_figure(counts),
        f"Class {rare} has the fewest training images ({counts[rare]:,}), class {common} the most ({counts[common]:,}), "
        f"a ratio of {counts[common] / max(counts[rare], 1):.1f}: "
        + ("a conditional generator sees the rare classes far less often and draws them worse."
           if counts[common] > 2 * counts[rare] else "every class gets about as many updates as the others."),
    )  # fmt: skip
    found.numbers["classes"] = {"train_per_class": counts.tolist(), "splits": {n: len(y) for n, (_, y) in
                                                                               splits.items()}}  # fmt: skip


def class_samples(found: Report, X_train: np.ndarray, y_train: np.ndarray, counts: np.ndarray, seed: int) -> None:
    """2. A few training images of each class: what the generator should learn to draw."""
    found.section("2. A sample of each class")
    rng = np.random.default_rng(seed)
    shown_classes = [c for c in range(len(counts)) if counts[c]][:MAX_CLASSES_SHOWN]
    rows = {f"class {c}": X_train[rng.choice(np.flatnonzero(y_train == c), min(SHOWN, int(counts[c])), replace=False)]
            for c in shown_classes}  # fmt: skip
    found.plot(
        "samples",
        image_rows(rows, "Real training images, drawn at random"),
        f"{SHOWN} training images of each of {len(rows)} classes (seed {seed})"
        + (f", the first {MAX_CLASSES_SHOWN} of {len(counts)}" if len(counts) > MAX_CLASSES_SHOWN else "")
        + ": a generated grid (make predict) should look like this, class by class, with as much variety.",
    )


def pixel_statistics(
    found: Report, X_train: np.ndarray, y_train: np.ndarray, counts: np.ndarray, channels: int
) -> None:
    """3. How the pixel values are spread, how much is background, and how the classes differ in ink."""
    found.section("3. Pixel statistics")
    pixels = X_train.reshape(len(X_train), -1)  # (N, side * side [* 3]) uint8
    histogram = np.bincount(pixels.ravel(), minlength=256)  # (256,) pixels of each value: one pass, no sort
    at_zero, at_full = float(histogram[0] / pixels.size), float(histogram[255] / pixels.size)
    ink = pixels.mean(axis=1)  # (N,) each image's mean pixel
    per_class = np.array([ink[y_train == c].mean() if counts[c] else np.nan for c in range(len(counts))])
    darkest, brightest = int(np.nanargmin(per_class)), int(np.nanargmax(per_class))
    found.plot(
        "pixels",
        pixels_figure(histogram, per_class),
        f"{percent(at_zero)} of the pixels are 0 and {percent(at_full)} are 255, of {np.count_nonzero(histogram)} "
        "distinct values: the generator's tanh output, scaled "
        f"to [-1, 1], must reach its ends {'often' if at_zero + at_full > 0.25 else 'rarely'}. Mean pixel "
        f"{pixels.mean():.0f} (sd {pixels.std():.0f}); class {brightest} is the brightest on average "
        f"({per_class[brightest]:.0f}), class {darkest} the darkest ({per_class[darkest]:.0f}).",
    )
    found.numbers["pixels"] = {
        "mean": float(pixels.mean()),
        "sd": float(pixels.std()),
        "share_at_0": at_zero,
        "share_at_255": at_full,
        "distinct_values": int(np.count_nonzero(histogram)),
        "mean_per_class": [None if np.isnan(m) else float(m) for m in per_class],
    }
    if channels == 3:
        channel_means = X_train.reshape(-1, 3).mean(axis=0)  # (3,) red, green, blue
        found.text("Mean of each colour channel (red, green, blue): " + ", ".join(f"{m:.0f}" for m in channel_means))
        found.numbers["pixels"]["channel_means"] = channel_means.tolist()


def nearest_neighbours(found: Report, X_train: np.ndarray, X_test: np.ndarray, seed: int) -> None:
    """4. How close real images come to each other: the yardstick evaluate.py measures copying against.

    As in evaluate.py, each test image is compared with every training image (in blocks, so all of MNIST fits);
    above MAX_COMPARED test images a random sample stands in for them, and the line is then an estimate."""
    found.section("4. Nearest neighbours in the real data: what copying would look like")
    queries = sample(len(X_test), MAX_COMPARED, seed)  # all the test images, or a random sample of them
    test_nn, _ = nearest_distances(X_test[queries], X_train)  # RMS pixel distance (0-1) to all training images
    own = sample(len(X_train), MAX_COMPARED, seed + 1)  # training images, at random, searched among the others
    train_nn, partner = nearest_distances(X_train[own], X_train, skip=own)  # themselves skipped
    line = float(np.percentile(test_nn, NEAR_COPY_PERCENTILE))
    duplicates = int(exact_duplicates(X_test, X_train).sum())
    estimated = len(queries) < len(X_test)
    parts = [f"{len(queries):,} of {len(X_test):,} test images"] if estimated else []
    if len(own) < len(X_train):
        parts.append(f"{len(own):,} of {len(X_train):,} training images searched among the others")
    sampled = f" (random samples: {' and '.join(parts)}, each against all the training images)" if parts else ""
    found.plot(
        "nearest_neighbours",
        nearest_figure(test_nn, train_nn, line),
        f"A real test image lies {np.median(test_nn):.3f} (median RMS pixel distance) from its nearest training image, "
        f"a training image {np.median(train_nn):.3f} from its nearest other one{sampled}. evaluate.py calls a generated "
        f"image a near-copy below the test images' {NEAR_COPY_PERCENTILE}th percentile, here "
        f"{'about ' if estimated else ''}{line:.3f}; {percent(float((train_nn < line).mean()))} of training images are "
        f"that close to another, and {duplicates} test image{'s are' if duplicates != 1 else ' is'} an exact copy of "
        "a training image.",
    )
    closest, seen = [], set()  # a pair of mutual nearest neighbours appears twice: show it once
    for i in np.argsort(train_nn):
        pair = frozenset((int(own[i]), int(partner[i])))
        if pair not in seen and len(closest) < CLOSEST_PAIRS:
            seen.add(pair)
            closest.append(i)
    closest = np.array(closest, dtype=np.int64)
    found.plot(
        "closest_pairs",
        image_rows({"image": X_train[own[closest]], "nearest": X_train[partner[closest]]},
                   "The closest pairs of real training images"),
        f"The {len(closest)} training images closest to another (top) and that image (below), distances "
        f"{', '.join(f'{d:.3f}' for d in train_nn[closest])}: a generator that copies produces pairs like these with "
        "its nearest training image (evaluate.py shows its own).",
    )  # fmt: skip
    found.numbers["nearest_neighbours"] = {
        "median_test_to_train": float(np.median(test_nn)),
        "median_train_to_train": float(np.median(train_nn)),
        "near_copy_line": line,
        "near_copy_line_estimated": estimated,
        "near_copy_percentile": NEAR_COPY_PERCENTILE,
        "train_closer_than_line": float((train_nn < line).mean()),
        "exact_test_copies": duplicates,
        "compared": {"test": len(queries), "train": len(own), "references": len(X_train)},
    }


def classes_figure(counts: np.ndarray) -> Figure:
    fig = Figure(figsize=(max(5, 0.35 * len(counts) + 2), 3.5))
    ax = fig.subplots()
    ax.bar(np.arange(len(counts)), counts, color="#4C72B0")
    ax.set_xticks(np.arange(len(counts)) if len(counts) <= 30 else ax.get_xticks())
    ax.set(xlabel="class", ylabel="training images", title="Training images per class")
    return fig


def pixels_figure(histogram: np.ndarray, per_class: np.ndarray) -> Figure:
    """The histogram of pixel values (log counts: the background spike and the ink both show), and each class's
    mean pixel."""
    fig = Figure(figsize=(10, 3.6))
    values, classes = fig.subplots(1, 2)
    values.stairs(histogram, np.arange(257), fill=True, color="#4C72B0")
    values.set(yscale="log", xlabel="pixel value", ylabel="pixels (log scale)", title="Pixel values (training)")
    classes.bar(np.arange(len(per_class)), per_class, color="#4C72B0")
    classes.set(xlabel="class", ylabel="mean pixel value", title="Mean brightness per class")
    return fig


def nearest_figure(test_nn: np.ndarray, train_nn: np.ndarray, line: float) -> Figure:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    edges = np.linspace(0, max(float(test_nn.max()), float(train_nn.max())) * 1.02 + 1e-6, 50)
    ax.hist(train_nn, bins=edges, alpha=0.5, color="grey", label="training image to its nearest other one")
    ax.hist(test_nn, bins=edges, alpha=0.7, color="#4C72B0", label="test image to its nearest training one")
    ax.axvline(line, color="tab:red", linestyle="--", label=f"near-copy line ({NEAR_COPY_PERCENTILE}th percentile)")
    ax.set(xlabel="RMS pixel distance (0-1)", ylabel="images", title="How close do real images come to each other?")
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
