"""Score a file of applicants with a trained credit-risk run: one CSV line per applicant.

    $ make predict PROJECT=credit_risk INPUT=applicants.csv OUTPUT=scores.csv [RUN=<run id>]
    $ python -m projects.credit_risk.predict applicants.csv scores.csv [--run <run id>]

The input is either
- a CSV with a header naming the 20 attributes as the API does (checking_account, duration_months,
  ...; readable values as in example.json); other columns, such as `default`, are ignored; or
- a file in the UCI format the model was trained on (german.data: 20 codes a line, and the class).
Each applicant is checked exactly as `POST /predict` checks one, and scored by the predictor the
API serves: the output has the line, P(default), the decision at the run's threshold, the threshold
and the run id. Bad lines go to OUTPUT.errors.csv with the reason; the others are scored.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlstarter import batch, runs
from mlstarter.datasets import SEPARATOR_NAMES, DataError, check_separator, separator
from mlstarter.paths import project_name
from mlstarter.scripts import predict_parser, run_script

from . import data
from .serve import Applicant, CreditPredictor

PROJECT = project_name(__package__)


def read_rows(path: Path, sep: str = ",") -> Iterator[tuple[str, dict[str, str] | list[str]]]:
    """('line 2', {attribute: value}) for every applicant of a CSV, or ('line 1', [codes]) of a UCI file,
    read a line at a time."""
    if not path.is_file():
        raise DataError(f"{path}: no such file. Give a CSV of applicants (see `python -m {__name__} --help`)")
    with open(path, encoding="utf-8", newline="") as file:
        if path.suffix == ".data":  # the UCI file: codes, space-separated, the class last
            for number, line in enumerate(file, start=1):
                fields = line.split()
                if fields:
                    yield f"line {number}", fields
            return
        check_separator(path, sep, option="--separator")  # a ;-separated export is named, with this flag
        reader = csv.DictReader(file, delimiter=sep)
        missing = [column for column in data.FEATURES if column not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"{path}: the header lacks {', '.join(missing)}. Expected a CSV whose first line names the "
                f"20 attributes: {', '.join(data.FEATURES)}"
            )
        for number, row in enumerate(reader, start=2):  # line 1 is the header
            yield f"line {number}", {column: row[column] for column in data.FEATURES}


def from_codes(fields: list[str]) -> dict[str, Any]:
    """A UCI line's 20 attribute codes as readable values (an unknown code stays, and the check names it)."""
    if len(fields) not in (len(data.FEATURES), len(data.FEATURES) + 1):
        raise ValueError(f"{len(fields)} fields; expected 20 attribute codes (and, optionally, the class)")
    return {
        column: data.CATEGORIES[column].get(value, value) if column in data.CATEGORIES else value
        for column, value in zip(data.FEATURES, fields, strict=False)
    }


def parse(record: dict[str, str] | list[str]) -> Applicant:
    """An applicant, checked as the API checks one (a CSV's numbers arrive as text: read them as numbers first)."""
    if isinstance(record, list):
        record = from_codes(record)
    return Applicant.model_validate({c: number(v) if c in data.NUMERIC else v for c, v in record.items()})


def number(text: str) -> int | float | str:
    """'36' -> 36, '36.0' -> 36.0 (the check takes it as 36), anything else stays text (and the check refuses it)."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def main(argv: list[str] | None = None) -> int:
    parser = predict_parser(__doc__)
    parser.add_argument("--separator", default="comma", choices=SEPARATOR_NAMES, help="A CSV's field separator.")
    args = parser.parse_args(argv)
    run = runs.served_run(PROJECT, args.run)  # the promoted run, else the newest
    predictor = CreditPredictor(run)
    print(f"***** Scoring {args.input} with {PROJECT} run {run.run_id} (threshold {predictor.threshold:.3f}) *****")

    def score(applicants: list[Applicant]) -> list[dict[str, Any]]:
        return [p.model_dump(exclude={"top_features"}) for p in predictor.predict(applicants, explain=False)]

    summary = batch.predict_rows(
        read_rows(args.input, separator(args.separator)), parse, score, args.output, unit="line"
    )
    return batch.report(summary, args.output, run.run_id, unit="line")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
