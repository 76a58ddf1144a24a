"""Draw images with a trained GAN run into a folder: one PNG per image, a grid of them all, and a CSV.

    $ make predict PROJECT=gan OUTPUT=samples/ [RUN=<run id>] [ARGS="--n 64 --class 3 --seed 0"]
    $ python -m projects.gan.predict samples/ [--run <run id>] [--n 64] [--class 3] [--seed 0]

A generator takes no input file: what it draws is set by --n (how many), --class (which class, for
a conditional model; default every class in turn) and --seed (the same seed draws the same
images, as `GET /generate` does with the same query). The folder gets image_0000.png, ... (at the
training images' size), grid.png (scaled up, to look at) and images.csv (file, class, the class the
judge reads in it, seed, run id, and its warnings: `class_not_recognised(class)` when the judge reads
another class than the one asked for). The folder is written whole, or not at all: it appears only
once every file is in it.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
from pathlib import Path

from PIL import Image
from pydantic import ValidationError

from mlstarter import batch, runs, serving
from mlstarter.config import ConfigError
from mlstarter.paths import project_name
from mlstarter.scripts import run_script

from .model import image_grid
from .serve import MAX_IMAGES, GenerateQuery, ImageGenerator, grid_columns

PROJECT = project_name(__package__)
CHUNK = 1000  # images drawn at once; --n may be far larger than the API's MAX_IMAGES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="The folder to write (it must not exist yet, or be empty).")
    parser.add_argument("--run", default=None, metavar="RUN_ID", help="The run to use (default: the newest).")
    parser.add_argument("--n", type=int, default=64, help="How many images (default 64).")
    parser.add_argument(
        "--class", dest="class_", type=int, default=None, help="The class to draw (conditional models)."
    )
    parser.add_argument("--seed", type=int, default=0, help="The noise's seed (default 0): same seed, same images.")
    args = parser.parse_args(argv)
    if args.output.exists() and (not args.output.is_dir() or any(args.output.iterdir())):
        raise ConfigError(f"{args.output} exists and is not an empty folder: name a new one")
    run = runs.served_run(PROJECT, args.run)  # the promoted run, else the newest
    generator = ImageGenerator(run)
    print(f"***** Drawing {args.n} images with {PROJECT} run {run.run_id} (seed {args.seed}) *****")

    # The API's own checks (seed range, a class the model draws), on the first chunk's query
    try:
        query = GenerateQuery.model_validate({"n": min(args.n, MAX_IMAGES), "seed": args.seed, "class": args.class_})
        generator.classes(1, query.class_)
    except (ValidationError, serving.InvalidInputError) as error:
        raise ConfigError(batch.reason(error)) from None

    partial = args.output.with_name(f".{args.output.name}.partial-{os.getpid()}")
    try:
        partial.mkdir(parents=True)
        drawn, rows, grid, unrecognised = 0, [], [], 0
        while drawn < args.n:  # in chunks of CHUNK, the k-th drawn with seed + k, so memory stays flat for any --n
            n = min(CHUNK, args.n - drawn)
            images, labels = generator.generate(query.model_copy(update={"n": n, "seed": args.seed + drawn // CHUNK}))
            judged = None if labels is None else generator.judged(images)  # the class the judge reads in each
            for i, pixels in enumerate(images):
                name = f"image_{drawn + i:04d}.png"
                Image.fromarray(pixels).save(partial / name)
                asked = "" if labels is None else int(labels[i])
                seen = "" if judged is None else int(judged[i])
                warned = [] if judged is None else generator.unrecognised(labels[i : i + 1], judged[i : i + 1])
                unrecognised += bool(warned)
                rows.append([name, asked, seen, args.seed, run.run_id, batch.cell([w.model_dump() for w in warned])])
            if drawn == 0:
                grid = images[: min(n, 256)]  # the grid shows the first 256 at most
            drawn += n
        columns = grid_columns(query.model_copy(update={"n": len(grid)}), generator)
        scale = max(1, 64 // generator.side)
        Image.fromarray(image_grid(grid, columns, scale=scale)).save(partial / "grid.png")
        with open(partial / "images.csv", "w", encoding="utf-8", newline="") as file:
            csv.writer(file).writerows([["file", "class", "judged_class", "seed", "model_version", "warnings"], *rows])
        if args.output.exists():
            args.output.rmdir()  # empty, as checked above
        os.replace(partial, args.output)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(f"Drew {args.n:,} images with run {run.run_id}: {args.output} (grid.png, images.csv)")
    if unrecognised:
        print(f"warning: the judge reads {unrecognised:,} of them as another class than the one asked for "
              "(class_not_recognised in images.csv): they may not look like it")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
