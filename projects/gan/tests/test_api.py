"""The HTTP API: PNG grids and raw pixels, the same images for the same seed, and a 422 for every bad request."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from .. import serve


@pytest.fixture(scope="module")
def client(served_dry_run):
    folder, run = served_dry_run  # conditional, on the digits: 10 classes of 8x8 (conftest)
    mp = pytest.MonkeyPatch()
    mp.setenv("MLSTARTER_RUNS_DIR", str(folder))
    with TestClient(serve.create_app()) as c:
        c.run_id, c.run = run.run_id, run
        yield c
    mp.undo()


def pixels(client: TestClient, query: str) -> np.ndarray:
    response = client.get(f"/generate?{query}&format=json")
    assert response.status_code == 200, response.text
    return np.array(response.json()["images"])


def test_a_png_grid_of_n_images(client: TestClient):
    response = client.get("/generate?n=16&seed=3")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    grid = Image.open(io.BytesIO(response.content))
    assert grid.format == "PNG" and grid.mode == "L"
    assert grid.size == (10 * 65 + 1, 2 * 65 + 1)  # 16 images, one class a column: 10 columns, 2 rows of 8x8 x 8
    assert response.headers["x-classes"] == "0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5"
    assert response.headers["x-model-version"] == client.run_id
    small = Image.open(io.BytesIO(client.get("/generate?n=4&seed=3&scale=1").content))
    assert small.size == (2 * 9 + 1, 2 * 9 + 1)


def test_json_gives_the_pixels_and_the_classes(client: TestClient):
    body = client.get("/generate?n=3&seed=5&class=7&format=json").json()
    images = np.array(body["images"])
    assert images.shape == (3, 8, 8) and images.min() >= 0 and images.max() <= 255
    assert body["classes"] == [7, 7, 7] and body["seed"] == 5 and body["image_size"] == [8, 8]
    assert body["model_version"] == client.run_id


def test_the_same_seed_gives_the_same_images(client: TestClient):
    first = pixels(client, "n=8&seed=3&class=2")
    assert np.array_equal(first, pixels(client, "n=8&seed=3&class=2"))
    assert np.array_equal(first[:4], pixels(client, "n=4&seed=3&class=2"))  # image i does not depend on n
    assert not np.array_equal(first, pixels(client, "n=8&seed=4&class=2"))
    assert client.get("/generate?n=8&seed=3").content == client.get("/generate?n=8&seed=3").content


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("n=0", "greater than or equal to 1"),
        ("n=101", "less than or equal to 100"),
        ("n=many", "valid integer"),
        ("seed=-1", "greater than or equal to 0"),
        ("seed=4294967296", "less than or equal to 4294967295"),
        ("seed=1.5", "valid integer"),
        ("class=10", "class=10 is not a class of this model: it draws classes 0 to 9"),
        ("class=-3", "greater than or equal to 0"),
        ("class=seven", "valid integer"),
        ("format=gif", "'png' or 'json'"),
        ("scale=0", "greater than or equal to 1"),
        ("format=json&scale=2", "format=json gives the pixels as they are: leave out scale"),
        ("colour=red", "Extra inputs are not permitted"),
        ("class_=3", "Extra inputs are not permitted"),
    ],
)
def test_bad_requests_are_422_with_a_reason(client: TestClient, query: str, message: str):
    response = client.get(f"/generate?{query}")
    assert response.status_code == 422, response.text
    assert message in response.text


def test_metadata_names_the_run_and_the_query(client: TestClient):
    body = client.get("/metadata").json()
    assert body["run_id"] == client.run_id and "class" in body["input_schema"]["properties"]


def test_an_unconditional_model_refuses_a_class(runs_dir: Path, train_run):
    train_run("--dry-run", "--set", "model.conditional=false")
    with TestClient(serve.create_app()) as client:
        response = client.get("/generate?n=4&seed=1&class=3")
        assert response.status_code == 422 and "unconditional" in response.json()["detail"][0]["msg"]
        body = client.get("/generate?n=4&seed=1&format=json").json()
        assert body["classes"] is None and np.array(body["images"]).shape == (4, 8, 8)
        assert body["warnings"] == []  # no class was asked for: nothing to check


def test_answers_too_large_to_build_are_refused_before_any_work():
    from types import SimpleNamespace

    big = SimpleNamespace(side=224, channels=3, n_classes=2, model=SimpleNamespace(conditional=False))
    with pytest.raises(serve.serving.InvalidInputError, match="would be 35,840 pixels a side; at most 2048"):
        serve.check_size(serve.GenerateQuery(n=100, scale=16), big)
    with pytest.raises(serve.serving.InvalidInputError, match="15,052,800 pixel values; at most 2,000,000"):
        serve.check_size(serve.GenerateQuery(n=100, format="json"), big)
    serve.check_size(serve.GenerateQuery(n=16, scale=1), big)  # 4 x 224 = 896 pixels: fine


def test_scale_is_for_the_png_grid_and_declared_so(client: TestClient):
    assert client.get("/generate?n=4&seed=3&scale=2").status_code == 200
    [scale] = [p for p in client.get("/openapi.json").json()["paths"]["/generate"]["get"]["parameters"]
               if p["name"] == "scale"]  # fmt: skip
    assert "refused with format=json" in scale["description"]


def test_images_the_judge_does_not_read_as_the_requested_class_get_a_warning(client: TestClient):
    generator = client.app.state.predictor
    body = client.get("/generate?n=10&seed=3&format=json").json()  # classes 0 to 9 in turn
    judged = generator.judged(np.array(body["images"], np.uint8))
    wrong = [i for i, (asked, seen) in enumerate(zip(body["classes"], judged, strict=True)) if asked != seen]
    assert wrong  # a dry run's generator draws noise: the judge reads most of it as one class
    [warning] = body["warnings"]
    assert warning["code"] == "class_not_recognised" and warning["field"] == "class"
    assert f"reads {len(wrong)} of 10 images as another class" in warning["message"]
    png = client.get("/generate?n=10&seed=3")
    assert png.headers["x-warnings"] == "class_not_recognised(class)"  # the codes, where the body is an image
    right = client.get(f"/generate?n=2&seed=3&class={judged[wrong[0]]}&format=json").json()
    seen = generator.judged(np.array(right["images"], np.uint8))
    assert (right["warnings"] == []) == bool((seen == judged[wrong[0]]).all())


def test_the_warning_names_each_image_and_what_the_judge_read(client: TestClient):
    generator = client.app.state.predictor
    assert generator.unrecognised(np.array([3, 3]), np.array([3, 3])) == []
    [warning] = generator.unrecognised(np.array([3, 3, 3]), np.array([3, 5, 3]))
    assert "1 of 3 images as another class than the one asked for: image 1 (3 read as 5)" in warning.message
    assert "its accuracy on real validation images of these classes: " in warning.message  # from reference.json


def test_the_run_keeps_what_it_learned_from(client: TestClient):
    """reference.json: the classes of the training data and how well the judge reads real and generated ones."""
    reference = client.run.read_json("reference.json")
    assert reference["n_classes"] == 10 and (reference["side"], reference["channels"]) == (8, 1)
    assert sum(reference["class_counts"]["train"]) == 256 and sum(reference["class_counts"]["test"]) == 270
    for key in ("judge_accuracy_real", "judge_accuracy_generated"):
        assert 0 <= reference[key]["overall"] <= 1 and len(reference[key]["by_class"]) == 10
