"""Label a file of texts with a trained sentiment run: one CSV line per text.

    $ make predict PROJECT=sentiment INPUT=reviews.txt OUTPUT=labels.csv [RUN=<run id>]
    $ python -m projects.sentiment.predict reviews.txt labels.csv [--run <run id>] [--words]

The input is one of
- a text file (.txt): one text a line (empty lines are skipped);
- a CSV with a `text` column (other columns are ignored);
- JSON lines (.jsonl): one object a line with a "text" field, as `POST /predict` takes.
Each text is checked as `POST /predict` checks one (not blank, at most the API's length) and
labelled by the predictor the API serves: the output has the line, the label, P(positive) and the
run id, and with --words the words that moved each decision most (slower: one model call per word).
Bad lines go to OUTPUT.errors.csv with the reason; the others are labelled.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlstarter import batch, runs
from mlstarter.datasets import SEPARATOR_NAMES, DataError, check_separator, separator
from mlstarter.paths import project_name
from mlstarter.scripts import predict_parser, run_script

from .serve import Review, SentimentPredictor

PROJECT = project_name(__package__)
csv.field_size_limit(sys.maxsize)  # a long review is one field: the API's length check refuses it, not the reader


def read_rows(path: Path, sep: str = ",") -> Iterator[tuple[str, Any]]:
    """('line 3', {"text": ...}) for every text in the file, read a line at a time."""
    if not path.is_file():
        raise DataError(f"{path}: no such file. Give a .txt (a text a line), a .csv with a text column, or a .jsonl")
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
        if path.suffix == ".csv":
            check_separator(path, sep, option="--separator")  # a ;-separated export is named, with this flag
            reader = csv.DictReader(file, delimiter=sep)
            if "text" not in (reader.fieldnames or []):
                raise DataError(f"{path}: the header has no `text` column; it has {reader.fieldnames}")
            for number, row in enumerate(reader, start=2):  # line 1 is the header
                yield f"line {number}", {"text": row["text"]}
        elif path.suffix == ".jsonl":
            for number, line in enumerate(file, start=1):
                if line.strip():
                    yield f"line {number}", line
        else:  # a text a line
            for number, line in enumerate(file, start=1):
                if line.strip():
                    yield f"line {number}", {"text": line.rstrip("\r\n")}


def parse(row: dict | str) -> Review:
    """A review, checked as the API checks one (a JSON line is parsed first; a byte that is not UTF-8 is an error)."""
    if isinstance(row, str):
        return Review.model_validate_json(row.encode("utf-8", "surrogateescape"))
    row["text"].encode("utf-8")  # a byte that was not UTF-8 (kept as a lone surrogate): a UnicodeError, a bad row
    return Review.model_validate(row)


def main(argv: list[str] | None = None) -> int:
    parser = predict_parser(__doc__)
    parser.add_argument("--words", action="store_true", help="Also list the words that moved each decision most.")
    parser.add_argument("--separator", default="comma", choices=SEPARATOR_NAMES, help="A CSV's field separator.")
    args = parser.parse_args(argv)
    run = runs.served_run(PROJECT, args.run)  # the promoted run, else the newest
    predictor = SentimentPredictor(run)
    print(f"***** Labelling {args.input} with {PROJECT} run {run.run_id} *****")

    def score(reviews: list[Review]) -> list[dict[str, Any]]:
        predictions = predictor.predict([r.text for r in reviews], explain=args.words)
        # one CSV column per field; a transformer's attention (lists per head) is the API's alone
        rows = [p.model_dump(exclude={"words", "attention"}) for p in predictions]
        if args.words:
            for row, p in zip(rows, predictions, strict=True):
                row["words"] = " ".join(f"{w.word}:{w.effect:+.3f}" for w in p.words)
        return rows

    summary = batch.predict_rows(
        read_rows(args.input, separator(args.separator)), parse, score, args.output, unit="line"
    )
    return batch.report(summary, args.output, run.run_id, unit="line")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
