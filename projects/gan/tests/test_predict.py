"""make predict: a folder of generated images, the same as GET /generate draws for the same seed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mlstarter.config import ConfigError

from .. import predict, serve


def test_a_folder_of_images_a_grid_and_a_list(trained_once, tmp_path: Path):
    run = trained_once("--dry-run")
    output = tmp_path / "samples"
    assert predict.main([str(output), "--n", "12", "--class", "3", "--seed", "5"]) == 0
    names = sorted(p.name for p in output.iterdir())
    assert names == sorted(["grid.png", "images.csv", *[f"image_{i:04d}.png" for i in range(12)]])
    with open(output / "images.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert {r["class"] for r in rows} == {"3"} and {r["model_version"] for r in rows} == {run.run_id}
    for r in rows:  # the judge's reading of each image, and a warning where it is not the class asked for
        assert r["warnings"] == ("" if r["judged_class"] == "3" else "class_not_recognised(class)")
    # the same images as the API draws for the same query
    with TestClient(serve.create_app()) as client:
        answer = client.get("/generate", params={"n": 12, "class": 3, "seed": 5, "format": "json"}).json()
    assert np.array_equal(np.asarray(Image.open(output / "image_0000.png")), np.asarray(answer["images"][0], np.uint8))
    assert not list(tmp_path.glob(".samples.partial-*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--class", "99"], "not a class of this model"),
        (["--seed", "-1"], "seed"),
        (["--n", "0"], "n: Input should be greater than or equal to 1"),
    ],
)
def test_impossible_requests_are_refused_before_anything_is_written(
    trained_once, tmp_path: Path, args: list[str], message: str
):
    trained_once("--dry-run")
    with pytest.raises(ConfigError, match=message):
        predict.main([str(tmp_path / "samples"), *args])
    assert not (tmp_path / "samples").exists()


def test_an_existing_folder_with_files_is_never_overwritten(trained_once, tmp_path: Path):
    trained_once("--dry-run")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "mine.txt").write_text(json.dumps("keep me"))
    with pytest.raises(ConfigError, match="not an empty folder"):
        predict.main([str(tmp_path / "samples")])
    assert (tmp_path / "samples" / "mine.txt").read_text() == '"keep me"'
