"""Serve a trained pneumonia classifier over HTTP: upload a chest X-ray, get P(pneumonia).

    $ make serve PROJECT=medical_imaging [RUN=<run id>] [PORT=8000]
    $ python -m projects.medical_imaging.serve [--run <run id>] [--port 8000]
    $ make examples PROJECT=medical_imaging           # example X-rays to send, in runs/medical_imaging-examples/
    $ curl -F file=@runs/medical_imaging-examples/xrays/xray-pneumonia-1.png localhost:8000/predict
    $ curl -F file=@runs/medical_imaging-examples/xrays/xray-pneumonia-1.png 'localhost:8000/predict?gradcam=true'

Open http://127.0.0.1:8000/ to try the model and see its run (page.js), or /docs for an upload form.
`POST /predict` takes one PNG or JPEG image of any size: it is turned upright (EXIF),
converted to grayscale, centre-cropped to a square and shrunk to the training size, as the
MedMNIST images were made. The answer: P(pneumonia), the label at the threshold chosen on
validation images, the out-of-distribution score and its threshold, `warnings` (the image is
unlike the training X-rays; it had to be converted or shrunk), and with `?gradcam=true` the
image beside its Grad-CAM heatmap, as a PNG. A teaching model, not a medical device.
When the server logs predictions (`make serve` does, for `make monitor`), each upload is logged as
a few summary numbers (its size, and the mean and spread of its pixels as the model sees them),
never its pixels.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Request, UploadFile
from matplotlib.figure import Figure
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, Field

from mlstarter import server, serving
from mlstarter.metrics import shown
from mlstarter.paths import project_name
from mlstarter.runs import Run

from . import model
from .data import CLASS_NAMES

PROJECT = project_name(__package__)
MAX_BYTES = 10 * 2**20  # 10 MiB per upload: a chest X-ray PNG is rarely over 5 MiB
MAX_PIXELS = 50_000_000  # width x height; larger images are refused before they are decoded
FORMATS = {"PNG", "JPEG", "MPO"}  # MPO: how Pillow names the JPEGs that phones and cameras write


def to_training_format(image: Image.Image, side: int) -> np.ndarray:
    """Any decoded image -> (side, side) uint8 grayscale, the way MedMNIST made its images.

    1. (done by the caller, which also checks the upright image: `ImageOps.exif_transpose`) upright, as the
       camera's EXIF orientation tag says;
    2. to 8-bit grayscale: 16-bit scans are scaled from 0-65535 (a plain conversion would clip them),
       transparent pixels become black;
    3. crop the centre square (MedMNIST centre-cropped before resizing, so nothing gets squashed);
    4. shrink with area averaging: each output pixel is the mean of the pixels it covers.
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.float64)
        image = Image.fromarray((pixels / (65535 if pixels.max() > 255 else 255) * 255).clip(0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = Image.alpha_composite(Image.new("RGBA", image.size, "black"), image.convert("RGBA"))
    gray = image.convert("L")
    crop = min(gray.size)
    left, top = (gray.width - crop) // 2, (gray.height - crop) // 2
    gray = gray.crop((left, top, left + crop, top + crop)).resize((side, side), Image.Resampling.BOX)
    return np.array(gray, dtype=np.uint8)


class ImageUpload(BaseModel):
    """What /predict takes: a multipart form with one file field."""

    file: bytes = Field(description=f"A PNG or JPEG chest X-ray, up to {MAX_BYTES // 2**20} MiB, any size")


class Prediction(BaseModel):
    probability_pneumonia: float = Field(ge=0, le=1)
    label: Literal["normal", "pneumonia"] = Field(description="pneumonia when the probability is at least threshold")
    threshold: float = Field(description="Chosen on validation images to balance sensitivity and specificity")
    ood_score: float = Field(
        ge=0,
        description="How unlike the training X-rays the image is: the Mahalanobis distance of its features to theirs",
    )
    ood_threshold: float = Field(
        ge=0,
        description="Above this score the image is out of distribution and the answer carries a warning; set on "
        "validation X-rays so that a few of real X-rays (ood.flag_rate, 2% by default) are above it",
    )
    image_size: list[int] = Field(
        min_length=2, max_length=2, description="The uploaded image's width and height, before resizing"
    )
    gradcam_png: str | None = Field(
        default=None, description="With ?gradcam=true: the image beside its Grad-CAM heatmap, PNG, base64"
    )
    model_version: str = Field(description="The run id of the model that answered")
    warnings: list[serving.PredictionWarning] = serving.warnings_field()


def format_warnings(image: Image.Image, side: int) -> list[serving.PredictionWarning]:
    """What `to_training_format` will have to change in this image: the model was trained on side x side 8-bit grayscale."""
    found = []
    if image.mode != "L":
        if image.mode.startswith("I"):  # I;16, I;16B, I: more than 8 bits a pixel
            lost = "its values were brought to the 8-bit range (0-255)"
        elif "A" in image.mode or "transparency" in image.info:
            lost = "transparent pixels became black"
        else:
            lost = "any colour is lost"
        found.append(
            serving.PredictionWarning(
                code="converted",
                field="file",
                message=f"the image is in mode {image.mode}, not 8-bit grayscale (L): it was converted to grayscale "
                f"as the training X-rays are, and {lost}",
            )
        )
    width, height = image.size
    if (width, height) != (side, side):
        crop = "centre-cropped to a square and " if width != height else ""
        if min(width, height) > side:  # shrunk: fine detail is averaged away
            change = (f"shrunk to {side}x{side}, the training size; the model sees no detail finer than about "
                      f"{min(width, height) / side:.0f} of your pixels")  # fmt: skip
        else:  # enlarged: nothing is lost, but the model sees blurred, blocky detail it never trained on
            change = f"enlarged to {side}x{side}, the training size, from fewer pixels than the training X-rays had"
        found.append(
            serving.PredictionWarning(
                code="resized", field="file", message=f"the image is {width}x{height} pixels: it was {crop}{change}"
            )
        )
    return found


class PneumoniaPredictor:
    """The network of one run, loaded once at start-up."""

    def __init__(self, run: Run):
        self.run_id = run.run_id
        self.trained = model.load(run)  # the network, its pixel statistics and its threshold
        self.threshold = self.trained.threshold
        self.side = self.trained.image_side  # the training images' size: 28 for PneumoniaMNIST

    def decode(self, content: bytes) -> tuple[np.ndarray, tuple[int, int], list[serving.PredictionWarning]]:
        """Bytes -> ((side, side) uint8 grayscale as in training, the original (width, height), warnings about
        the conversion); a 4xx for anything that is not a sane image."""
        if not content:
            raise HTTPException(422, "the upload is empty; send a PNG or JPEG file in the form field 'file'")
        try:
            image = Image.open(io.BytesIO(content))  # reads the header only
        except UnidentifiedImageError:
            raise HTTPException(415, "the upload is not an image that can be read; send a PNG or JPEG") from None
        except Image.DecompressionBombError as error:  # Pillow's own guard, for absurd sizes
            raise HTTPException(422, f"the image is too large to decode safely: {error}") from None
        except (OSError, ValueError, SyntaxError) as error:  # a header Pillow recognises but cannot parse
            raise HTTPException(422, f"the image file is damaged ({error})") from None
        if image.format not in FORMATS:
            raise HTTPException(415, f"the upload is a {image.format} image; send a PNG or JPEG")
        width, height = image.size
        if width * height > MAX_PIXELS or min(width, height) < 8:
            raise HTTPException(
                422, f"the image is {width}x{height} pixels; send one between 8x8 and {MAX_PIXELS:,} pixels in all"
            )
        try:
            image.load()  # decode the pixels now: a truncated or broken file fails here
            upright = ImageOps.exif_transpose(image)  # as the camera's EXIF orientation tag says, once
            return to_training_format(upright, self.side), (width, height), format_warnings(upright, self.side)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            raise HTTPException(422, f"the image file is damaged or truncated ({error})") from None

    def ood_warnings(self, score: float) -> list[serving.PredictionWarning]:
        """The out-of-distribution warning, when the image's score is above the run's threshold."""
        if score <= self.trained.ood_threshold:
            return []
        message = (
            f"the image is unlike the chest X-rays the model was trained on (out-of-distribution score {score:.1f}, "
            f"above {self.trained.ood_threshold:.1f}): its probability means little. Send a frontal pediatric "
            "chest X-ray, not inverted, cropped to the chest"
        )
        return [serving.PredictionWarning(code="out_of_distribution", field="file", message=message)]

    def predict(
        self, pixels: np.ndarray, size: tuple[int, int], notes: list[serving.PredictionWarning], gradcam: bool
    ) -> Prediction:
        """The answer for one decoded image (`decode`'s three results)."""
        p, score = (float(v[0]) for v in self.trained.predict(pixels[None]))
        label = CLASS_NAMES[int(p >= self.threshold)]
        return Prediction(
            probability_pneumonia=round(p, 4),
            label=label,
            threshold=round(self.threshold, 4),
            ood_score=round(score, 2),
            ood_threshold=round(self.trained.ood_threshold, 2),
            image_size=list(size),
            gradcam_png=self.overlay(pixels, f"predicted: {label} (P = {shown(p, 2)})") if gradcam else None,
            model_version=self.run_id,
            warnings=[*self.ood_warnings(score), *notes],
        )

    def overlay(self, pixels: np.ndarray, title: str) -> str:
        """The image beside its Grad-CAM heatmap, as a base64 PNG of 640x360 pixels."""
        fig = Figure(figsize=(6.4, 3.6), dpi=100)
        heat = self.trained.grad_cam(pixels[None], size=model.GRADCAM_SIDE)[0]
        model.draw_gradcam(fig.subplots(1, 2), pixels, heat)
        fig.suptitle(title, fontsize=12)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return base64.b64encode(buffer.getvalue()).decode("ascii")


router = APIRouter(tags=[PROJECT])
PredictorDep = Annotated[PneumoniaPredictor, Depends(serving.get_predictor)]


@router.post("/predict", responses={413: {"description": "File too large"}, 415: {"description": "Not a PNG or JPEG"}})
def predict(
    predictor: PredictorDep,
    file: Annotated[UploadFile, File(description=f"A PNG or JPEG chest X-ray, up to {MAX_BYTES // 2**20} MiB")],
    request: Request,
    gradcam: bool = False,
) -> Prediction:
    """P(pneumonia) for one uploaded chest X-ray."""
    content = file.file.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise HTTPException(413, f"the file is over {MAX_BYTES // 2**20} MiB; send a smaller image")
    pixels, size, notes = predictor.decode(content)
    answer = predictor.predict(pixels, size, notes, gradcam)
    log(request, image_summary(pixels, size, notes), answer)
    return answer


def image_summary(pixels: np.ndarray, size: tuple[int, int], notes: list[serving.PredictionWarning]) -> dict:
    """What the prediction log keeps of an upload: a few numbers that drift monitoring (monitor.py) compares
    with the training images', never the pixels. `pixels` is the image as the model sees it (side x side
    grayscale, 0-255), `size` the upload's (width, height), `notes` what `decode` had to change."""
    width, height = size
    changed = {note.code for note in notes}
    return {
        "width": width,
        "height": height,
        "aspect": round(width / height, 4),  # > 1: wider than tall; the server crops it to a square
        "resized": "resized" in changed,  # not the training size: shrunk or enlarged
        "converted": "converted" in changed,  # not 8-bit grayscale: colour, 16-bit or transparent
        "mean": round(float(pixels.mean()), 2),  # brightness, after the conversion the model sees
        "std": round(float(pixels.std()), 2),  # contrast: the spread of its pixels
    }


def log(request: Request, image: dict, answer: Prediction) -> None:
    """Log the upload's summary and the answer for drift monitoring, when the server logs. A chest X-ray is
    health data (GDPR art. 9): the log keeps numbers about the image, not the image. The guide's monitoring
    section says what logging even those asks of you."""
    output = {"probability_pneumonia": answer.probability_pneumonia, "label": answer.label,
              "ood_score": answer.ood_score}  # fmt: skip
    serving.log_prediction(request, image, output, answer.warnings)


def example_requests() -> dict[str, dict]:
    """What `make bench-serve` sends: one 28x28 PNG (a grey ramp standing in for an X-ray)."""
    png = io.BytesIO()
    Image.linear_gradient("L").resize((28, 28)).save(png, format="PNG")
    return {"single": {"path": "/predict", "files": {"file": ("xray.png", png.getvalue(), "image/png")}}}


def create_app(run_id: str | None = None) -> FastAPI:
    """The app for `uvicorn --factory projects.medical_imaging.serve:create_app` (the promoted run, else the newest)."""
    return serving.create_app(
        project=PROJECT,
        router=router,
        load_predictor=PneumoniaPredictor,
        input_model=ImageUpload,
        run_id=run_id,
        description=__doc__,
        max_body_bytes=MAX_BYTES + 2**16,  # the file and the multipart form around it
        panel=Path(__file__).with_name("page.js"),  # the Try-it tab of the page at GET /
    )


if __name__ == "__main__":
    raise SystemExit(server.main(PROJECT))
