"""Are the X-rays the served model sees still like the ones it learned from? A drift report.

    $ make monitor PROJECT=medical_imaging [SINCE=7d]
    $ python -m projects.medical_imaging.monitor [--since 2026-11-30] [--log-db postgresql://...]

Reads the prediction log that `make serve` writes (runs/medical_imaging-monitoring/predictions.db:
a few numbers per upload, never the image) and compares it with the run's reference.json:
1. the uploads: their size (the shorter side) and shape (square, taller or wider) against the
   training images', the share that had to be converted to grayscale, and the mean and spread of
   their pixels after the conversion the model sees (brightness and contrast) against the training
   images' (PSI: < 0.1 stable, 0.1-0.25 watch, > 0.25 act, with a KS, chi-squared or binomial test);
2. the out-of-distribution score (ood.py) against the validation images' scores, and the share of
   uploads flagged against the share of validation images (ood.flag_rate, 2% by default);
3. the answers: P(pneumonia), and the share called pneumonia at the threshold, against the model's
   answers on the test X-rays, which `make evaluate` saves in the run (test_answers.json): the answers
   its test metrics describe. (`--answers validation` compares with the validation X-rays' instead;
   on PneumoniaMNIST they come from the training collection, and the test X-rays as they are already
   look shifted against them: README.md, "Monitoring".) The training prevalence is in the notes.
Writes runs/medical_imaging-monitoring/report/ (report.md, report.json, plots/drift.png); the exit
status is 3 at "act", so a scheduled job can gate on it.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from mlstarter import monitoring, paths
from mlstarter.monitoring import Check, categorical_check, numeric_check, rate_check
from mlstarter.runs import Run

PROJECT = paths.project_name(__package__)
# an upload within 5% of square counts as square: the server's centre crop then cuts off under 5% of it
ASPECT_TOLERANCE = 0.05
TEST_ANSWERS = "test_answers.json"  # in the run folder: the model's answers on the test X-rays (evaluate.py)


def size_band(width: int, height: int, side: int) -> str:
    """An upload's size as the model feels it, by the shorter side (the one the centre crop keeps): the training
    size, over it (shrunk to it: fine detail averaged away) or under it (enlarged: blurred)."""
    shorter = min(width, height)
    if shorter == side:
        return f"{side}"
    return f"over {side}" if shorter > side else f"under {side}"


def shape(aspect: float) -> str:
    """Square as trained, or which way the centre crop had to cut: aspect = width / height."""
    if abs(aspect - 1) <= ASPECT_TOLERANCE:
        return "square"
    return "wider" if aspect > 1 else "taller"


def answers_reference(p_test: np.ndarray, threshold: float) -> dict:
    """What the model answered on the test X-rays, which evaluate.py saves in the run (TEST_ANSWERS): the served
    answers are compared with these, the answers the test metrics and the model card describe."""
    return {
        "scores": np.round(np.asarray(p_test, dtype=float), 4).tolist(),  # P(pneumonia) of every test image
        "threshold": threshold,
        "positive_rate": float((p_test >= threshold).mean()),  # share of test images called pneumonia
    }


def compared_answers(run: Run, seen: dict, which: str) -> dict | None:
    """The answers to compare the served ones with: the test X-rays' (None before make evaluate) or the validation
    X-rays' (saved by train.py)."""
    if which == "validation":
        return seen["predictions"]
    path = run.path / TEST_ANSWERS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def checks(run: Run, log: pd.DataFrame, args: argparse.Namespace) -> tuple[list[Check], list[str]]:
    """Compare the logged uploads (`input.<summary>` columns) with the training images, their out-of-distribution
    scores with the validation images', and the answers with the test (or validation) images'."""
    seen = run.reference
    if seen is None or "predictions" not in seen or "values" not in seen["images"]:
        raise paths.ProjectError(f"run {run.run_id} has no reference to monitor against: train a new run "
                                 f"(make train PROJECT={PROJECT})")  # fmt: skip
    images, n = seen["images"], len(log)
    side = images["height"]  # the training images are square: 28x28 for PneumoniaMNIST
    found = []
    # 1. The uploads against the training images: size, shape, format, then brightness and contrast as the model
    #    sees them. Every training image is side x side grayscale: each of those is one category in training.
    sizes = [size_band(w, h, side) for w, h in zip(log["input.width"], log["input.height"], strict=True)]
    shapes = [shape(aspect) for aspect in log["input.aspect"]]
    found.append(categorical_check("upload size (shorter side)", {size_band(side, side, side): images["count"]}, sizes))
    found.append(categorical_check("upload shape", {shape(1.0): images["count"]}, shapes))
    converted = int(log["input.converted"].astype(bool).sum())
    found.append(named(rate_check("converted to grayscale", 0.0, converted, n), "in training"))
    found.append(numeric_check("brightness (mean pixel)", images["values"]["mean"], log["input.mean"]))
    found.append(numeric_check("contrast (pixel spread)", images["values"]["std"], log["input.std"]))
    # 2. The out-of-distribution score against the validation images' (which training never saw, and which set its
    #    threshold), and the share of answers that carry its warning against the share of validation images
    ood_check = numeric_check("out-of-distribution score", seen["ood"]["validation_scores"], log["output.ood_score"])
    found.append(named(ood_check, "on the validation X-rays"))
    flagged = int(sum("out_of_distribution" in codes for codes in log["warnings"]))
    flag_check = rate_check("flagged out of distribution", seen["ood"]["validation_flagged"], flagged, n)
    found.append(named(flag_check, "on the validation X-rays"))
    # 3. The answers against the test X-rays' answers (--answers validation: the validation X-rays'): the whole
    #    score, and the decision at the threshold
    answers = compared_answers(run, seen, args.answers)
    if answers is None:
        return found, [f"P(pneumonia) and the share called pneumonia were not compared: run {run.run_id} has not "
                       f"been evaluated. make evaluate PROJECT={PROJECT} RUN={run.run_id} saves the test X-rays' "
                       "answers they are compared with."]  # fmt: skip
    where = f"on the {args.answers} X-rays"
    score_check = numeric_check("P(pneumonia)", answers["scores"], log["output.probability_pneumonia"])
    found.append(named(score_check, where))
    called = int((log["output.label"] == "pneumonia").sum())
    found.append(named(rate_check("called pneumonia", answers["positive_rate"], called, n), where))
    if n == 0:
        return found, []
    # the training prevalence beside the rate: a note, not a check. Even on X-rays like the training ones, the
    # threshold does not call pneumonia at the prevalence; the compared X-rays' rate is the like-for-like one
    prevalence = (
        f"{called / n:.0%} of the {n:,} uploads were called pneumonia at the threshold {answers['threshold']:.2f}, "
        f"against {answers['positive_rate']:.0%} of the {args.answers} X-rays; {seen['predictions']['prevalence']:.0%} "
        "of the training X-rays had pneumonia. Where this rate moves while the images do not, the patients sent for "
        "an X-ray have changed (a season, an outbreak, a ward), not the scanner: only new labels say whether the "
        "model is still right."
    )
    return found, [prevalence]


def named(check: Check, where: str) -> Check:
    """The check, its sentence naming the images it compared with (the core's sentences say "in training")."""
    check.detail = check.detail.replace("in training", where).replace("expected", where)
    return check


def parser() -> argparse.ArgumentParser:
    parser = monitoring.monitor_parser(PROJECT, __doc__)
    parser.add_argument(
        "--answers",
        choices=["test", "validation"],
        default="test",
        help="whose answers the served P(pneumonia) is compared with: the test X-rays' (default; make evaluate saves "
        "them: the answers the model card's numbers describe) or the validation X-rays' (from the training "
        "collection; the guide's monitoring section shows why they are not the default)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    return monitoring.monitor_main(PROJECT, checks, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
