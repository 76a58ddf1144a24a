"""Evaluate a trained GAN: how close are its images to real held-out ones, how varied, and are they copies?

    $ make evaluate PROJECT=gan [RUN=<run id>]
    $ python -m projects.gan.evaluate [--run <run id>]

Measures, on the test images that training never saw, split into two halves A and B with the
same classes: the Fréchet distance between half A and the generator's images, in the feature
space of the judge (a small classifier trained on the real training images), beside two
yardsticks: half B, real images, as the floor, and an untrained generator as the ceiling.
Precision and recall (Kynkäänniemi et al. 2019) split the distance into quality and variety.
For a conditional model, the judge's accuracy on images of each requested class. The distance
from each image to its nearest training image shows whether the generator copies. Writes
test_* metrics into metrics.json, plots/*.png and MODEL_CARD.md into the run folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from mlstarter import datasets, model_card, plots, runs
from mlstarter.metrics import shown
from mlstarter.paths import project_name
from mlstarter.scripts import evaluate_parser, run_script

from . import data, model
from .config import Config
from .model import Generator, frechet_distance, gaussian_stats, generate, image_grid, judge_features

PROJECT = project_name(__package__)
PER_CLASS = 100  # images generated for each class to measure the class accuracy of a conditional model
NEIGHBOURS = 3  # k of the k-nearest-neighbour balls of precision and recall (the paper's choice)
NEAR_COPY_PERCENTILE = 5  # a fake closer to a training image than 95% of real test images are is a near-copy
# What `make promote` compares with the promoted run (and which way is better): the Fréchet distance as a share
# of the untrained generator's, not the raw distance, because each run measures in the features of its own judge,
# and the judge's accuracy on generated images of the requested class (conditional models only)
PROMOTE_ON = {"test_fd_ratio": "lower", "test_class_accuracy": "higher"}


def pairwise_distances(a: np.ndarray, b: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Euclidean distances (len(a), len(b)) between rows, in chunks of `a` to bound memory."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    b_sq = (b**2).sum(axis=1)
    out = np.empty((len(a), len(b)), np.float32)
    for i in range(0, len(a), chunk):
        block = a[i : i + chunk]
        sq = (block**2).sum(axis=1)[:, None] + b_sq[None, :] - 2 * block @ b.T  # |x|^2 + |y|^2 - 2 x.y
        out[i : i + chunk] = np.sqrt(sq.clip(min=0))
    return out


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of features (N, d).

    Around each real point, a ball reaching its k-th nearest real neighbour: together, the real
    "manifold". Precision = the share of fakes inside it (are fakes realistic?); recall = the
    share of real points inside the fakes' own balls (is every kind of real image produced?).
    Mode collapse shows as good precision with poor recall.
    """

    def radii(x: np.ndarray) -> np.ndarray:
        d = pairwise_distances(x, x)
        return np.sort(d, axis=1)[:, min(k, len(x) - 1)]  # column 0 is the point itself

    real_radii, fake_radii = radii(real), radii(fake)
    cross = pairwise_distances(fake, real)  # (n_fake, n_real)
    precision = float((cross <= real_radii[None, :]).any(axis=1).mean())  # fake i inside some real ball
    recall = float((cross <= fake_radii[:, None]).any(axis=0).mean())  # real j inside some fake ball
    return precision, recall


