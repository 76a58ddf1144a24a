"""Send X-rays from a new scanner to a running server, then watch `make monitor` find the shift.

    $ make serve PROJECT=medical_imaging                      # in one terminal
    $ make simulate-drift PROJECT=medical_imaging [PORT=8000] # in another: 500 uploads from a "new scanner"
    $ make monitor PROJECT=medical_imaging                     # verdict: act
    $ python -m projects.medical_imaging.simulate_drift [--port 8000] [--n 500] [--unshifted]

The shift is one a hospital meets when a department replaces its X-ray machine: the new detector
exposes differently and its software exports images at another size. Each shifted upload is a test
X-ray as the new scanner would deliver it:
1. exposure: brighter and flatter, x' = 128 + CONTRAST * (x - 128) + BRIGHTNESS (0-255 pixel values);
2. size: enlarged to NEW_SIZE (width x height), taller than wide, without keeping the square shape,
   so the server's centre crop cuts off the top and bottom of the chest and the lungs look stretched.
`--unshifted` sends the test X-rays as they are, 28x28 PNGs drawn with replacement: the monitor
should stay quiet (make bench-monitor measures how often it does not).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from mlstarter import monitoring, paths
from mlstarter.config import from_dict
from mlstarter.runs import Run

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
CONTRAST = 0.8  # the new scanner's contrast, against the old one's: 20% flatter
BRIGHTNESS = 20  # and this much brighter, of 0-255 (training augmented by up to +-25: a shift the model half knows)
NEW_SIZE = (56, 70)  # width x height: twice the side, and 4:5 like a portrait detector


def exposure(pixels: np.ndarray) -> np.ndarray:
    """The new scanner's exposure: (H, W) uint8 -> the same, flatter and brighter (x' = 128 + c (x - 128) + b)."""
    exposed = 128 + CONTRAST * (pixels.astype(np.float64) - 128) + BRIGHTNESS
    return exposed.clip(0, 255).round().astype(np.uint8)


def new_scanner(pixels: np.ndarray) -> Image.Image:
    """One (H, W) uint8 X-ray as the new scanner delivers it: other exposure, other size and shape."""
    return Image.fromarray(exposure(pixels)).resize(NEW_SIZE, Image.Resampling.BILINEAR)


def png_upload(image: Image.Image, name: str) -> dict:
    """A POST /predict request with `image` as a PNG file, as serve.example_requests sends it."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"path": "/predict", "files": {"file": (name, buffer.getvalue(), "image/png")}}


def traffic(run: Run, n: int, seed: int, shifted: bool) -> list[dict]:
    """`n` uploads to POST /predict: test X-rays drawn with replacement, as they are or from the new scanner."""
    cfg = from_dict(Config, run.config)
    X_test, _ = data.load(cfg).splits["test"]
    rng = np.random.default_rng(seed)
    requests = []
    for i in rng.integers(0, len(X_test), n):
        image = new_scanner(X_test[i]) if shifted else Image.fromarray(X_test[i])
        requests.append(png_upload(image, f"xray-{i}.png"))
    return requests


def main(argv: list[str] | None = None) -> int:
    return monitoring.simulate_main(PROJECT, traffic, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
