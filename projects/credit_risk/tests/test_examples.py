"""make examples: the files it writes train, evaluate, score and call the API as the guide says."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from .. import data, evaluate, examples, predict, serve


def test_the_example_files_work_with_every_command(runs_dir: Path, train_run, tmp_path: Path, capsys):
    assert examples.main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    csv = tmp_path / "applicants.csv"
    assert f"--data {csv}" in printed and f"-d @{tmp_path / 'applicant.json'}" in printed

    # your own data: our column names, readable values, both classes in the data's proportion
    own = pd.read_csv(csv)
    assert list(own.columns) == [*data.FEATURES, data.TARGET] and len(own) == examples.ROWS
    assert 0.25 < own[data.TARGET].mean() < 0.35

    run = train_run("--data", str(csv), "--set", "model.cv_folds=3")  # trains (a small search: seconds)
    assert run.config["data"]["path"] == str(csv)
    assert evaluate.main([]) == 0 and "test_roc_auc" in run.metrics

    assert predict.main([str(csv), str(tmp_path / "scores.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "scores.csv")) == examples.ROWS

    with TestClient(serve.create_app()) as client:
        one = client.post("/predict", json=json.loads((tmp_path / "applicant.json").read_text()))
        many = client.post("/predict/batch", json=json.loads((tmp_path / "batch.json").read_text()))
    assert one.status_code == 200 and many.status_code == 200 and len(many.json()["predictions"]) == 10
