"""make examples: the files it writes train, evaluate, label and call the API as the guide says."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from .. import data, evaluate, examples, predict, serve


def test_the_example_files_work_with_every_command(real_data, runs_dir: Path, train_run, tmp_path: Path, capsys):
    assert examples.main(["--out", str(tmp_path)]) == 0  # from the real sentences (real_data: or a stated skip)
    printed = capsys.readouterr().out
    csv = tmp_path / "reviews.csv"
    assert f"--data {csv}" in printed and f"-d @{tmp_path / 'review.json'}" in printed

    own = pd.read_csv(csv)
    assert list(own.columns) == [data.TEXT, data.LABEL] and len(own) == examples.ROWS
    assert own[data.LABEL].mean() == 0.5  # the data's balance
    # one text a line: split on "\n" only (a few sentences hold \x85, which str.splitlines() would also split on)
    assert (tmp_path / "reviews.txt").read_text(encoding="utf-8").split("\n")[:-1] == list(own[data.TEXT])

    run = train_run("--data", str(csv), "--set", "model.kind=nbsvm")
    assert evaluate.main([]) == 0 and "test_accuracy" in run.metrics
    for name in ("reviews.csv", "reviews.txt"):
        assert predict.main([str(tmp_path / name), str(tmp_path / f"{name}.labels.csv")]) == 0
        assert len(pd.read_csv(tmp_path / f"{name}.labels.csv")) == examples.ROWS

    with TestClient(serve.create_app()) as client:
        one = client.post("/predict", json=json.loads((tmp_path / "review.json").read_text()))
        many = client.post("/predict/batch", json=json.loads((tmp_path / "batch.json").read_text()))
    assert one.status_code == 200 and many.status_code == 200 and len(many.json()["predictions"]) == 10
