"""mlstarter.batch: bad rows never stop the good ones, and the output is written whole or not at all."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from mlstarter import batch


class Item(BaseModel):
    x: int = Field(ge=0)


def double(items: list[Item]) -> list[dict]:
    if any(item.x == 13 for item in items):
        raise ValueError("13 cannot be scored")  # passes the schema, but the "model" refuses it
    return [{"doubled": 2 * item.x} for item in items]


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_bad_rows_go_beside_the_output_with_their_reason(tmp_path: Path):
    rows = [(f"line {i}", {"x": x}) for i, x in enumerate([1, "two", 3, 13, -1, 4], start=2)]
    output = tmp_path / "out.csv"
    summary = batch.predict_rows(rows, Item.model_validate, double, output, chunk=2, unit="line")
    assert (summary.rows, summary.scored, summary.failed) == (6, 3, 3)
    assert read(output) == [{"line": "line 2", "doubled": "2"}, {"line": "line 4", "doubled": "6"},
                            {"line": "line 7", "doubled": "8"}]  # fmt: skip
    errors = {row["line"]: row["error"] for row in read(output.with_name("out.csv.errors.csv"))}
    assert set(errors) == {"line 3", "line 5", "line 6"}
    assert "x: Input should be a valid integer" in errors["line 3"]
    assert errors["line 5"] == "13 cannot be scored"  # found by scoring its chunk's rows one by one
    assert "greater than or equal to 0" in errors["line 6"]
    assert batch.report(summary, output, "run-1", unit="line") == 1


def test_all_good_leaves_no_errors_file_not_even_an_old_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    output = tmp_path / "out.csv"
    output.with_name("out.csv.errors.csv").write_text("line,error\nline 9,old\n")
    summary = batch.predict_rows([("line 2", {"x": 5})], Item.model_validate, double, output, unit="line")
    assert batch.report(summary, output, "run-1", unit="line") == 0
    assert not output.with_name("out.csv.errors.csv").exists()
    assert "Scored 1 of 1 lines with run run-1" in capsys.readouterr().out


def test_a_crash_midway_leaves_no_half_file_and_the_old_output_intact(tmp_path: Path):
    output = tmp_path / "out.csv"
    output.write_text("the last good results\n")

    def rows():
        yield "line 2", {"x": 1}
        raise KeyboardInterrupt  # Ctrl-C, or the machine running out of memory

    with pytest.raises(KeyboardInterrupt):
        batch.predict_rows(rows(), Item.model_validate, double, output, chunk=1)
    assert output.read_text() == "the last good results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no partial file left behind


def test_an_input_with_no_rows_is_a_header_only_csv(tmp_path: Path):
    output = tmp_path / "out.csv"
    summary = batch.predict_rows([], Item.model_validate, double, output, unit="line")
    assert summary.rows == 0 and output.read_text() == "line\n"
