"""make examples: the files it writes work with the commands it prints (train --data, evaluate, predict, the API)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from .. import data, evaluate, examples, predict, serve


def test_the_examples_train_evaluate_predict_and_serve(
    sample_npz: Path, runs_dir: Path, train_run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "examples"
    assert examples.main(["--data", str(sample_npz), "--out", str(out)]) == 0
    printed = capsys.readouterr().out

    # 8 X-rays from the test split, each named for its true label
    X_test, y_test = data.read_npz(sample_npz)["test"]
    names = sorted(p.name for p in (out / "xrays").iterdir())
    assert names == sorted(f"xray-{label}-{i}.png" for label in data.CLASS_NAMES for i in range(1, 5))
    for png in (out / "xrays").iterdir():
        pixels = np.array(Image.open(png))
        [index] = np.flatnonzero((X_test == pixels).all(axis=(1, 2)))[:1]  # the test image it was copied from
        assert png.name.startswith(f"xray-{data.CLASS_NAMES[y_test[index]]}-")
    small = out / "pneumoniamnist-small.npz"
    assert {name: len(labels) for name, (_, labels) in data.read_npz(small).items()} == examples.SMALL_SIZES
    assert f'ARGS="--data {small}"' in printed and f"INPUT={out / 'xrays'}" in printed and "curl -F file=@" in printed
    # every example file the guide's commands use is one that make examples writes
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    used = set(re.findall(rf"runs/{examples.PROJECT}-examples/([\w./-]*\w)", readme))
    assert used and all((out / name).exists() for name in used), sorted(n for n in used if not (out / n).exists())
    assert "../shared/" not in readme and "file=@xray.png" not in readme  # no file a user does not have

    # the commands it printed: train on the .npz, evaluate, score the folder, upload a PNG
    run = train_run("--dry-run", "--data", str(small))
    assert evaluate.main([]) == 0
    scores = tmp_path / "scores.csv"
    assert predict.main([str(out / "xrays"), str(scores)]) == 0
    with open(scores, encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 8 and {"ood_score", "warnings"} <= rows[0].keys()
    assert all(row["model_version"] == run.run_id for row in rows)
    with TestClient(serve.create_app()) as client:
        png = (out / "xrays" / "xray-pneumonia-1.png").read_bytes()
        answer = client.post("/predict", files={"file": ("xray-pneumonia-1.png", png, "image/png")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == run.run_id and isinstance(body["warnings"], list)
    assert not {w["code"] for w in body["warnings"]} & {"resized", "converted"}  # already 28x28 grayscale
