"""Is the traffic the served model sees still like the applicants it learned from? A drift report.

    $ make monitor PROJECT=credit_risk [SINCE=7d]
    $ python -m projects.credit_risk.monitor [--since 2026-11-30] [--log-db postgresql://...]

Reads the prediction log that `make serve` writes (runs/credit_risk-monitoring/predictions.db) and
compares the logged applicants with the run's reference.json (its training applicants):
1. every attribute: the Population Stability Index (PSI: < 0.1 stable, 0.1-0.25 watch, > 0.25 act,
   the credit industry's own bands), with a KS test (numbers) or chi-squared test (categories);
2. the score, P(default): a shift here moves the decisions, whatever moved the inputs;
3. the approval rate of each group (sex, age under 25) against training's at the same threshold:
   fairness can drift even when the model does not change.
Writes runs/credit_risk-monitoring/report/ (report.md, report.json, plots/drift.png); the exit
status is 3 at "act", so a scheduled job can gate on it.
"""

from __future__ import annotations

import argparse

import pandas as pd

from mlstarter import monitoring, paths
from mlstarter.monitoring import Check, categorical_check, numeric_check, rate_check
from mlstarter.runs import Run

from . import data

PROJECT = paths.project_name(__package__)


def checks(run: Run, log: pd.DataFrame, args: argparse.Namespace) -> list[Check]:
    """Compare the logged applicants (`input.<attribute>` columns) and answers with the training data."""
    seen = run.reference
    if seen is None or "values" not in seen:
        raise paths.ProjectError(f"run {run.run_id} has no reference to monitor against: train a new run "
                                 f"(make train PROJECT={PROJECT})")  # fmt: skip
    found = []
    # 1. Each attribute against the training applicants
    for column in data.NUMERIC:
        found.append(numeric_check(column, seen["values"][column], log[f"input.{column}"]))
    for column in data.CATEGORIES:
        found.append(categorical_check(column, seen["categories"][column], log[f"input.{column}"]))
    # 2. The score: out-of-fold P(default) in training against what was served
    found.append(numeric_check("P(default)", seen["scores"], log["output.probability_of_default"]))
    # 3. Fairness drift: approval rate per group, against training's at the same threshold
    applicants = log.filter(like="input.").rename(columns=lambda c: c.removeprefix("input."))
    groups = data.sensitive_features(applicants)
    approved = (log["output.decision"] == "approve").to_numpy()
    for column in groups.columns:
        for group, expected in seen["approval_rate"][column].items():
            members = (groups[column] == group).to_numpy()
            found.append(
                rate_check(f"approved, {column} {group}", expected, int(approved[members].sum()), int(members.sum()))
            )
    return found


def parser() -> argparse.ArgumentParser:
    return monitoring.monitor_parser(PROJECT, __doc__)


def main(argv: list[str] | None = None) -> int:
    return monitoring.monitor_main(PROJECT, checks, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
