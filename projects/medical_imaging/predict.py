"""Score a folder of chest X-rays with a trained medical-imaging run: one CSV line per image.

    $ make predict PROJECT=medical_imaging INPUT=runs/medical_imaging-examples/xrays OUTPUT=scores.csv [RUN=<run id>] [ARGS="--gradcam heatmaps/"]
    $ python -m projects.medical_imaging.predict my_xrays/ scores.csv [--run <run id>] [--gradcam heatmaps/]

The input is a folder of PNG and JPEG files (searched with its subfolders; other files are listed
as errors), or a MedMNIST `.npz` file (every image of its splits). Each image is checked and
resized exactly as `POST /predict` does it, and scored by the network the API serves: the output
has the file, P(pneumonia), the label at the run's threshold, the threshold, the out-of-distribution
score, the image's original size, the run id and the API's warnings (their codes, e.g.
"out_of_distribution(file); resized(file)"). With --gradcam, each image beside its heatmap goes to
that folder. Example inputs: `make examples PROJECT=medical_imaging`.
Bad images go to OUTPUT.errors.csv with the reason; the others are scored.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlstarter import batch, runs
from mlstarter.datasets import DataError
from mlstarter.metrics import shown
from mlstarter.paths import project_name
from mlstarter.scripts import predict_parser, run_script

from . import data
from .serve import MAX_BYTES, PneumoniaPredictor

PROJECT = project_name(__package__)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def read_rows(path: Path) -> Iterator[tuple[str, Path | np.ndarray]]:
    """(file name, file) for every file under a folder, or ('test[3]', pixels) for every image of an .npz."""
    if path.is_file() and path.suffix == ".npz":
        for split, (images, _) in data.read_npz(path).items():
            for i, pixels in enumerate(images):
                yield f"{split}[{i}]", pixels
    elif path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            yield str(file.relative_to(path)), file
    else:
        raise DataError(f"{path}: not a folder of images nor a MedMNIST .npz file")


def main(argv: list[str] | None = None) -> int:
    parser = predict_parser(__doc__)
    parser.add_argument("--gradcam", type=Path, default=None, metavar="FOLDER", help="Write a heatmap per image here.")
    args = parser.parse_args(argv)
    run = runs.served_run(PROJECT, args.run)  # the promoted run, else the newest
    predictor = PneumoniaPredictor(run)
    print(f"***** Scoring {args.input} with {PROJECT} run {run.run_id} (threshold {predictor.threshold:.3f}) *****")

    def parse(row: tuple[str, Path | np.ndarray]) -> tuple[str, np.ndarray, tuple[int, int], list]:
        """(name, (side, side) pixels, the original (width, height), warnings): an image checked and resized as the
        API does."""
        where, image = row
        if isinstance(image, np.ndarray):  # from an .npz: already grayscale; resized as an upload would be
            return where, *predictor.decode(png(image))
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"not a PNG or JPEG file (by its name: {', '.join(sorted(IMAGE_SUFFIXES))})")
        if image.stat().st_size > MAX_BYTES:
            raise ValueError(f"the file is over {MAX_BYTES // 2**20} MiB, which the API refuses too")
        return where, *predictor.decode(image.read_bytes())

    def score(images: list[tuple[str, np.ndarray, tuple[int, int], list]]) -> list[dict[str, Any]]:
        probabilities, ood_scores = predictor.trained.predict(np.stack([pixels for _, pixels, _, _ in images]))
        rows = []
        for (where, pixels, size, notes), p, score in zip(images, probabilities, ood_scores, strict=True):
            label = data.CLASS_NAMES[int(p >= predictor.threshold)]
            if args.gradcam is not None:  # the image beside its heatmap, from the pixels already decoded
                write_heatmap(
                    predictor,
                    pixels,
                    f"predicted: {label} (P = {shown(float(p), 2)})",
                    args.gradcam / heatmap_name(where),
                )
            rows.append({
                "probability_pneumonia": round(float(p), 4), "label": label, "threshold": round(predictor.threshold, 4),
                "ood_score": round(float(score), 2), "width": size[0], "height": size[1], "model_version": run.run_id,
                "warnings": [w.model_dump() for w in [*predictor.ood_warnings(float(score)), *notes]],
            })  # fmt: skip
        return rows

    rows = ((where, (where, image)) for where, image in read_rows(args.input))  # parse needs the name too
    summary = batch.predict_rows(rows, parse, score, args.output, unit="image", chunk=256)
    if args.gradcam is not None:
        print(f"Grad-CAM heatmaps: {args.gradcam}")
    return batch.report(summary, args.output, run.run_id, unit="image")


def png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def heatmap_name(where: str) -> str:
    """'ward_b/b.jpg' -> 'ward_b__b.gradcam.png', 'test[3]' -> 'test_3.gradcam.png'."""
    return Path(where.replace("/", "__").replace("[", "_").replace("]", "")).stem + ".gradcam.png"


def write_heatmap(predictor: PneumoniaPredictor, pixels: np.ndarray, title: str, path: Path) -> None:
    """One image beside its Grad-CAM heatmap, as `POST /predict?gradcam=true` draws it, as a PNG file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(predictor.overlay(pixels, title)))


if __name__ == "__main__":
    raise SystemExit(run_script(main))
