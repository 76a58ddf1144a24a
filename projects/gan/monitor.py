"""Is what the served generator is asked for, and what it draws, still like what was tested? A drift report.

    $ make monitor PROJECT=gan [SINCE=7d]
    $ python -m projects.gan.monitor [--since 2026-11-30] [--log-db postgresql://...]

Reads the prediction log that `make serve` writes (runs/gan-monitoring/predictions.db: one row per
request, never the images) and compares it with the run's reference.json:
1. the class mix of the served images (a conditional model) against the training data's: PSI and the
   chi-squared test. The test measured every class; users get the quality of the classes they ask for;
2. the judge's confidence in what is served: its probability of the requested class in each served
   image (an unconditional model: of whatever class it reads), against the same for the kept
   generator's images at training time; and the share of served images it recognises as the class
   asked for (the `class_not_recognised` warnings), against training time's;
3. the seeds: the share of requests that repeat an earlier request's seed (random seeds hardly ever
   repeat), and in the notes how many distinct seeds there were.
Writes runs/gan-monitoring/report/ (report.md, report.json, plots/drift.png); the exit status is 3 at
"act", so a scheduled job can gate on it.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from mlstarter import monitoring, paths
from mlstarter.monitoring import Check, categorical_check, numeric_check, rate_check
from mlstarter.runs import Run

PROJECT = paths.project_name(__package__)
# A seed drawn at random from 2**32 repeats an earlier one among n requests with probability about n / 2**32:
# expect none. (PSI counts an expected share of 0 as 0.0001, so from about 4% of repeated requests on: act.)
EXPECTED_REPEATS = 0.0


def checks(run: Run, log: pd.DataFrame, args: argparse.Namespace) -> tuple[list[Check], list[str]]:
    """Compare the logged requests (`input.class`, `input.seed`, `input.n`) and how the judge read what was
    served (`output.confidences`, one per image, and `output.recognised`) with the run's reference."""
    seen = run.reference
    if seen is None or "judge_confidence_generated" not in seen:
        raise paths.ProjectError(f"run {run.run_id} has no reference to monitor against: train a new run "
                                 f"(make train PROJECT={PROJECT})")  # fmt: skip
    conditional = run.config["model"]["conditional"]
    asked = log["input.class"].to_numpy(dtype=float)  # NaN: no class asked (every class in turn, or unconditional)
    n = log["input.n"].to_numpy(dtype=int)
    found = []
    # 1. The class mix of the served images against the training images'
    if conditional:
        training = {str(c): count for c, count in enumerate(seen["class_counts"]["train"])}
        found.append(categorical_check("class of the served images", training, served_classes(asked, n, len(training))))
    # 2. The judge's confidence in each served image, against the same for the kept generator's images at
    # training time (image by image: a mean over a request's n images varies less, so it is no like for like)
    expected = np.concatenate(seen["judge_confidence_generated"])  # every class's images, as many of each
    served = np.concatenate([np.asarray(c, dtype=float) for c in log["output.confidences"]])
    name = "judge's confidence in the class asked for" if conditional else "judge's confidence in any class"
    found.append(numeric_check(name, expected, served))
    if conditional:
        recognised = int(log["output.recognised"].sum())
        overall = seen["judge_accuracy_generated"]["overall"]
        found.append(rate_check("images recognised as the class asked for", overall, recognised, int(n.sum())))
    # 3. Seeds: a repeated seed serves images that were served before
    seeds = log["input.seed"].astype("int64")
    found.append(rate_check("requests repeating an earlier seed", EXPECTED_REPEATS, int(seeds.duplicated().sum()),
                            len(seeds)))  # fmt: skip
    top = seeds.value_counts()
    most = "none twice" if top.iloc[0] == 1 else f"the most asked, {top.index[0]}, {top.iloc[0]:,} times"
    distinct = f"{len(top):,} distinct seed{'' if len(top) == 1 else 's'}"
    return found, [f"Seeds: {len(seeds):,} requests used {distinct} ({most})."]


def served_classes(asked: np.ndarray, n: np.ndarray, n_classes: int) -> list[int]:
    """The class of every image served: a request for class c draws n images of c; one without a class draws
    every class in turn (0, 1, 2, ..., as serve.py does)."""
    classes: list[int] = []
    for wanted, size in zip(asked, n, strict=True):
        classes.extend((np.arange(size) % n_classes).tolist() if np.isnan(wanted) else [int(wanted)] * int(size))
    return classes


def parser() -> argparse.ArgumentParser:
    return monitoring.monitor_parser(PROJECT, __doc__)


def main(argv: list[str] | None = None) -> int:
    return monitoring.monitor_main(PROJECT, checks, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
