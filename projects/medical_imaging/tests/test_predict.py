"""make predict: a folder of X-rays (or an .npz) scored as the API scores an upload, bad files set aside."""

from __future__ import annotations

import csv
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from .. import predict, serve
from .conftest import toy_images


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_a_folder_of_images_is_scored_as_the_api_scores_uploads(toy_npz: Path, trained_once, tmp_path):
    run = trained_once("--dry-run", "--data", str(toy_npz))
    folder = tmp_path / "xrays"
    (folder / "ward_b").mkdir(parents=True)
    images, _ = toy_images(3, seed=7, side=64)
    Image.fromarray(images[0]).save(folder / "a.png")
    Image.fromarray(images[1]).convert("RGB").save(folder / "ward_b" / "b.jpg", quality=95)
    Image.fromarray(images[2]).save(folder / "c.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes((folder / "a.png").read_bytes()[:60])  # a truncated download
    output, heatmaps = tmp_path / "scores.csv", tmp_path / "heatmaps"
    assert predict.main([str(folder), str(output), "--gradcam", str(heatmaps)]) == 1  # two bad files
    rows = read(output)
    assert [r["image"] for r in rows] == ["a.png", "c.png", "ward_b/b.jpg"]
    assert {r["model_version"] for r in rows} == {run.run_id} and rows[0]["width"] == "64"
    errors = {r["image"]: r["error"] for r in read(output.with_name("scores.csv.errors.csv"))}
    assert errors.keys() == {"broken.png", "notes.txt"}
    assert "damaged or truncated" in errors["broken.png"] and "not a PNG or JPEG" in errors["notes.txt"]
    assert sorted(p.name for p in heatmaps.iterdir()) == ["a.gradcam.png", "c.gradcam.png", "ward_b__b.gradcam.png"]
    with TestClient(serve.create_app()) as client:
        answer = client.post("/predict", files={"file": ("a.png", (folder / "a.png").read_bytes(), "image/png")})
    assert float(rows[0]["probability_pneumonia"]) == answer.json()["probability_pneumonia"]


def test_an_npz_is_scored_image_by_image(toy_npz: Path, trained_once, tmp_path: Path):
    trained_once("--dry-run", "--data", str(toy_npz))
    output = tmp_path / "scores.csv"
    assert predict.main([str(toy_npz), str(output)]) == 0
    rows = read(output)
    assert len(rows) == 160 + 64 + 64 and rows[0]["image"] == "train[0]" and rows[-1]["image"] == "test[63]"
