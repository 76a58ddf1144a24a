"""make predict: a CSV of applicants (or the UCI file) scored as the API scores one, bad lines set aside."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlstarter.datasets import DataError

from .. import predict, serve

HERE = Path(__file__).resolve().parents[1]


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def applicants_csv(tmp_path: Path, frame) -> Path:
    """Five applicants as a CSV with the API's field names (and the `default` column, which is ignored)."""
    path = tmp_path / "applicants.csv"
    frame.head(5).to_csv(path, index=False)
    return path


def test_a_csv_is_scored_line_by_line_as_the_api_scores(trained_once, applicants_csv: Path, tmp_path):
    run = trained_once("--dry-run")
    output = tmp_path / "scores.csv"
    assert predict.main([str(applicants_csv), str(output)]) == 0
    rows = read(output)
    assert [r["line"] for r in rows] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert {r["model_version"] for r in rows} == {run.run_id}
    assert not output.with_name("scores.csv.errors.csv").exists()
    # the first applicant of the data is example.json: the file and the API give the same answer
    with TestClient(serve.create_app()) as client:
        answer = client.post("/predict", json=json.loads((HERE / "example.json").read_text())).json()
    assert float(rows[0]["probability_of_default"]) == answer["probability_of_default"]
    assert rows[0]["decision"] == answer["decision"]


def test_bad_lines_are_listed_with_their_reason_and_the_rest_scored(trained_once, applicants_csv: Path, tmp_path: Path):
    trained_once("--dry-run")
    lines = applicants_csv.read_text().splitlines()
    header = lines[0].split(",")
    bad_age = lines[2].split(",")
    bad_age[header.index("age")] = "old"
    bad_housing = lines[4].split(",")
    bad_housing[header.index("housing")] = "castle"
    lines[2], lines[4] = ",".join(bad_age), ",".join(bad_housing)
    applicants_csv.write_text("\n".join(lines) + "\n")
    output = tmp_path / "scores.csv"
    assert predict.main([str(applicants_csv), str(output)]) == 1  # some lines failed
    assert [r["line"] for r in read(output)] == ["line 2", "line 4", "line 6"]
    errors = {r["line"]: r["error"] for r in read(output.with_name("scores.csv.errors.csv"))}
    assert set(errors) == {"line 3", "line 5"}
    assert errors["line 3"].startswith("age: Input should be a valid integer")
    assert errors["line 5"].startswith("housing: Input should be 'rent', 'own' or 'for free'")


def test_the_uci_file_the_model_trained_on_is_read_too(trained_once, tmp_path: Path):
    trained_once("--dry-run")
    uci = tmp_path / "german.data"  # the UCI layout, told by its suffix: codes, the class last
    uci.write_text("A11 6 A34 A43 1169 A65 A75 4 A93 A101 4 A121 67 A143 A152 2 A173 1 A192 A201 1\nA11 6 A34\n")
    output = tmp_path / "scores.csv"
    assert predict.main([str(uci), str(output)]) == 1
    assert [r["line"] for r in read(output)] == ["line 1"]
    [error] = read(output.with_name("scores.csv.errors.csv"))
    assert error["line"] == "line 2" and "3 fields" in error["error"]


def test_a_file_without_the_columns_is_refused_before_anything_is_written(trained_once, tmp_path: Path):
    trained_once("--dry-run")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,salary\nAda,100\n")
    with pytest.raises(DataError, match="the header lacks checking_account"):
        predict.main([str(wrong), str(tmp_path / "scores.csv")])
    assert not (tmp_path / "scores.csv").exists()


def test_the_scores_file_says_which_lines_are_unlike_the_training_data(runs_dir: Path, train_run, tmp_path: Path):
    train_run("--dry-run")
    applicants = tmp_path / "applicants.csv"
    unusual = {**serve.EXAMPLE, "credit_amount": 900_000}
    pd.DataFrame([serve.EXAMPLE, unusual]).to_csv(applicants, index=False)
    assert predict.main([str(applicants), str(tmp_path / "scores.csv")]) == 0
    scores = pd.read_csv(tmp_path / "scores.csv", keep_default_na=False)
    assert list(scores["warnings"]) == ["", "out_of_range(credit_amount)"]


def test_a_semicolon_separated_file_is_named_then_scored_with_separator(runs_dir: Path, train_run, tmp_path: Path):
    # a file that trains with --set data.separator=semicolon is scored too, not refused for a "missing header"
    train_run("--dry-run")
    applicants = tmp_path / "applicants.csv"
    pd.DataFrame([serve.EXAMPLE] * 3).to_csv(applicants, index=False, sep=";")
    with pytest.raises(DataError, match="looks semicolon-separated.*Pass --separator semicolon"):
        predict.main([str(applicants), str(tmp_path / "scores.csv")])
    assert predict.main([str(applicants), str(tmp_path / "scores.csv"), "--separator", "semicolon"]) == 0
    assert len(pd.read_csv(tmp_path / "scores.csv")) == 3
