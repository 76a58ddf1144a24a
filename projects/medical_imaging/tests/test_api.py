"""The HTTP API with real uploads: PNG and JPEG of any size, and every way an upload can be bad."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mlstarter import testing

from .. import serve
from .conftest import toy_images, write_npz


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    mp.setenv("MLSTARTER_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    npz = write_npz(tmp_path_factory.mktemp("data") / "toy.npz")
    run = testing.train(__package__, "--data", str(npz), "--dry-run")
    with TestClient(serve.create_app()) as c:
        c.run_id = run.run_id
        yield c
    mp.undo()


def encode(array: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def upload(client: TestClient, content: bytes, name: str = "xray.png", query: str = ""):
    return client.post(f"/predict{query}", files={"file": (name, content, "application/octet-stream")})


@pytest.mark.parametrize(
    ("size", "fmt", "mode"),
    [(28, "PNG", None), (512, "PNG", None), (300, "JPEG", None), (100, "PNG", "RGB"), (64, "PNG", "RGBA")],
)
def test_any_size_png_or_jpeg_is_answered(client: TestClient, size: int, fmt: str, mode: str | None):
    image = np.array(Image.fromarray(toy_images(1, seed=0)[0][0]).resize((size, size)))
    response = upload(client, encode(image, fmt, mode))
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0 <= body["probability_pneumonia"] <= 1 and body["image_size"] == [size, size]
    assert body["label"] == ("pneumonia" if body["probability_pneumonia"] >= body["threshold"] else "normal")
    assert body["model_version"] == client.run_id and body["gradcam_png"] is None
    assert body["ood_score"] >= 0 and body["ood_threshold"] > 0
    warned = {w["code"] for w in body["warnings"]}  # what the upload needed to become 28x28 grayscale, said
    assert ("resized" in warned) == (size != 28) and ("converted" in warned) == (mode is not None)
    assert ("out_of_distribution" in warned) == (body["ood_score"] > body["ood_threshold"])


def test_gradcam_comes_back_as_a_png_of_the_image_beside_its_heatmap(client: TestClient):
    body = upload(client, encode(toy_images(1, seed=0)[0][0], "PNG"), query="?gradcam=true").json()
    overlay = Image.open(io.BytesIO(base64.b64decode(body["gradcam_png"])))
    assert overlay.format == "PNG" and overlay.size == (640, 360)  # two panels side by side, readable


def test_the_openapi_schema_names_every_answer_field(client: TestClient):
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"warnings", "ood_score", "ood_threshold"} <= schema["Prediction"]["properties"].keys()
    assert {"code", "field", "message"} <= schema["PredictionWarning"]["properties"].keys()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header and has no pixel data: what a decompression bomb looks like."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"", 422, "the upload is empty"),
        (b"hello, I am text", 415, "not an image"),
        (encode(np.zeros((20, 20), np.uint8), "GIF"), 415, "is a GIF image"),
        (encode(toy_images(1, seed=3)[0][0], "PNG")[:300], 422, "damaged or truncated"),
        (png_header_only(10_000, 10_000), 422, "10000x10000 pixels"),
        (png_header_only(100_000, 100_000), 422, "too large to decode safely"),
        (encode(np.zeros((4, 4), np.uint8), "PNG"), 422, "4x4 pixels"),
        (b"\x00" * (serve.MAX_BYTES + 1), 413, "over 10 MiB"),
    ],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the 10000x10000 case, on purpose
def test_bad_uploads_are_4xx_with_a_reason(client: TestClient, content: bytes, status: int, message: str):
    response = upload(client, content)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"][0]["msg"]


def test_no_file_field_is_422(client: TestClient):
    response = client.post("/predict", data={"image": "x"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_metadata_names_the_run(client: TestClient):
    assert client.get("/metadata").json()["run_id"] == client.run_id


def test_odd_but_valid_images_are_read_sensibly():
    ramp16 = Image.fromarray((np.tile(np.linspace(0, 65535, 64), (64, 1))).astype(np.uint16))
    pixels = serve.to_training_format(ramp16, 28)
    assert 100 < pixels.mean() < 155  # scaled, not clipped to white
    wide = np.zeros((40, 120), np.uint8)
    wide[:, 40:80] = 255  # a bright centre square between black side bands
    assert serve.to_training_format(Image.fromarray(wide), 28).min() == 255  # the centre crop, not a squashed image
    rgba = Image.new("RGBA", (32, 32), (255, 255, 255, 0))  # white but fully transparent
    assert serve.to_training_format(rgba, 28).max() == 0


def test_a_png_with_a_corrupted_chunk_is_422(client: TestClient):
    png = bytearray(encode(toy_images(1, seed=4)[0][0], "PNG"))
    idat = png.index(b"IDAT")
    png[idat + 40] ^= 0xFF  # flip a byte of compressed pixel data: the chunk's CRC no longer matches
    response = upload(client, bytes(png))
    assert response.status_code == 422 and "damaged" in response.json()["detail"][0]["msg"]
