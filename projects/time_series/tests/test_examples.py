"""make examples: the files it writes work as written, with --data, make predict and the API."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from .. import evaluate, examples, predict, serve


def test_the_examples_train_evaluate_predict_and_serve(
    runs_dir: Path, train_run, tmp_path: Path, capsys: pytest.CaptureFixture
):
    out = tmp_path / "examples"
    assert examples.main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    prices, recent, request = out / "prices.csv", out / "recent.csv", out / "request.json"
    assert f'--data {prices} --set data.price_column=Close"' in printed  # each file with its command
    assert f"INPUT={recent} " in printed and f"-d @{request}" in printed
    assert prices.read_text().startswith("Date,Close\n1999-01-04,") and len(prices.read_text().splitlines()) == 5032

    run = train_run("--dry-run", "--data", str(prices), "--set", "data.price_column=Close")  # as printed
    assert run.read_json("model.json")["source"] == "prices.csv (Close)"
    assert evaluate.main([]) == 0
    forecast = tmp_path / "forecast.csv"
    assert predict.main([str(recent), str(forecast), "--price-column", "Close"]) == 0
    with open(forecast, encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 5 and {r["warnings"] for r in rows} == {""}  # the model's own prices: nothing unusual
    with TestClient(serve.create_app()) as client:
        response = client.post("/forecast", json=json.loads(request.read_text()))
    assert response.status_code == 200 and response.json()["warnings"] == []
    assert response.json()["path"][-1]["median_price"] == float(rows[-1]["median_price"])


def test_examples_from_your_own_file(prices_csv: Path, tmp_path: Path):
    out = tmp_path / "examples"
    assert examples.main(["--out", str(out), "--data", str(prices_csv), "--set", "data.price_column=Close"]) == 0
    assert len((out / "prices.csv").read_text().splitlines()) == 1 + 700
    assert len(json.loads((out / "request.json").read_text())["history"]) == examples.TRADING_YEAR