def nearest_training_image(images: np.ndarray, X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each image, (the RMS pixel distance to its nearest training image, on a 0-1 scale; that image's index)."""
    flat = lambda x: x.reshape(len(x), -1).astype(np.float32) / 255
    queries, train = flat(images), flat(X_train)
    best_d, best_i = np.full(len(images), np.inf, np.float32), np.zeros(len(images), np.int64)
    for j in range(0, len(train), 20_000):  # chunks of the training set bound the memory on MNIST
        d = pairwise_distances(queries, train[j : j + 20_000])
        i = d.argmin(axis=1)
        closer = d[np.arange(len(d)), i] < best_d
        best_d[closer], best_i[closer] = d[np.arange(len(d)), i][closer], i[closer] + j
    return best_d / np.sqrt(queries.shape[1]), best_i


def main(argv: list[str] | None = None) -> int:
    args = evaluate_parser(__doc__).parse_args(argv)
    run = runs.latest_run(PROJECT, args.run)
    gan = model.load(run)  # the best generator, the judge, and the config they were trained with
    G, judge, cfg, info = gan.generator, gan.judge, gan.cfg, gan.images
    conditional = cfg.model.conditional

    # 1. The held-out test images of the same data, in two halves with the same classes.
    images = data.load(cfg)
    if datasets.checksums(images.files) != run.read_json("environment.json")["dataset_sha256"]:
        print("warning: the data files differ from those this run was trained on.")
    X_train = images.splits["train"][0]
    X_test, y_test = images.splits["test"]
    half_a, half_b = data.stratified_halves(y_test)
    X_ref, y_ref = X_test[half_a], y_test[half_a]
    seed = cfg.seed + 2  # test noise: neither the training nor the validation noise

    # 2. Three sets of images compared with half A: real (half B), the trained generator, an untrained one.
    untrained, _ = model.build(cfg, info["side"], info["channels"], info["n_classes"])  # training's starting point
    untrained.eval()
    labels = y_ref if conditional else None
    candidates = {
        "real images (floor)": X_test[half_b],
        "trained generator": generate(G, len(y_ref), seed, labels),
        "untrained generator (ceiling)": generate(untrained, len(y_ref), seed, labels),
    }
    ref_features, ref_probs = judge_features(judge, X_ref)
    ref_stats = gaussian_stats(ref_features)
    rows = {}
    for name, candidate in candidates.items():
        features, probs = judge_features(judge, candidate)
        precision, recall = precision_recall(ref_features, features)
        rows[name] = {
            "fd": frechet_distance(ref_stats, gaussian_stats(features)),
            "precision": precision,
            "recall": recall,
            "class_mix_tv": class_mix_distance(ref_probs, probs),
        }
    real, fake, ceiling = rows["real images (floor)"], rows["trained generator"], rows["untrained generator (ceiling)"]
    metrics = {
        "test_fd": fake["fd"],
        "test_fd_real": real["fd"],
        "test_fd_untrained": ceiling["fd"],
        "test_fd_ratio": fake["fd"] / ceiling["fd"],
        "test_precision": fake["precision"],
        "test_recall": fake["recall"],
        "test_precision_real": real["precision"],
        "test_recall_real": real["recall"],
        "test_class_mix_tv": fake["class_mix_tv"],
        "test_class_mix_tv_real": real["class_mix_tv"],
        "test_judge_accuracy_real": float((ref_probs.argmax(1) == y_ref).mean()),
    }

    # 3. Conditional models: ask for PER_CLASS images of every class; does the judge see that class?
    per_class = None
    if conditional:
        asked = np.repeat(np.arange(info["n_classes"]), PER_CLASS)
        seen = judge_features(judge, generate(G, len(asked), seed + 1, asked))[1].argmax(1)
        per_class = np.array([(seen[asked == c] == c).mean() for c in range(info["n_classes"])])
        metrics["test_class_accuracy"] = float((seen == asked).mean())
        metrics.update({f"test_class_accuracy_{c}": float(a) for c, a in enumerate(per_class)})

    # 4. Copying: how close is each fake to its nearest training image, compared with real test images?
    fakes = generate(G, len(y_test), seed + 2, y_test if conditional else None)
    fake_nn, fake_idx = nearest_training_image(fakes, X_train)
    real_nn, _ = nearest_training_image(X_test, X_train)
    metrics["test_nn_distance_fake"] = float(np.median(fake_nn))
    metrics["test_nn_distance_real"] = float(np.median(real_nn))
    # share of fakes closer to a training image than 95% of real test images are: about 5% if nothing is copied
    metrics["test_near_copies"] = float((fake_nn < np.percentile(real_nn, NEAR_COPY_PERCENTILE)).mean())

    # 5. Plots.
    plot_dir = run.path / "plots"
    history = run.read_json("history.json")["epochs"]
    loss_plot(history, cfg.model.loss, plot_dir / "losses.png")
    fd_plot(history, run.metrics, plot_dir / "fd_by_epoch.png")
    sample_plot(G, info, conditional, cfg.seed, plot_dir / "samples.png")
    progress_plot(plot_dir / "progress", plot_dir / "progress.png")
    real_vs_fake_plot(X_test, fakes, plot_dir / "real_vs_fake.png")
    neighbours_plot(fakes, fake_nn, fake_idx, X_train, plot_dir / "nearest_neighbours.png")
    nn_histogram(real_nn, fake_nn, plot_dir / "nearest_distance.png")
    if per_class is not None:
        names = [f"class {c}" for c in range(len(per_class))]
        plots.bars(names, list(per_class), plot_dir / "class_accuracy.png",
                   title="Judge's accuracy on generated images, by requested class", xlabel="accuracy")  # fmt: skip

    # 6. Write everything into the run folder.
    all_metrics = runs.update_json(run.path / "metrics.json", metrics)
    table = metrics_table(rows)
    runs.write_text(run.path / "MODEL_CARD.md", render_card(run, cfg, all_metrics, table, images, len(y_ref)))

    print(
        f"***** Evaluation of {PROJECT} run {run.run_id}: {len(y_ref)} generated vs {len(y_ref)} held-out images *****"
    )
    print(table)
    if conditional:
        print(f"Class accuracy of generated images: {shown(metrics['test_class_accuracy'])} "
              f"(the judge on real test images: {shown(metrics['test_judge_accuracy_real'])})")  # fmt: skip
    print(f"Nearest training image, median RMS distance: fakes {metrics['test_nn_distance_fake']:.3f}, real test images "
          f"{metrics['test_nn_distance_real']:.3f}; near-copies {metrics['test_near_copies']:.1%} (about 5% = no copying)")  # fmt: skip
    print(f"Fréchet distance {metrics['test_fd']:.2f} = {metrics['test_fd_ratio']:.1%} of the untrained generator's. "
          f"Plots and MODEL_CARD.md written to {run.path}")  # fmt: skip
    return 0


def class_mix_distance(reference_probs: np.ndarray, probs: np.ndarray) -> float:
    """Total variation between the mix of classes the judge sees in two sets: 0 = the same mix, 1 = disjoint.
    A generator that collapsed onto a few digits has a large one, whatever its image quality."""
    n = reference_probs.shape[1]
    p = np.bincount(reference_probs.argmax(1), minlength=n) / len(reference_probs)
    q = np.bincount(probs.argmax(1), minlength=n) / len(probs)
    return float(np.abs(p - q).sum() / 2)


def metrics_table(rows: dict[str, dict[str, float]]) -> str:
    return model_card.table(
        [
            {
                "compared with real half A": name,
                "Fréchet distance (lower is better)": f"{r['fd']:.2f}",
                "precision": shown(r["precision"]),
                "recall": shown(r["recall"]),
                "class mix distance": shown(r["class_mix_tv"]),
            }
            for name, r in rows.items()
        ]
    )


def _show(ax, picture: np.ndarray, title: str) -> None:
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")


def loss_plot(history: list[dict], loss: str, path: Path) -> None:
    """The two players' losses by epoch, and what D thinks of real and fake images."""
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    left.plot(epochs, [h["d_loss"] for h in history], label="discriminator")
    left.plot(epochs, [h["g_loss"] for h in history], label="generator")
    left.set(xlabel="epoch", ylabel="mean loss", title=f"Losses ({loss})")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers: no tick at 1.5
    left.legend()
    what = "critic score" if loss == "wgan-gp" else "D's probability of real"
    right.plot(epochs, [h["d_real"] for h in history], label="D(x), real images")
    right.plot(epochs, [h["d_fake"] for h in history], label="D(G(z)), fakes")
    right.set(xlabel="epoch", ylabel=what, title="What the discriminator thinks")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.legend()
    plots.save(fig, path)


def fd_plot(history: list[dict], train_metrics: dict, path: Path) -> None:
    """Validation Fréchet distance by epoch, between the real-image floor and the untrained ceiling."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot([h["epoch"] for h in history], [h["val_fd"] for h in history], label="generator")
    ax.axhline(train_metrics["val_fd_untrained"], linestyle="--", color="tab:red", label="untrained generator")
    ax.axhline(train_metrics["val_fd_real"], linestyle="--", color="tab:green", label="real images")
    ax.axvline(train_metrics["val_best_epoch"], linestyle=":", color="grey", label="best epoch (kept)")
    ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="Fréchet distance (log scale)", title="Validation Fréchet distance by epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    plots.save(fig, path)


def sample_plot(G: Generator, info: dict, conditional: bool, seed: int, path: Path) -> None:
    """100 generated images (10 of each of the first 10 classes, a row each, for a conditional model)."""
    labels = np.repeat(np.arange(min(info["n_classes"], 10)), 10) if conditional else None
    images = generate(G, 100 if labels is None else len(labels), seed, labels)
    fig = Figure(figsize=(6, 6.4))
    ax = fig.subplots()
    _show(ax, image_grid(images, 10), "Generated" + (": one class a row" if conditional else ""))
    if conditional:  # name each row's class on its left: the rows are the point of the picture
        side = images.shape[1] + 1  # an image and the 1-pixel gap after it, in image_grid's layout
        rows = np.arange(len(labels) // 10)
        ax.axis("on")
        ax.set(xticks=[], yticks=1 + rows * side + (side - 1) / 2, yticklabels=[f"class {c}" for c in rows])
        ax.tick_params(left=False)
        ax.spines[:].set_visible(False)
    plots.save(fig, path)


PANELS_PER_ROW = 3  # the progress strip wraps after three grids, so each keeps its full size
FIGURE_DPI = 100  # matplotlib's default: a figure's inches times this are its pixels (plots.save draws at 110)


def progress_figure(grids: list[Path]) -> Figure:
    """The grids side by side, three to a row, each panel as large as the grid's own pixels: drawn smaller,
    the 1-pixel gaps between images would vanish at random and small digits would blur."""
    pictures = [np.asarray(Image.open(grid)) for grid in grids]
    height, width = pictures[0].shape[:2]
    columns = min(len(pictures), PANELS_PER_ROW)
    rows = -(-len(pictures) // columns)  # ceiling division
    # per panel: the grid's pixels, plus room for its title (0.5 in) and the margins between panels (0.3 in)
    fig = Figure(
        figsize=(columns * (width / FIGURE_DPI + 0.3), rows * (height / FIGURE_DPI + 0.5) + 0.5), dpi=FIGURE_DPI
    )
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax, grid, picture in zip(axes, grids, pictures, strict=False):
        _show(ax, picture, f"epoch {int(grid.stem.split('_')[1])}")
    for ax in axes[len(pictures) :]:
        ax.axis("off")  # an empty place in the last row
    # above the top edge, where the layout of the panels (tight_layout) cannot put a panel's title under it;
    # plots.save keeps everything drawn, so it is saved too
    fig.text(0.5, 1, "The same noise, as training goes on", ha="center", va="bottom", fontsize="x-large")
    return fig


def progress_plot(folder: Path, path: Path, most: int = 6) -> None:
    """The fixed-noise grids saved during training (at most `most`, evenly spread): the generator learning."""
    grids = sorted(folder.glob("epoch_*.png"))
    if not grids:
        return
    chosen = [grids[i] for i in np.unique(np.linspace(0, len(grids) - 1, most).round().astype(int))]
    plots.save(progress_figure(chosen), path)


def real_vs_fake_plot(real: np.ndarray, fake: np.ndarray, path: Path) -> None:
    fig = Figure(figsize=(10, 5.4))
    left, right = fig.subplots(1, 2)
    _show(left, image_grid(real[:64], 8), "Real (held-out test images)")
    _show(right, image_grid(fake[:64], 8), "Generated")
    plots.save(fig, path)


def neighbours_plot(
    fakes: np.ndarray, distance: np.ndarray, index: np.ndarray, X_train: np.ndarray, path: Path
) -> None:
    """The 8 fakes closest to a training image, above that training image: copies would look identical."""
    closest = np.argsort(distance)[:8]
    pairs = np.concatenate([fakes[closest], X_train[index[closest]]])
    fig = Figure(figsize=(8, 2.6))
    _show(fig.subplots(), image_grid(pairs, 8), "The 8 fakes nearest to a training image (top) and that image (below)")
    plots.save(fig, path)


def nn_histogram(real_nn: np.ndarray, fake_nn: np.ndarray, path: Path) -> None:
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    bins = np.linspace(0, max(real_nn.max(), fake_nn.max()), 40)
    ax.hist(real_nn, bins=bins, alpha=0.6, label="real test images")
    ax.hist(fake_nn, bins=bins, alpha=0.6, label="generated images")
    ax.set(xlabel="RMS pixel distance to the nearest training image (0-1)", ylabel="images",
           title="Does the generator copy its training images?")  # fmt: skip
    ax.legend()
    plots.save(fig, path)


def render_card(run: runs.Run, cfg: Config, m: dict, table: str, images: data.Data, n: int) -> str:
    sizes = ", ".join(f"{name} {len(labels)}" for name, (_, labels) in images.splits.items())
    if cfg.data.path:
        source = f"Your own file: `{cfg.data.path}`."
    else:
        dataset = data.SOURCES[cfg.data.source]
        source = f"{dataset.description}. {dataset.citation}. License: {dataset.license}."
    kind = "conditional (one-hot class into G, projection discriminator)" if cfg.model.conditional else "unconditional"
    conditional = (
        f"\n\nClass accuracy of generated images (the judge's reading of {PER_CLASS} images per requested class): "
        f"**{shown(m['test_class_accuracy'])}**. For scale, the judge reads real test images with accuracy "
        f"{shown(m['test_judge_accuracy_real'])}: its own mistakes count against the generator too."
        if cfg.model.conditional
        else ""
    )
    return model_card.render(
        f"{run.project} · run {run.run_id}",
        {
            "Model details": (
                f"- A {kind} DCGAN in plain PyTorch: {cfg.model.channels} channels, noise z of {cfg.model.latent_dim}, "
                f"{cfg.model.loss} loss{', spectral norm' if cfg.model.spectral_norm else ''}, label smoothing "
                f"{cfg.train.label_smoothing:g}, Adam lr {cfg.train.learning_rate:g}, betas ({cfg.train.beta1:g}, {cfg.train.beta2:g})\n"
                f"- Kept: the generator of epoch {m['val_best_epoch']} of {cfg.train.epochs}, the lowest validation Fréchet "
                f"distance ({m['val_fd']:.2f})\n"
                f"- Output: {images.side}x{images.side} images with {images.channels} channel(s), {images.n_classes} classes\n"
                f"- Seed {cfg.seed}; full config in `config.json`, versions in `environment.json`"
            ),
            "Intended use": (
                "Teaching: how a GAN is trained and how its images are measured. The images are synthetic and "
                "must not be passed off as real. Synthetic medical images must never stand in for real patient data "
                "in a clinical decision or in the validation of a medical device."
            ),
            "Data": f"{source}\n\nSplits: {sizes}; {images.side}x{images.side}.",
            "Evaluation": (
                f"{n} generated images against {n} held-out real images (half A of the test split), in the feature space "
                f"of the judge, a small classifier trained on the same real training images (validation accuracy "
                f"{shown(m['judge_val_accuracy'])}). Inception-v3 features, behind the usual FID, come from 299x299 colour "
                f"photos and do not fit {images.side}x{images.side} images; so these distances are comparable "
                f"only within this project and this judge, never with published FIDs.\n\n{table}\n\n"
                f"Fréchet distance {m['test_fd']:.2f} is {m['test_fd_ratio']:.1%} of the untrained generator's."
                f"{conditional}\n\n"
                f"Copying: the median RMS distance to the nearest training image is {m['test_nn_distance_fake']:.3f} for "
                f"generated images and {m['test_nn_distance_real']:.3f} for real test images; {m['test_near_copies']:.1%} of "
                f"generated images are closer than 95% of real ones are (about 5% if nothing is copied)."
            ),
            "Limitations and ethical considerations": (
                "- The distances depend on the judge: a judge that ignores some detail cannot see it missing.\n"
                "- A low Fréchet distance with low recall is mode collapse: good images of a few kinds.\n"
                "- A GAN can reproduce its training images, and with them private data: check the nearest-neighbour "
                "plot before sharing images generated from sensitive data.\n"
                "- Generated images inherit the biases of their training set."
            ),
        },
    )


if __name__ == "__main__":
    raise SystemExit(run_script(main))
