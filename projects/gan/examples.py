"""Write example input files: a small .npz in the layout --data takes, and real images of each class.

    $ make examples PROJECT=gan
    $ python -m projects.gan.examples [--out FOLDER] [--data file.npz | --set data.source=mnist]

From the configured images (scikit-learn's digits by default, MNIST, or your --data .npz), it writes
to runs/gan-examples/ (or --out):

- digits-small.npz (named after the data): a few images of each class from each split, in the
  MedMNIST layout that --data takes (train_images (N, H, W) uint8, train_labels (N, 1), and the
  same for val and test): `make train PROJECT=gan ARGS="--data runs/gan-examples/digits-small.npz"`.
  Open it with numpy to see the layout your own images need;
- real/: 4 real training images of each class as PNGs (class_3_0.png, ...) and grid.png, one class
  a column: put them beside what the generator draws (`make predict`), whose grid.png has the same layout.

A generator takes no input file: what it draws is set by a query (n, seed, class), printed with
curl at the end. Each file is printed with the command that uses it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from mlstarter import paths
from mlstarter.paths import project_name
from mlstarter.scripts import examples_parser, load_config, run_script

from . import data
from .config import Config
from .model import image_grid

PROJECT = project_name(__package__)
# images of each class in each split of the small .npz: enough for a dry run (256 training images, and at least
# MIN_EVAL_IMAGES in val and test) and for a real training that takes seconds; the MedMNIST files hold thousands
PER_CLASS = {"train": 60, "val": 15, "test": 15}
REAL_PER_CLASS = 4  # real PNGs of each class: a handful to compare with generated ones
SPLIT_SEED = 0  # which images are picked: the same every time


def small_splits(images: data.Data) -> dict[str, np.ndarray]:
    """A few images of each class from each split, picked at random with a fixed seed, as MedMNIST stores
    them: `{split}_images` (N, H, W[, 3]) uint8 and `{split}_labels` (N, 1) integers."""
    rng = np.random.default_rng(SPLIT_SEED)
    arrays = {}
    for split, (X, y) in images.splits.items():
        keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[: PER_CLASS[split]]
                                       for c in range(images.n_classes)]))  # fmt: skip
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = X[keep], y[keep, None]  # (N,) -> (N, 1)
    return arrays


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed, written whole or not at all (a half-written .npz would fail to load)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    with open(partial, "wb") as file:  # a file object: numpy would add .npz to a name
        np.savez_compressed(file, **arrays)
    os.replace(partial, path)


def write_real_images(folder: Path, images: data.Data) -> list[Path]:
    """REAL_PER_CLASS training images of each class as PNGs at their own size, and grid.png, one class a column
    (scaled up as make predict scales its grid)."""
    folder.mkdir(parents=True, exist_ok=True)
    X, y = images.splits["train"]
    rng = np.random.default_rng(SPLIT_SEED)
    picked = [rng.permutation(np.flatnonzero(y == c))[:REAL_PER_CLASS] for c in range(images.n_classes)]
    written = []
    for c, indices in enumerate(picked):
        for i, index in enumerate(indices):
            written.append(folder / f"class_{c}_{i}.png")
            Image.fromarray(X[index]).save(written[-1])
    rows = min(len(indices) for indices in picked)  # as many as the rarest class has (a file may lack a class)
    if rows:
        in_rows = np.stack([indices[:rows] for indices in picked]).T.ravel()  # row r: the r-th image of every class
        grid = image_grid(X[in_rows], columns=images.n_classes, scale=max(1, 64 // images.side))
        Image.fromarray(grid).save(folder / "grid.png")
        written.append(folder / "grid.png")
    return written


def main(argv: list[str] | None = None) -> int:
    args = examples_parser(__doc__, PROJECT).parse_args(argv)
    cfg = load_config(Config, args)  # --data and --set, as train.py takes them
    images = data.load(cfg)
    out = args.out.expanduser().resolve()
    print(f"***** Example inputs for {PROJECT}, from {images.name} ({images.side}x{images.side}, "
          f"{images.n_classes} classes) *****")  # fmt: skip

    # 1. A small file in the layout --data takes: what a learner's own images must look like.
    arrays = small_splits(images)
    npz = out / f"{Path(images.name).stem}-small.npz"
    write_npz(npz, arrays)
    sizes = ", ".join(f"{name} {arrays[name].shape}" for name in arrays)
    print(f"\n{paths.shown(npz)}: {sizes}")
    print(f'  make train PROJECT={PROJECT} ARGS="--data {paths.shown(npz)}"')

    # 2. Real images of each class, to put beside generated ones of the same class.
    written = write_real_images(out / "real", images)
    n = REAL_PER_CLASS * images.n_classes
    print(f"\n{paths.shown(out / 'real')}/: {len(written) - 1} real training images (up to {REAL_PER_CLASS} of each class, "
          "class_<class>_<i>.png) and grid.png, one class a column; the generator's, in the same layout:")  # fmt: skip
    print(f'  make predict PROJECT={PROJECT} OUTPUT={paths.shown(out / "generated")} ARGS="--n {n} --seed 0"')

    # 3. The API takes a query, not a file.
    wanted = images.n_classes - 1
    print(f"\nThe API takes no file: its query says what to draw (make serve PROJECT={PROJECT}, then):")
    print(f"  curl -o {paths.shown(out / f'class_{wanted}.png')} 'localhost:8000/generate?n=16&seed=3&class={wanted}'")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
