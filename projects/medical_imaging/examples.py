"""Write example inputs for every way this project takes your images: X-ray PNGs, unusual images and a small .npz.

    $ make examples PROJECT=medical_imaging
    $ python -m projects.medical_imaging.examples [--data file.npz] [--out folder]

From the project's data (the official PneumoniaMNIST file, or --data), into --out
(runs/medical_imaging-examples/ by default; runs/ is never committed):

- xrays/: 8 chest X-rays from the *test* split, 4 of each class, named for their true label
  (xray-pneumonia-1.png, xray-normal-1.png, ...): to upload to the API, or to score as a
  folder with make predict. No model has trained on them;
- unusual/: images the model should not trust, to see its warnings: black, white, noise,
  an inverted X-ray, and an X-ray as a 512x512 colour PNG (resized and converted);
- pneumoniamnist-small.npz: a small file in the MedMNIST layout (train / val / test images
  and labels, each split drawn from the same split of the source), to train on with --data.

Each file is printed with the command that uses it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mlstarter import paths
from mlstarter.paths import project_name
from mlstarter.scripts import examples_parser, load_config, run_script

from . import data, ood
from .config import Config

PROJECT = project_name(__package__)
XRAYS_PER_CLASS = 4  # enough to see both answers and a mistake or two, few enough to read the scores one by one
# the small .npz: images per split, drawn at random from the same split of the source. On the shared sample, 600
# training images trained the default CNN to a test ROC AUC of 0.96 in 80 s on 2 cores; 150 validation images
# still set the thresholds (Youden's, and the OOD score's 2%: 3 images)
SMALL_SIZES = {"train": 600, "val": 150, "test": 150}


def write_png(pixels: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def pick(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of n images drawn at random, with both classes in their proportion (and at least 2 of each)."""
    chosen = []
    for c in (0, 1):
        idx = np.flatnonzero(labels == c)
        take = min(len(idx), max(2, round(n * len(idx) / len(labels))))
        chosen.append(rng.choice(idx, size=take, replace=False))
    return np.sort(np.concatenate(chosen))


def main(argv: list[str] | None = None) -> int:
    args = examples_parser(__doc__, PROJECT).parse_args(argv)
    cfg = load_config(Config, args)  # --data (or --set data.path=...) picks the source file
    splits = data.load(cfg).splits
    rng = np.random.default_rng(cfg.seed)
    out = args.out
    print(f"***** Example inputs for {PROJECT}, from {cfg.data.path or data.DATASET.name} *****")

    # 1. X-rays from the test split, named for their true label: inputs to the API and to make predict.
    X_test, y_test = splits["test"]
    for label, name in enumerate(data.CLASS_NAMES):
        found = np.flatnonzero(y_test == label)  # your own file may hold fewer of a class (or none)
        for i, index in enumerate(rng.choice(found, min(XRAYS_PER_CLASS, len(found)), replace=False), 1):
            path = write_png(X_test[index], out / "xrays" / f"xray-{name}-{i}.png")
            print(f"  {paths.shown(path)}   (test image {index}, true label {name})")
    pngs = sorted((out / "xrays").glob("xray-*.png"))
    first = paths.shown(next((p for p in pngs if "pneumonia" in p.name), pngs[0]))  # a pneumonia one, if there is one
    print(f"    make predict PROJECT={PROJECT} INPUT={paths.shown(out / 'xrays')} OUTPUT=scores.csv")
    print(f"    curl -F file=@{first} localhost:8000/predict        (with make serve PROJECT={PROJECT} running)")
    print(f"    curl -F file=@{first} 'localhost:8000/predict?gradcam=true'")

    # 2. Images the model should not trust: each answer carries a warning.
    unusual = {kind: images[0] for kind, images in ood.unusual_images(X_test, n=1, seed=cfg.seed).items()}
    for kind, pixels in unusual.items():
        print(f"  {paths.shown(write_png(pixels, out / 'unusual' / f'{kind}.png'))}   (not an X-ray: {kind})")
    big = Image.fromarray(X_test[0]).resize((512, 512), Image.Resampling.BICUBIC)
    path = out / "unusual" / "xray-512x512-rgb.png"
    big.convert("RGB").save(path)
    print(f"  {paths.shown(path)}   (an X-ray, but 512x512 and in colour mode: resized and converted)")
    print(f"    curl -F file=@{paths.shown(out / 'unusual' / 'noise.png')} localhost:8000/predict   (see its warnings)")
    print(f"    make predict PROJECT={PROJECT} INPUT={paths.shown(out / 'unusual')} OUTPUT=unusual.csv")

    # 3. A small .npz in the MedMNIST layout, each split from the same split of the source: train on it with --data.
    arrays = {}
    for split, n in SMALL_SIZES.items():
        images, labels = splits[split]
        keep = pick(labels, n, rng)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images[keep], labels[keep, None].astype(np.uint8)
    small = out / "pneumoniamnist-small.npz"
    np.savez_compressed(small, **arrays)
    data.read_npz(small)  # it passes the checks a user's own file must pass
    sizes = "/".join(str(len(arrays[f"{split}_labels"])) for split in SMALL_SIZES)
    print(f"  {paths.shown(small)}   (MedMNIST layout, {sizes} train/val/test images)")
    print(f'    make train PROJECT={PROJECT} ARGS="--data {paths.shown(small)}"')
    print(f"    make predict PROJECT={PROJECT} INPUT={paths.shown(small)} OUTPUT=small-scores.csv")
    if not cfg.data.path:
        print(f"\nThe images are PneumoniaMNIST's ({data.DATASET.license}): {data.DATASET.citation}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
