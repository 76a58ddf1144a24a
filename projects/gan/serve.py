"""Serve a trained generator over HTTP: ask for a seed (and a class), get new images.

    $ make serve PROJECT=gan [RUN=<run id>] [PORT=8000]
    $ python -m projects.gan.serve [--run <run id>] [--port 8000]
    $ curl -o digits.png 'localhost:8000/generate?n=16&seed=3'
    $ curl -o sevens.png 'localhost:8000/generate?n=16&seed=3&class=7'      # a conditional model
    $ curl 'localhost:8000/generate?n=2&seed=3&format=json'                 # the pixels, 0-255
    $ curl -o walk.png 'localhost:8000/walk?from_seed=3&to_seed=4&steps=8&class=7'   # seed 3's 7 into seed 4's

Open http://127.0.0.1:8000/ to try the generator and see its run (page.js), or /docs for a form.
`GET /generate` draws `n` noise vectors from a
random number generator seeded with `seed`, so the same seed always gives the same images
(and image i is the same whatever `n`). A conditional model draws the requested `class`, or,
without one, cycles through its classes (0, 1, 2, ...). The answer is a PNG grid (`scale`
screen pixels per image pixel), or with `format=json` the raw pixels (`scale` is refused there:
the pixels come as they are). n out of range, a bad seed, an unknown class: 422 with the reason.

Every answer says what makes it less trustworthy: the judge (the classifier of real images that
training uses to measure the generator) reads each image of a conditional model, and an image it
does not read as the requested class is a `class_not_recognised` warning: in the JSON answer's
`warnings`, and as `X-Warnings: class_not_recognised(class)` on a PNG.

`GET /walk` draws the images on the way from one seed's noise vector to another's, in `steps`
images of the same class (a conditional model; without `class`, class 0, as /generate?n=1 draws
it): the first is /generate's image for `from_seed` with n=1, the last the one for `to_seed`, and
the images between show what the generator makes of the latent space between them. A PNG strip,
or with `format=json` the pixels and each image's position t on the path (0 to 1). The path is
spherical, not straight: `slerp` says why. The judge's warnings are the same as /generate's.

When the server logs predictions (`make serve` does), each request adds one row for drift
monitoring (`make monitor PROJECT=gan`): its class, seed, n, format and scale, and how the judge
reads what was served (its confidence in the requested class, image by image, and how many images it
recognises as that class). Never the images: the run, the seed and the class draw them again, exactly, if one is ever in question.
A walk is not logged: its images are points between two draws, not draws from the noise the run's
reference describes, and the monitor reads every row of the log as such a draw (its class mix, the
judge's confidence, repeated seeds), so walks would blur the very drift it looks for.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlstarter import batch, server, serving
from mlstarter.metrics import shown
from mlstarter.paths import project_name
from mlstarter.runs import Run

from . import model
from .model import generate, image_grid, judge_features, to_images

PROJECT = project_name(__package__)
MAX_IMAGES = 100  # per request: a 10 x 10 grid; larger batches are several requests


class Picture(BaseModel):
    """How /generate and /walk send their images: a PNG (a grid, or a strip for /walk) or the pixels as JSON."""

    model_config = ConfigDict(extra="forbid")  # a misspelt parameter is a 422, not ignored

    format: Literal["png", "json"] = Field("png", description="png: one picture of all the images; json: the pixels")
    scale: int | None = Field(
        None,
        ge=1,
        le=16,
        description="PNG only (refused with format=json, whose pixels come as they are): screen pixels per image "
        "pixel; default 8 for 8x8 images, 2 for 28x28",
    )

    @model_validator(mode="after")
    def scale_is_for_the_png(self) -> Picture:
        if self.format == "json" and self.scale is not None:
            raise ValueError(
                "scale sets the size of the PNG picture; format=json gives the pixels as they are: leave out scale"
            )
        return self


class GenerateQuery(Picture):
    """What /generate takes, as query parameters."""

    n: int = Field(16, ge=1, le=MAX_IMAGES, description=f"How many images, 1 to {MAX_IMAGES}")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="The noise's seed, 0 to 2**32 - 1: same seed, same images")
    class_: int | None = Field(
        None,
        alias="class",
        ge=0,
        description="The class to draw (conditional models only); default: every class in turn",
    )


class GeneratedImages(BaseModel):
    images: list = Field(description="n images of uint8 pixels 0-255: (n, height, width), or (n, height, width, 3)")
    classes: list[int] | None = Field(description="The class of each image (conditional models), else null")
    seed: int
    image_size: list[int] = Field(min_length=2, max_length=2, description="Height and width of each image")
    model_version: str = Field(description="The run id of the model that answered")
    warnings: list[serving.PredictionWarning] = serving.warnings_field()


class ImageGenerator:
    """The best generator of one run, loaded once at start-up."""

    def __init__(self, run: Run):
        self.run_id = run.run_id
        gan = model.load(run)
        self.model = gan.generator  # eval mode, on the CPU
        self.judge = gan.judge  # the classifier of real images: does an image look like the class asked for?
        self.n_classes = gan.images["n_classes"]
        self.side = gan.images["side"]
        self.channels = gan.images["channels"]
        # what the run learned from (class counts, the judge's accuracy); runs saved before it existed have none
        self.seen = run.reference

    def classes(self, n: int, wanted: int | None) -> np.ndarray | None:
        """The class of each of n images; a 422 for a class the model cannot draw."""
        if not self.model.conditional:
            if wanted is not None:
                raise serving.InvalidInputError(
                    f"class={wanted}: this model is unconditional and cannot draw a chosen class "
                    "(train one with --set model.conditional=true); leave out class"
                )
            return None
        if wanted is None:
            return np.arange(n) % self.n_classes  # every class in turn
        if wanted >= self.n_classes:
            raise serving.InvalidInputError(
                f"class={wanted} is not a class of this model: it draws classes 0 to {self.n_classes - 1}"
            )
        return np.full(n, wanted)

    def generate(self, query: GenerateQuery) -> tuple[np.ndarray, np.ndarray | None]:
        labels = self.classes(query.n, query.class_)
        return generate(self.model, query.n, query.seed, labels), labels

    def read(self, images: np.ndarray) -> np.ndarray:
        """The judge's class probabilities for each image: (n, n_classes) from (n, H, W[, C]) uint8."""
        return judge_features(self.judge, images)[1]

    def judged(self, images: np.ndarray) -> np.ndarray:
        """The class the judge reads in each image: its most probable class, (n,) from (n, H, W[, C]) uint8."""
        return self.read(images).argmax(1)

    def unrecognised(self, labels: np.ndarray, judged: np.ndarray) -> list[serving.PredictionWarning]:
        """A warning when the judge reads some images as another class than the one asked for (`labels`):
        they may not look like it."""
        if np.array_equal(labels, judged):
            return []
        wrong = np.flatnonzero(labels != judged)
        listed = ", ".join(f"{i} ({labels[i]} read as {judged[i]})" for i in wrong[:10])
        more = f" and {len(wrong) - 10} more" if len(wrong) > 10 else ""
        scale = ""
        if self.seen is not None:  # how far to trust the judge: its accuracy on real images of those classes
            by_class = self.seen["judge_accuracy_real"]["by_class"]
            accuracy = [by_class[c] for c in sorted(set(labels[wrong].tolist())) if by_class[c] is not None]
            if accuracy:
                scale = f" (its accuracy on real validation images of these classes: {shown(min(accuracy), 2)} or more)"
        return [serving.PredictionWarning(
            code="class_not_recognised", field="class",
            message=f"the judge, a classifier of the real images{scale}, reads {len(wrong)} of {len(labels)} images "
            f"as another class than the one asked for: image {listed}{more}. They may not look like that class",
        )]  # fmt: skip


