"""Do the texts the served model reads still look like the reviews it learned from? A drift report.

    $ make monitor PROJECT=sentiment [SINCE=7d]
    $ python -m projects.sentiment.monitor [--since 2026-11-30] [--log-db postgresql://...]

Reads the prediction log that `make serve` writes (runs/sentiment-monitoring/predictions.db: a summary
of each text, never the text) and compares it with the run's reference.json, which holds the same
summary of every validation text and the model's answer to it:
1. text length, in words and in characters: another kind of text (tweets, product reviews, whole
   articles) is usually another length;
2. the share of unknown words (words not in the training vocabulary): new topics, slang, another
   language. The reference is the validation texts, not the training ones: every training word is
   known by definition, so only unseen texts show how many unknown words normal traffic has;
3. the predicted-positive rate, against the validation texts' at the same 0.5 threshold (binomial test);
4. the model's confidence, max(P(positive), 1 - P(positive)): texts the model cannot read well get
   answers near 0.5, even when their words and lengths look normal.
Each distribution is compared by PSI over the validation texts' deciles (< 0.1 stable, 0.1-0.25 watch,
> 0.25 act), with a KS test beside it. Writes runs/sentiment-monitoring/report/ (report.md, report.json,
plots/drift.png); the exit status is 3 at "act", so a scheduled job can gate on it.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from mlstarter import monitoring, paths
from mlstarter.monitoring import Check, numeric_check, rate_check
from mlstarter.runs import Run

from .data import FEW_KNOWN_WORDS

PROJECT = paths.project_name(__package__)
VALIDATION = "in the validation texts"  # the reference: texts the model did not learn from (see data.reference)


def checks(run: Run, log: pd.DataFrame, args: argparse.Namespace) -> tuple[list[Check], list[str]]:
    """Compare the logged text summaries (`input.words`, `input.characters`, `input.known_word_share`) and
    answers (`output.probability_positive`) with the validation texts'; a note on the warnings served."""
    seen = run.reference
    if seen is None or "values" not in seen:
        raise paths.ProjectError(f"run {run.run_id} has no reference to monitor against: train a new run "
                                 f"(make train PROJECT={PROJECT})")  # fmt: skip
    values = seen["values"]
    # 1-2. What came in: length and unknown words, against the validation texts
    found = [
        numeric_check("words per text", values["words"], log["input.words"], against=VALIDATION),
        numeric_check("characters per text", values["characters"], log["input.characters"], against=VALIDATION),
        numeric_check(
            "known-word share", values["known_word_share"], log["input.known_word_share"], against=VALIDATION
        ),
    ]
    # 3-4. What went out: the share labelled positive, and the confidence max(p, 1 - p) of each answer
    p = log["output.probability_positive"].to_numpy(dtype=float)
    found.append(rate_check("predicted positive", seen["predicted_positive_rate"], int((p >= 0.5).sum()), len(p)))
    p_ref = np.asarray(seen["scores"], dtype=float)
    found.append(numeric_check("confidence", np.maximum(p_ref, 1 - p_ref), np.maximum(p, 1 - p), against=VALIDATION))
    # the texts serve.py warns about (few_known_words, no_known_words), in traffic and among validation texts
    few = (log["input.known_word_share"].to_numpy(dtype=float) < FEW_KNOWN_WORDS).mean()
    few_ref = np.mean(np.asarray(values["known_word_share"], dtype=float) < FEW_KNOWN_WORDS)
    notes = [
        f"{few:.1%} of the texts had under {FEW_KNOWN_WORDS:.0%} of their words known, and were answered with a "
        f"few_known_words or no_known_words warning ({few_ref:.1%} of the {seen['monitored_texts']:,} validation texts)."
    ]
    return found, notes


def parser() -> argparse.ArgumentParser:
    return monitoring.monitor_parser(PROJECT, __doc__)


def main(argv: list[str] | None = None) -> int:
    return monitoring.monitor_main(PROJECT, checks, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
