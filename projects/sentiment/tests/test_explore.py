"""make explore: the data report is written whole, its numbers are right where the answer is known, and its
captions quote the data."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlstarter.config import apply_overrides
from mlstarter.datasets import DataError
from mlstarter.testing import written_report

from .. import data, examples, explore
from ..config import Config
from .conftest import toy_reviews, write_csv

COPIED = "this exact sentence is in every split , word for word"
SHORT = "ok"  # too short for a character 5-gram: its copies are exact copies all the same


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, explore.Report]:
    """Toy reviews where the answers are known: positive ones run longer ("truly truly" more), "superb" is only
    ever positive, and two sentences repeat 40 times, so that they land in more than one split."""
    rng = random.Random(1)
    rows = [(f"{text} truly truly" if label else text, label) for text, label in toy_reviews(400)]
    rows += [(f"a superb {rng.choice(['film', 'story', 'cast'])} indeed , truly truly truly", 1) for _ in range(30)]
    rows += [(COPIED, 1)] * 40  # negatives have 6 words, positives 8 or more
    rows += [(SHORT, 0)] * 40
    rng.shuffle(rows)
    path = write_csv(tmp_path_factory.mktemp("known") / "known.csv", rows)
    return path, explore.report(apply_overrides(Config(), [f"data.path={path}"]))


def test_known_answers(known: tuple[Path, explore.Report]):
    path, report = known
    numbers = report.numbers
    captions = {p.name: p.caption for p in report.plots}
    assert numbers["length"]["roc_auc_length_alone"] > 0.9  # positive reviews run longer (bar the short repeats)
    assert "positive ones run longer" in captions["length"]
    words = numbers["distinctive_words"]
    assert "superb" in words["positive"] and "superb" not in words["negative"]
    # each list holds only words that lean its way, even where fewer than TOP_WORDS do
    assert all(z > 0 for z in words["positive"].values()) and all(z < 0 for z in words["negative"].values())
    assert words["leaning_words_shuffled"] < words["leaning_words"]
    assert (f"{words['leaning_words']:,} of the {words['ranked_words']:,} words seen 5+ times lean to a class "
            f"(|z| > 1.96); with the labels shuffled, {words['leaning_words_shuffled']:,.0f} do") in captions[
        "distinctive_words"]  # fmt: skip
    # every validation and test sentence that is also a training sentence is an exact (and a near) copy, the
    # two-letter one too; the toy reviews repeat by chance too, and the copied sentences land in several splits
    splits = data.load(apply_overrides(Config(), [f"data.path={path}"])).splits
    seen = set(splits["train"][data.TEXT])
    copies = sum(int(splits[name][data.TEXT].isin(seen).sum()) for name in ("val", "test"))
    for text in (COPIED, SHORT):
        assert (splits["val"][data.TEXT] == text).any() or (splits["test"][data.TEXT] == text).any()
    assert numbers["duplicates"]["exact_copies"] == copies and numbers["duplicates"]["near_copies"] >= copies
    assert numbers["duplicates"]["repeated_texts"] >= 2
    assert f", {copies} an exact one;" in captions["near_duplicates"]


def test_a_word_is_listed_only_for_the_class_it_leans_to():
    # five words, none seen 5 times (so all are ranked): fewer than TOP_WORDS lean either way
    tokens = pd.Series([["great", "film"], ["great", "plot"], ["dull", "film"], ["bad", "plot"], ["bad", "film"]])
    found = explore.Report(explore.PROJECT, "5 sentences")
    explore.distinctive_words(found, tokens, np.array([1, 1, 0, 0, 0]), seed=0)
    words = found.numbers["distinctive_words"]
    assert "great" in words["positive"] and {"bad", "dull"} <= set(words["negative"])
    assert all(z > 0 for z in words["positive"].values()) and all(z < 0 for z in words["negative"].values())
    assert not set(words["positive"]) & set(words["negative"])


def test_the_log_odds_z_is_calibrated_when_the_classes_do_not_differ():
    # both classes draw 100,000 words from one Zipf-like vocabulary of 2,000: every word's true log-odds ratio
    # is 0, so z should spread like a standard normal (sd 1, 5% beyond 1.96)
    rng = np.random.default_rng(0)
    p = 1 / np.arange(1, 2001)
    words = [f"w{i}" for i in range(2000)]
    a, b = (pd.Series(rng.multinomial(100_000, p / p.sum()), index=words) for _ in range(2))
    seen = (a + b) > 0  # the words seen at all, as in a real vocabulary
    a, b = a[seen], b[seen]
    z = explore.log_odds(a, b)["z"][(a + b) >= explore.MIN_COUNT]
    assert 0.85 < z.std() < 1.15  # the word's own count as its prior gave about 0.58
    assert 0.02 < (z.abs() > 1.96).mean() < 0.08
    assert explore.log_odds(a[a > 0], a[a > 0])["z"].abs().max() == pytest.approx(0)  # the same counts: z = 0


def test_on_large_data_the_search_is_bounded_and_says_so(known: tuple[Path, explore.Report], monkeypatch):
    # a tenth of the memory per block and a sample of the training sentences, as on a file too big to search whole
    path, whole = known
    monkeypatch.setattr(explore, "BLOCK", 1000)  # about 2 queries a block against ~400 training sentences
    monkeypatch.setattr(explore, "MAX_REFERENCES", 50)
    found = explore.Report(explore.PROJECT, "known")
    explore.near_duplicates(found, data.load(apply_overrides(Config(), [f"data.path={path}"])).splits, seed=0)
    duplicates = found.numbers["duplicates"]
    assert duplicates["references"] == 50
    assert duplicates["exact_copies"] == whole.numbers["duplicates"]["exact_copies"]  # looked up among them all
    assert duplicates["near_copies"] >= duplicates["exact_copies"]
    train_size = whole.numbers["splits"]["train"]["sentences"]
    assert (
        f"against a sample of 50 of the {train_size:,} training sentences (exact copies: all)" in found.plots[0].caption
    )


def test_near_duplicates_are_found_without_being_exact():
    train = ["the plot is thin but the cast is charming", "a dull and lifeless film about nothing"]
    similarity, nearest = explore.nearest_training(
        ["the plot is thin but the cast is charming indeed", "an entirely different sentence here"], train
    )
    assert similarity[0] >= explore.NEAR_DUPLICATE and nearest[0] == 0  # one word added
    assert similarity[1] < 0.3


def test_the_report_of_the_examples_file(
    real_data: dict[str, Path], tmp_path: Path, runs_dir: Path, capsys: pytest.CaptureFixture[str]
):
    # make examples writes reviews.csv from the Rotten Tomatoes sentences (real_data: found, or a skip that says how)
    assert examples.main(["--out", str(tmp_path / "examples")]) == 0
    own = tmp_path / "examples" / "reviews.csv"
    assert explore.main(["--data", str(own)]) == 0  # into runs/sentiment-explore/
    folder = runs_dir / f"{explore.PROJECT}-explore"
    report = written_report(folder)
    assert f"Report: {folder / 'report.md'}" in capsys.readouterr().out
    numbers, captions = report["numbers"], {name: plot["caption"] for name, plot in report["plots"].items()}
    assert sum(s["sentences"] for s in numbers["splits"].values()) == examples.ROWS
    assert report["title"].startswith(f"{own}: {examples.ROWS:,} sentences")
    # the captions quote report.json's numbers
    assert f"ROC AUC {numbers['length']['roc_auc_length_alone']:.2f}" in captions["length"]
    assert captions["vocabulary"].startswith(f"{numbers['vocabulary']['words']:,} distinct training words")
    first = next(iter(numbers["distinctive_words"]["positive"]))
    assert f"Leaning most to positive: {first}" in captions["distinctive_words"]
    assert f"{numbers['duplicates']['exact_copies']} an exact one" in captions["near_duplicates"]


def test_a_bad_own_file_is_a_clear_data_error(tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text("review,stars\ngreat,5\n")
    with pytest.raises(DataError, match="no column text or label"):
        explore.main(["--data", str(path), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report").exists()