MAX_GRID_SIDE = 2048  # pixels a side of a PNG grid
MAX_JSON_PIXELS = 2_000_000  # pixel values in a JSON answer (about 8 MB of text)


def grid_columns(query: GenerateQuery, generator: ImageGenerator) -> int:
    """One column per class when a conditional model draws every class in turn; else a square grid."""
    every_class = generator.model.conditional and query.class_ is None and query.n > generator.n_classes
    return generator.n_classes if every_class else math.ceil(math.sqrt(query.n))


def check_size(query: GenerateQuery, generator: ImageGenerator) -> None:
    """Refuse, with the limit in the message, an answer too large to build."""
    side, channels = generator.side, generator.channels
    if query.format == "png":
        columns = grid_columns(query, generator)
        grid = side * (query.scale or max(1, 64 // side)) * max(columns, math.ceil(query.n / columns))
        if grid > MAX_GRID_SIDE:
            raise serving.InvalidInputError(
                f"a grid of {query.n} images of {side}x{side} at scale {query.scale} would be {grid:,} pixels a side; "
                f"at most {MAX_GRID_SIDE}: use a smaller scale or n"
            )
    elif query.n * side * side * channels > MAX_JSON_PIXELS:
        raise serving.InvalidInputError(
            f"{query.n} images of {side}x{side}x{channels} are {query.n * side * side * channels:,} pixel values; "
            f"at most {MAX_JSON_PIXELS:,} in JSON: ask for fewer images"
        )


router = APIRouter(tags=[PROJECT])
GeneratorDep = Annotated[ImageGenerator, Depends(serving.get_predictor)]


PNG_HEADERS = {
    "X-Classes": {
        "description": "The class of each image, in order (conditional models)",
        "schema": {"type": "string"},
    },
    "X-Warnings": {
        "description": "The codes of the answer's warnings, e.g. class_not_recognised(class); absent when none "
        "(format=json gives their messages)",
        "schema": {"type": "string"},
    },
}


@router.get(
    "/generate",
    response_model=GeneratedImages,
    responses={
        200: {
            "content": {"image/png": {}},
            "description": "A PNG grid, or with format=json the pixels",
            "headers": PNG_HEADERS,
        }
    },
)
def generate_images(
    generator: GeneratorDep, query: Annotated[GenerateQuery, Query()], request: Request
) -> Response | GeneratedImages:
    """n new images from the noise of `seed` (and of `class`, for a conditional model)."""
    check_size(query, generator)  # before any work: a 35,000-pixel grid would need GBs
    images, labels = generator.generate(query)
    # the judge reads the images of a conditional model (is each the class asked for?), and of any model whose
    # answers are logged (an unconditional one is asked for no class: only the log wants its reading)
    probs = generator.read(images) if labels is not None or serving.logging_on(request) else None  # (n, n_classes)
    warnings = [] if labels is None else generator.unrecognised(labels, probs.argmax(1))
    if probs is not None:
        log(request, query, labels, probs, warnings)
    classes = None if labels is None else [int(c) for c in labels]
    if query.format == "json":
        return GeneratedImages(
            images=images.tolist(),
            classes=classes,
            seed=query.seed,
            image_size=list(images.shape[1:3]),
            model_version=generator.run_id,
            warnings=warnings,
        )
    scale = query.scale or max(1, 64 // generator.side)
    grid = image_grid(images, grid_columns(query, generator), scale=scale)
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="PNG")
    headers = {"X-Classes": ",".join(map(str, classes))} if classes is not None else {}  # X-Model-Version: the core
    if warnings:  # a PNG has no room for messages: their codes, as make predict's CSV writes them
        headers["X-Warnings"] = batch.cell([w.model_dump() for w in warnings])
    return Response(buffer.getvalue(), media_type="image/png", headers=headers)


def log(
    request: Request,
    query: GenerateQuery,
    labels: np.ndarray | None,
    probs: np.ndarray,
    warnings: list[serving.PredictionWarning],
) -> None:
    """Log one request for drift monitoring (monitor.py), when the server logs: what was asked (class, seed,
    n, format, scale) and how the judge reads what was served: its confidence in each image, their mean, and
    how many it recognises. Never the images themselves."""
    if labels is None:  # unconditional: nothing was asked for; how sure is the judge of whatever class it reads?
        confidence, recognised = probs.max(1), None  # max_c p(c | image)
    else:  # p(requested class | image), and how many images the judge reads as that class (its argmax)
        confidence = probs[np.arange(len(labels)), labels]
        recognised = int((probs.argmax(1) == labels).sum())
    asked = {"class": query.class_, "seed": query.seed, "n": query.n, "format": query.format, "scale": query.scale}
    answer = {
        "confidence": round(float(confidence.mean()), 4),  # the request at a glance
        "recognised": recognised,
        # image by image, as reference.json holds them: a mean over 16 images cannot be compared with those
        "confidences": np.round(confidence, 4).tolist(),
    }
    serving.log_prediction(request, asked, answer, warnings)


# A walk in latent space: from one seed's noise to another's


MAX_STEPS = 16  # images in a walk: one row that still reads on a screen (16 digits of 8x8 at scale 8: 1,041 pixels)


class WalkQuery(Picture):
    """What /walk takes, as query parameters."""

    from_seed: int = Field(0, ge=0, le=2**32 - 1, description="The seed the walk starts from (its first image)")
    to_seed: int = Field(1, ge=0, le=2**32 - 1, description="The seed the walk ends at (its last image)")
    steps: int = Field(8, ge=2, le=MAX_STEPS, description=f"Images along the way, both ends included: 2 to {MAX_STEPS}")
    class_: int | None = Field(
        None,
        alias="class",
        ge=0,
        description="The class of every image (conditional models only); default 0, the class /generate?n=1 draws",
    )


class WalkImages(BaseModel):
    images: list = Field(description="steps images of uint8 pixels 0-255: (steps, height, width[, 3])")
    t: list[float] = Field(description="Each image's place on the path: 0 at from_seed, 1 at to_seed")
    classes: list[int] | None = Field(description="The class of each image (conditional models), else null")
    from_seed: int
    to_seed: int
    image_size: list[int] = Field(min_length=2, max_length=2, description="Height and width of each image")
    model_version: str = Field(description="The run id of the model that answered")
    warnings: list[serving.PredictionWarning] = serving.warnings_field()


def seed_noise(seed: int, latent_dim: int) -> np.ndarray:
    """The noise vector z (latent_dim,) of `seed`: the one `model.generate` draws first, so the image it gives is
    /generate?n=1&seed=<seed>'s."""
    return np.random.default_rng(seed).standard_normal((1, latent_dim), dtype=np.float32)[0]


def slerp(z0: np.ndarray, z1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points on the great circle from z0 to z1 (each (d,)), at fractions t (k,) of the way: (k, d), float32.

    # theta = arccos(z0 . z1 / (|z0| |z1|))                       the angle between the two vectors
    # z(t)  = sin((1 - t) theta) / sin(theta) z0 + sin(t theta) / sin(theta) z1

    Why not the straight line z0 + t (z1 - z0): noise drawn from N(0, I) in d dimensions lies near a sphere,
    |z| close to sqrt(d), and the generator only ever saw such noise. The midpoint of two independent draws
    has |z| close to sqrt(d / 2), 71% of that: the straight line cuts through the inside of the sphere, where
    the generator's images fade. The great circle keeps |z| between |z0| and |z1| (White 2016, "Sampling
    generative networks"). At t = 0 and t = 1 the weights are exactly (1, 0) and (0, 1): the ends are z0 and
    z1 themselves. When z0 and z1 point the same way (theta near 0: the same seed) the circle and the line are
    one, and the line is used (the sine would divide by zero).
    """
    a, b = z0.astype(np.float64), z1.astype(np.float64)
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    t = np.asarray(t, dtype=np.float64)[:, None]  # (k, 1)
    if np.sin(theta) < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1 - t) * theta) * a + np.sin(t * theta) * b) / np.sin(theta)).astype(np.float32)


def check_strip_size(query: WalkQuery, generator: ImageGenerator) -> None:
    """Refuse, with the limit in the message, a strip too wide to build (the JSON answer is at most 16 images)."""
    if query.format != "png":
        return
    scale = query.scale or max(1, 64 // generator.side)
    width = query.steps * (generator.side * scale + 1) + 1  # one row: images of side * scale, 1 pixel between them
    if width > MAX_GRID_SIDE:
        raise serving.InvalidInputError(
            f"a strip of {query.steps} images of {generator.side}x{generator.side} at scale {scale} would be "
            f"{width:,} pixels wide; at most {MAX_GRID_SIDE}: use a smaller scale or fewer steps"
        )


@torch.no_grad()
def walk(generator: ImageGenerator, query: WalkQuery) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(images (steps, H, W[, C]) uint8, t (steps,), labels (steps,) or None) along the walk."""
    labels = generator.classes(1, query.class_)  # (1,): the class asked for, class 0, or None (unconditional)
    labels = None if labels is None else np.repeat(labels, query.steps)  # one class all the way
    z0 = seed_noise(query.from_seed, generator.model.latent_dim)
    z1 = seed_noise(query.to_seed, generator.model.latent_dim)
    t = np.linspace(0.0, 1.0, query.steps)  # exactly 0 and 1 at the ends
    z = torch.from_numpy(slerp(z0, z1, t))  # (steps, latent_dim)
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
    return to_images(generator.model(z, y)), t, labels  # eval mode: each image depends on its own z only


@router.get(
    "/walk",
    response_model=WalkImages,
    responses={
        200: {
            "content": {"image/png": {}},
            "description": "A PNG strip, from_seed's image on the left, or with format=json the pixels",
            "headers": PNG_HEADERS,
        }
    },
)
def walk_images(generator: GeneratorDep, query: Annotated[WalkQuery, Query()]) -> Response | WalkImages:
    """The images on the way from `from_seed`'s noise to `to_seed`'s, in `steps` images of one class."""
    check_strip_size(query, generator)
    images, t, labels = walk(generator, query)
    # the judge reads each image of a conditional model: is it still the class asked for, all the way?
    warnings = [] if labels is None else generator.unrecognised(labels, generator.judged(images))
    classes = None if labels is None else [int(c) for c in labels]
    if query.format == "json":
        return WalkImages(
            images=images.tolist(),
            t=[round(float(x), 6) for x in t],
            classes=classes,
            from_seed=query.from_seed,
            to_seed=query.to_seed,
            image_size=list(images.shape[1:3]),
            model_version=generator.run_id,
            warnings=warnings,
        )
    strip = image_grid(images, columns=query.steps, scale=query.scale or max(1, 64 // generator.side))
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG")
    headers = {"X-Classes": ",".join(map(str, classes))} if classes is not None else {}
    if warnings:
        headers["X-Warnings"] = batch.cell([w.model_dump() for w in warnings])
    return Response(buffer.getvalue(), media_type="image/png", headers=headers)


def document_limits(schema: dict, generator: ImageGenerator) -> None:
    """The served model's classes in /openapi.json: 0 to n_classes - 1, or no `class` at all if unconditional."""
    defaults = {"/generate": "every class in turn", "/walk": "0"}
    for path, default in defaults.items():
        parameters = schema["paths"][path]["get"]["parameters"]
        [wanted] = [p for p in parameters if p["name"] == "class"]
        if generator.model.conditional:
            top = generator.n_classes - 1
            next(o for o in wanted["schema"]["anyOf"] if o.get("type") == "integer")["maximum"] = top
            wanted["description"] = f"The class to draw, 0 to {top}; default: {default}"
        else:
            parameters.remove(wanted)  # this model draws no chosen class: a `class` parameter is refused (422)


def example_requests() -> dict[str, dict]:
    """What `make bench-serve` sends: a PNG grid of 16 images, and the pixels of 100 as JSON."""
    return {
        "single": {"path": "/generate", "method": "GET", "params": {"n": 16, "seed": 3}},
        "batch": {"path": "/generate", "method": "GET", "params": {"n": 100, "seed": 3, "format": "json"}},
    }


def create_app(run_id: str | None = None) -> FastAPI:
    """The app for `uvicorn --factory projects.gan.serve:create_app` (newest run by default)."""
    return serving.create_app(
        project=PROJECT,
        router=router,
        load_predictor=ImageGenerator,
        input_model=GenerateQuery,
        document_limits=document_limits,
        run_id=run_id,
        description=__doc__,
        panel=Path(__file__).with_name("page.js"),  # the Try-it tab of the page at GET /
    )


if __name__ == "__main__":
    raise SystemExit(server.main(PROJECT))
