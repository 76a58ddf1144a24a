"""GET /walk: the images between two seeds' noise, starting and ending exactly at /generate's images of them."""

from __future__ import annotations

import io
from types import SimpleNamespace

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
        c.run_id = run.run_id
        yield c
    mp.undo()


def get_json(client: TestClient, path: str) -> dict:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_walk_starts_and_ends_at_generates_images_of_the_two_seeds(client: TestClient):
    walk = get_json(client, "/walk?from_seed=3&to_seed=11&steps=6&class=7&format=json")
    images = np.array(walk["images"])
    start = np.array(get_json(client, "/generate?n=1&seed=3&class=7&format=json")["images"][0])
    end = np.array(get_json(client, "/generate?n=1&seed=11&class=7&format=json")["images"][0])
    assert images.shape == (6, 8, 8)
    assert np.array_equal(images[0], start) and np.array_equal(images[-1], end)
    assert not np.array_equal(images[0], images[-1])  # two seeds, two images: the walk goes somewhere
    assert walk["classes"] == [7] * 6 and (walk["from_seed"], walk["to_seed"]) == (3, 11)
    assert walk["t"][0] == 0 and walk["t"][-1] == 1 and walk["t"] == sorted(walk["t"])
    assert walk["image_size"] == [8, 8] and walk["model_version"] == client.run_id
    # without a class: class 0 all the way, as /generate?n=1 draws it
    default = get_json(client, "/walk?from_seed=5&to_seed=6&steps=2&format=json")
    assert default["classes"] == [0, 0]
    assert default["images"][0] == get_json(client, "/generate?n=1&seed=5&format=json")["images"][0]


def test_the_same_seed_at_both_ends_stays_put(client: TestClient):
    images = np.array(get_json(client, "/walk?from_seed=9&to_seed=9&steps=4&class=2&format=json")["images"])
    assert all(np.array_equal(image, images[0]) for image in images)


def test_slerp_keeps_the_ends_exact_and_the_length_of_the_noise():
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal((2, 64), dtype=np.float32)
    path = serve.slerp(z0, z1, np.linspace(0, 1, 9))
    assert path.shape == (9, 64) and path.dtype == np.float32
    assert np.array_equal(path[0], z0) and np.array_equal(path[-1], z1)
    lengths = np.linalg.norm(path, axis=1)
    low, high = sorted(np.linalg.norm([z0, z1], axis=1))
    assert np.all(lengths >= low - 1e-4) and np.all(lengths <= high + 1e-4)  # on the shell all the way
    straight = np.linalg.norm((z0 + z1) / 2)
    assert straight < 0.85 * lengths[4]  # the straight line's midpoint is well inside it
    assert np.allclose(serve.slerp(z0, z0, np.array([0.0, 0.5, 1.0])), z0)  # same vector: no division by zero


def test_a_png_strip_left_to_right(client: TestClient):
    response = client.get("/walk?from_seed=1&to_seed=2&steps=5&class=4")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    strip = Image.open(io.BytesIO(response.content))
    assert strip.size == (5 * 65 + 1, 65 + 1)  # 5 images of 8x8 at scale 8, one pixel between and around them
    assert response.headers["x-classes"] == "4,4,4,4,4" and response.headers["x-model-version"] == client.run_id
    small = Image.open(io.BytesIO(client.get("/walk?from_seed=1&to_seed=2&steps=3&scale=1").content))
    assert small.size == (3 * 9 + 1, 9 + 1)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("steps=1", "greater than or equal to 2"),
        (f"steps={serve.MAX_STEPS + 1}", f"less than or equal to {serve.MAX_STEPS}"),
        ("steps=many", "valid integer"),
        ("from_seed=-1", "greater than or equal to 0"),
        ("to_seed=4294967296", "less than or equal to 4294967295"),
        ("class=10", "class=10 is not a class of this model: it draws classes 0 to 9"),
        ("format=gif", "'png' or 'json'"),
        ("format=json&scale=2", "format=json gives the pixels as they are: leave out scale"),
        ("steps=16&scale=16", "would be 2,065 pixels wide; at most 2048"),
        ("seed=3", "Extra inputs are not permitted"),
    ],
)
def test_bad_walks_are_422_in_the_one_error_shape(client: TestClient, query: str, message: str):
    response = client.get(f"/walk?{query}")
    assert response.status_code == 422, response.text
    [item] = response.json()["detail"]
    assert message in item["msg"] and set(item) >= {"loc", "msg", "type"}


def test_images_the_judge_does_not_read_as_the_class_get_a_warning(client: TestClient):
    walk = get_json(client, "/walk?from_seed=3&to_seed=4&steps=8&class=5&format=json")
    judged = client.app.state.predictor.judged(np.array(walk["images"], np.uint8))
    wrong = int((judged != 5).sum())
    if wrong:  # a dry run's generator draws noise: the judge reads most of it as one class
        [warning] = walk["warnings"]
        assert warning["code"] == "class_not_recognised" and f"reads {wrong} of 8 images" in warning["message"]
        png = client.get("/walk?from_seed=3&to_seed=4&steps=8&class=5")
        assert png.headers["x-warnings"] == "class_not_recognised(class)"
    else:
        assert walk["warnings"] == []


def test_the_schema_states_the_walk_and_the_models_classes(client: TestClient):
    parameters = client.get("/openapi.json").json()["paths"]["/walk"]["get"]["parameters"]
    by_name = {p["name"]: p for p in parameters}
    assert set(by_name) == {"from_seed", "to_seed", "steps", "class", "format", "scale"}
    assert (by_name["steps"]["schema"]["minimum"], by_name["steps"]["schema"]["maximum"]) == (2, serve.MAX_STEPS)
    [integer] = [o for o in by_name["class"]["schema"]["anyOf"] if o.get("type") == "integer"]
    assert integer["maximum"] == 9


def test_an_unconditional_model_walks_without_a_class(runs_dir, train_run):
    train_run("--dry-run", "--set", "model.conditional=false")
    with TestClient(serve.create_app()) as client:
        walk = get_json(client, "/walk?from_seed=1&to_seed=2&steps=3&format=json")
        assert walk["classes"] is None and walk["warnings"] == []  # no class asked for: nothing to check
        assert walk["images"][0] == get_json(client, "/generate?n=1&seed=1&format=json")["images"][0]
        response = client.get("/walk?class=3")
        assert response.status_code == 422 and "unconditional" in response.json()["detail"][0]["msg"]


def test_a_strip_too_wide_is_refused_before_any_work():
    big = SimpleNamespace(side=224, channels=3, n_classes=2, model=SimpleNamespace(conditional=False))
    with pytest.raises(serve.serving.InvalidInputError, match="would be 3,601 pixels wide; at most 2048"):
        serve.check_strip_size(serve.WalkQuery(steps=16, scale=1), big)
    serve.check_strip_size(serve.WalkQuery(steps=8, scale=1), big)  # 8 x 225 + 1 = 1,801 pixels: fine
    serve.check_strip_size(serve.WalkQuery(steps=16, format="json"), big)  # no strip to build
