"""make predict: a text file, CSV or JSON lines labelled as the API labels one text, bad lines set aside."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlstarter.datasets import DataError

from .. import predict, serve


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def trained(toy_csv: Path, trained_once):
    return trained_once("--data", str(toy_csv), "--set", "model.kind=tfidf", "--dry-run")


def test_a_text_file_is_labelled_line_by_line_as_the_api_labels(trained, tmp_path: Path):
    texts = tmp_path / "reviews.txt"
    texts.write_text("A moving, funny and beautifully acted film.\n\nDull, flat and far too long.\n", encoding="utf-8")
    output = tmp_path / "labels.csv"
    assert predict.main([str(texts), str(output)]) == 0
    rows = read(output)
    assert [r["line"] for r in rows] == ["line 1", "line 3"]  # the empty line 2 is skipped, not an error
    with TestClient(serve.create_app()) as client:
        answer = client.post("/predict", json={"text": "Dull, flat and far too long."}).json()
    assert float(rows[1]["probability_positive"]) == answer["probability_positive"]
    assert rows[1]["label"] == answer["label"] and rows[1]["model_version"] == trained.run_id


def test_csv_and_jsonl_with_bad_lines(trained, tmp_path: Path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text('id,text\n1,"Great fun, warm and clever."\n2,"   "\n3,' + "x" * 6000 + "\n", encoding="utf-8")
    output = tmp_path / "labels.csv"
    assert predict.main([str(reviews), str(output)]) == 1
    assert [r["line"] for r in read(output)] == ["line 2"]
    errors = {r["line"]: r["error"] for r in read(output.with_name("labels.csv.errors.csv"))}
    assert "empty or only whitespace" in errors["line 3"] and "at most" in errors["line 4"]

    lines = tmp_path / "reviews.jsonl"
    lines.write_text(json.dumps({"text": "A delight."}) + '\n{"text": 42}\nnot json\n', encoding="utf-8")
    assert predict.main([str(lines), str(output), "--words"]) == 1
    [row] = read(output)
    assert row["line"] == "line 1" and ":" in row["words"]  # word:effect pairs
    errors = {r["line"]: r["error"] for r in read(output.with_name("labels.csv.errors.csv"))}
    assert "text: Input should be a valid string" in errors["line 2"] and "Invalid JSON" in errors["line 3"]


def test_a_csv_without_a_text_column_is_refused(trained, tmp_path: Path):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("review\nGood.\n", encoding="utf-8")
    with pytest.raises(DataError, match="no `text` column"):
        predict.main([str(wrong), str(tmp_path / "labels.csv")])
