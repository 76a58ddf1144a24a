"""Batch prediction from files: what `make predict PROJECT=x INPUT=... OUTPUT=...` runs.

A project's `predict.py` says how to read its input (rows, each with where it came from) and how
to score a chunk of them with the predictor its API serves; `predict_rows` does the rest, the same
way for every project:

- every row is checked with the API's own input model, so a file takes exactly what a request takes;
- a bad row never stops the good ones: it goes to `<OUTPUT>.errors.csv` with its line and the
  reason, and the summary line counts it; the exit code is 1 when any row failed;
- the output is written to a hidden file beside OUTPUT and renamed at the end, so a crash or Ctrl-C
  leaves no half-written file (and an older OUTPUT untouched);
- rows stream through in chunks: memory stays flat however long the input is; a progress bar
  shows on a terminal.
An input that cannot be read at all (no such file, a header without the needed columns) is a
`datasets.DataError`: one line, before anything is written.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from fastapi import HTTPException
from pydantic import ValidationError

from .serving import InvalidInputError

# What makes one row bad (and only that row): the API's own checks, as a request would fail them
BAD_ROW = (ValidationError, InvalidInputError, HTTPException, ValueError)

CHUNK = 1024  # rows scored together: large enough for vectorised models, small enough to keep memory flat


@dataclass
class Summary:
    rows: int = 0
    scored: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def reason(error: Exception) -> str:
    """One line that says what is wrong with a row: the fields and messages of a ValidationError."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'row'}: {e['msg']}" for e in error.errors(include_url=False)
        )
    if isinstance(error, HTTPException):
        return str(error.detail)
    return str(error)


@contextlib.contextmanager
def atomic_file(path: Path, newline: str | None = "") -> Iterator[TextIO]:
    """A text file written to a hidden temporary beside `path`, renamed to `path` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with open(partial, "w", encoding="utf-8", newline=newline) as file:
            yield file
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def predict_rows(
    rows: Iterable[tuple[str, Any]],
    parse: Callable[[Any], Any],
    score: Callable[[list[Any]], list[dict[str, Any]]],
    output: Path,
    *,
    total: int | None = None,
    chunk: int = CHUNK,
    unit: str = "row",
) -> Summary:
    """Parse each (where, raw) row, score the good ones `chunk` at a time, write one CSV line per good row
    to `output` (its `where` first) and one per bad row to `<output>.errors.csv`."""
    from tqdm import tqdm

    errors_path = output.with_name(output.name + ".errors.csv")
    summary, began = Summary(), time.perf_counter()
    with atomic_file(output) as out, atomic_file(errors_path) as err:
        writer: csv.DictWriter | None = None
        errors = csv.writer(err)
        errors.writerow([unit, "error"])

        def fail(where: str, error: Exception) -> None:
            summary.failed += 1
            errors.writerow([where, reason(error)])

        def flush(pending: list[tuple[str, Any]]) -> None:
            nonlocal writer
            try:
                results = list(zip([w for w, _ in pending], score([item for _, item in pending]), strict=True))
            except BAD_ROW:  # one bad item spoils the chunk: score them one by one
                results = []
                for where, item in pending:
                    try:
                        results.append((where, score([item])[0]))
                    except BAD_ROW as error:
                        fail(where, error)
            for where, result in results:
                line = {unit: where, **{key: cell(value) for key, value in result.items()}}
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(line))
                    writer.writeheader()
                writer.writerow(line)
                summary.scored += 1

        pending: list[tuple[str, Any]] = []
        with tqdm(rows, total=total, unit=unit, disable=None, file=sys.stderr, mininterval=1) as progress:
            for where, raw in progress:
                summary.rows += 1
                try:
                    pending.append((where, parse(raw)))
                except BAD_ROW as error:
                    fail(where, error)
                if len(pending) >= chunk:
                    flush(pending)
                    pending = []
        if pending:
            flush(pending)
        if writer is None:  # nothing scored: still a valid CSV, with the header of the `where` column
            out.write(f"{unit}\n")
    if summary.failed == 0:
        errors_path.unlink()  # no errors: no side file (nor an old one, from an earlier run)
    summary.seconds = time.perf_counter() - began
    return summary


def cell(value: Any) -> Any:
    """A value as one CSV cell: an answer's `warnings` list becomes its codes, e.g. "out_of_range(age)"; empty if none."""
    if isinstance(value, list) and all(isinstance(w, dict) and "code" in w for w in value):
        return "; ".join(f"{w['code']}({w['field']})" if w.get("field") else w["code"] for w in value)
    return value


def report(summary: Summary, output: Path, run_id: str, unit: str = "row") -> int:
    """Print the summary line; the exit code: 0 when every row was scored, 1 when any failed."""
    line = (
        f"Scored {summary.scored:,} of {summary.rows:,} {unit}s with run {run_id} in {summary.seconds:.1f} s "
        f"({summary.rows_per_second:,.0f} {unit}s/s): {output}"
    )
    if summary.failed:
        errors = output.with_name(output.name + ".errors.csv")
        print(f"{line}\n{summary.failed:,} {unit}(s) could not be scored: each is in {errors}, with the reason.")
        return 1
    print(line)
    return 0
