"""The out-of-distribution check: its math, the run's reference.json, and the warnings the API gives."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from .. import data, ood, serve


def test_the_mahalanobis_distance_is_to_the_nearer_class_in_units_of_spread():
    means = np.array([[0.0, 0.0], [10.0, 0.0]])
    precision = np.linalg.inv(np.diag([4.0, 1.0]))  # the first feature spreads twice as far (sd 2)
    f = np.array([[2.0, 0.0], [0.0, 2.0], [9.0, 0.0]])
    # 2 along the wide feature is 1 sd; 2 along the narrow one is 2 sd; 9 is nearer the second class (1 -> 0.5 sd)
    assert np.allclose(ood.mahalanobis(f, means, precision), [1.0, 2.0, 0.5])


def test_the_threshold_flags_the_asked_share_of_validation_images():
    rng = np.random.default_rng(0)
    f_train, y_train = rng.normal(size=(400, 8)), np.arange(400) % 2
    f_val = rng.normal(size=(1000, 8))
    images = rng.integers(0, 256, (400, 28, 28)).astype(np.uint8)
    reference = ood.fit_reference(f_train, y_train, f_val, images, flag_rate=0.05, block=1)
    assert reference["ood"]["validation_flagged"] == pytest.approx(0.05, abs=0.002)
    assert reference["images"]["height"] == 28 and 120 < reference["images"]["pixel_mean"] < 135


@pytest.fixture(scope="module")
def client(sample_npz: Path, trained_once):
    """A dry run (128 real X-rays, 2 epochs) served: enough for features that know what an X-ray looks like."""
    run = trained_once("--dry-run", "--data", str(sample_npz))
    with TestClient(serve.create_app()) as c:
        c.run = run
        yield c


def post(client: TestClient, pixels: np.ndarray, mode: str | None = None) -> dict:
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    (image.convert(mode) if mode else image).save(buffer, format="PNG")
    response = client.post("/predict", files={"file": ("image.png", buffer.getvalue(), "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict) -> set[str]:
    return {w["code"] for w in body["warnings"]}


def test_the_run_holds_its_reference(client: TestClient):
    reference = client.run.read_json(ood.REFERENCE_FILE)
    assert len(reference["ood"]["class_means"]) == 2 and reference["ood"]["threshold"] > 0
    assert {"pixel_mean", "pixel_std", "height", "width", "image_mean", "image_std"} <= reference["images"].keys()


@pytest.mark.parametrize("kind", ["black", "white", "grey", "noise"])
def test_an_image_that_is_no_xray_gets_the_warning(client: TestClient, sample_npz: Path, kind: str):
    X_test, _ = data.read_npz(sample_npz)["test"]
    pixels = ood.unusual_images(X_test, n=1, seed=1)[kind][0]
    body = post(client, pixels)
    assert "out_of_distribution" in codes(body) and body["ood_score"] > body["ood_threshold"]


def test_real_test_xrays_are_rarely_flagged_and_not_warned_about_their_format(client: TestClient, sample_npz: Path):
    X_test, _ = data.read_npz(sample_npz)["test"]
    answers = [post(client, pixels) for pixels in X_test[::12]]  # 39 of the 468
    flagged = sum("out_of_distribution" in codes(body) for body in answers)
    assert flagged <= 4, f"{flagged} of {len(answers)} real X-rays flagged"  # the threshold flags 2% of validation
    assert not set().union(*(codes(body) for body in answers)) - {"out_of_distribution"}


def test_a_large_colour_image_is_warned_about_its_conversion(client: TestClient, sample_npz: Path):
    X_test, _ = data.read_npz(sample_npz)["test"]
    big = np.array(Image.fromarray(X_test[0]).resize((300, 200)))
    body = post(client, big, mode="RGB")
    warnings = {w["code"]: w["message"] for w in body["warnings"]}
    assert "converted" in warnings and "mode RGB" in warnings["converted"]
    assert "resized" in warnings and "300x200" in warnings["resized"] and "centre-cropped" in warnings["resized"]
