"""Serve a trained pneumonia classifier over HTTP: upload a chest X-ray, get P(pneumonia).

    $ make serve PROJECT=medical_imaging [RUN=<run id>] [PORT=8000]
    $ python -m projects.medical_imaging.serve [--run <run id>] [--port 8000]
    $ curl -F file=@xray.png localhost:8000/predict
    $ curl -F file=@xray.png 'localhost:8000/predict?gradcam=true'    # plus the heatmap as a PNG (base64)

Open http://127.0.0.1:8000/docs for an upload form.
`POST /predict` takes one PNG or JPEG image of any size: it is turned upright (EXIF),
converted to grayscale, centre-cropped to a square and shrunk to the training size, as the
MedMNIST images were made. The answer: P(pneumonia), the
label at the threshold chosen on validation images, and with `?gradcam=true` the Grad-CAM
overlay. A teaching model, not a medical device.
"""

from __future__ import annotations

import base64
import io
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, UploadFile
from matplotlib.figure import Figure
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, Field

from mlstarter import server, serving
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

    1. turn it upright, as the camera's EXIF orientation tag says;
    2. to 8-bit grayscale: 16-bit scans are scaled from 0-65535 (a plain conversion would clip them),
       transparent pixels become black;
    3. crop the centre square (MedMNIST centre-cropped before resizing, so nothing gets squashed);
    4. shrink with area averaging: each output pixel is the mean of the pixels it covers.
    """
    image = ImageOps.exif_transpose(image)
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
    image_size: list[int] = Field(
        min_length=2, max_length=2, description="The uploaded image's width and height, before resizing"
    )
    gradcam_png: str | None = Field(default=None, description="With ?gradcam=true: the heatmap overlay, PNG, base64")
    model_version: str = Field(description="The run id of the model that answered")


class PneumoniaPredictor:
    """The network of one run, loaded once at start-up."""

    def __init__(self, run: Run):
        self.run_id = run.run_id
        self.trained = model.load(run)  # the network, its pixel statistics and its threshold
        self.threshold = self.trained.threshold
        self.side = self.trained.image_side  # the training images' size: 28 for PneumoniaMNIST

    def decode(self, content: bytes) -> tuple[np.ndarray, tuple[int, int]]:
        """Bytes -> (side, side) uint8 grayscale, as in training; a 4xx for anything that is not a sane image."""
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
            return to_training_format(image, self.side), (width, height)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            raise HTTPException(422, f"the image file is damaged or truncated ({error})") from None

    def predict(self, content: bytes, gradcam: bool) -> Prediction:
        pixels, size = self.decode(content)
        p = float(self.trained.predict_proba(pixels[None])[0])
        overlay = self.overlay(pixels) if gradcam else None
        return Prediction(
            probability_pneumonia=round(p, 4),
            label=CLASS_NAMES[int(p >= self.threshold)],
            threshold=round(self.threshold, 4),
            image_size=list(size),
            gradcam_png=overlay,
            model_version=self.run_id,
        )

    def overlay(self, pixels: np.ndarray) -> str:
        heat = self.trained.grad_cam(pixels[None])[0]
        fig = Figure(figsize=(3, 3), dpi=100)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=255)
        ax.imshow(heat, cmap="jet", alpha=0.35)
        ax.axis("off")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return base64.b64encode(buffer.getvalue()).decode("ascii")


router = APIRouter(tags=[PROJECT])
PredictorDep = Annotated[PneumoniaPredictor, Depends(serving.get_predictor)]


@router.post("/predict", responses={413: {"description": "File too large"}, 415: {"description": "Not a PNG or JPEG"}})
def predict(
    predictor: PredictorDep,
    file: Annotated[UploadFile, File(description=f"A PNG or JPEG chest X-ray, up to {MAX_BYTES // 2**20} MiB")],
    gradcam: bool = False,
) -> Prediction:
    """P(pneumonia) for one uploaded chest X-ray."""
    content = file.file.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise HTTPException(413, f"the file is over {MAX_BYTES // 2**20} MiB; send a smaller image")
    return predictor.predict(content, gradcam)


def example_requests() -> dict[str, dict]:
    """What `make bench-serve` sends: one 28x28 PNG (a grey ramp standing in for an X-ray)."""
    png = io.BytesIO()
    Image.linear_gradient("L").resize((28, 28)).save(png, format="PNG")
    return {"single": {"path": "/predict", "files": {"file": ("xray.png", png.getvalue(), "image/png")}}}


def create_app(run_id: str | None = None) -> FastAPI:
    """The app for `uvicorn --factory projects.medical_imaging.serve:create_app` (newest run by default)."""
    return serving.create_app(
        project=PROJECT,
        router=router,
        load_predictor=PneumoniaPredictor,
        input_model=ImageUpload,
        run_id=run_id,
        description=__doc__,
        max_body_bytes=MAX_BYTES + 2**16,  # the file and the multipart form around it
    )


if __name__ == "__main__":
    raise SystemExit(server.main(PROJECT))
