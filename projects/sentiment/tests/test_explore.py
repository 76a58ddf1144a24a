"""make explore: the data report is written whole, its numbers are right where the answer is known, and its
captions quote the data."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from mlstarter.config import apply_overrides
from mlstarter.datasets import DataError

from .. import data, examples, explore
from ..config import Config
from .conftest import toy_reviews, write_csv


def written_report(folder: Path) -> dict:
    """report.json, after checking that report.md embeds every plot, each with a caption, and that each exists."""
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    embedded = re.findall(r"!\[[^\]]*\]\((plots/[\w-]+\.png)\)\n\n\*(.+)\*", markdown)
    assert embedded and [file for file, _ in embedded] == [p["file"] for p in report["plots"].values()]
    assert all((folder / file).stat().st_size > 1000 for file, _ in embedded)
    assert sorted(p.name for p in (folder / "plots").iterdir()) == sorted(Path(f).name for f, _ in embedded)
    assert all(re.search(r"\d", caption) for _, caption in embedded), "every caption quotes the data"
    return report


COPIED = "this exact sentence is in every split , word for word"


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, explore.Report]:
    """Toy reviews where the answers are known: positive ones run longer ("truly truly" more), "superb" is only
    ever positive, and one sentence repeats 40 times, so that it lands in more than one split."""
    rng = random.Random(1)
    rows = [(f"{text} truly truly" if label else text, label) for text, label in toy_reviews(400)]
    rows += [(f"a superb {rng.choice(['film', 'story', 'cast'])} indeed , truly truly truly", 1) for _ in range(30)]
    rows += [(COPIED, 1)] * 40  # negatives have 6 words, positives 8 or more
    rng.shuffle(rows)
    path = write_csv(tmp_path_factory.mktemp("known") / "known.csv", rows)
    return path, explore.report(apply_overrides(Config(), [f"data.path={path}"]))


def test_known_answers(known: tuple[Path, explore.Report]):
    path, report = known
    numbers = report.numbers
    assert numbers["length"]["roc_auc_length_alone"] == 1.0  # every positive review is longer than every negative
    assert "positive ones run longer" in next(p.caption for p in report.plots if p.name == "length")
    assert (
        "superb" in numbers["distinctive_words"]["positive"]
        and "superb" not in numbers["distinctive_words"]["negative"]
    )
    # every validation and test sentence that is also a training sentence is an exact (and a near) copy; the toy
    # reviews repeat by chance too, and the copied sentence surely lands in several splits
    splits = data.load(apply_overrides(Config(), [f"data.path={path}"])).splits
    seen = set(splits["train"][data.TEXT])
    copies = sum(int(splits[name][data.TEXT].isin(seen).sum()) for name in ("val", "test"))
    assert (splits["val"][data.TEXT] == COPIED).any() or (splits["test"][data.TEXT] == COPIED).any()
    assert numbers["duplicates"]["exact_copies"] == copies and numbers["duplicates"]["near_copies"] >= copies
    assert numbers["duplicates"]["repeated_texts"] >= 1
    caption = next(p.caption for p in report.plots if p.name == "near_duplicates")
    assert f", {copies} an exact one;" in caption


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
    assert sum(s["sentences"] for s in report["numbers"]["splits"].values()) == examples.ROWS
    assert report["title"].startswith(f"{own}: {examples.ROWS:,} sentences")


def test_a_bad_own_file_is_a_clear_data_error(tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text("review,stars\ngreat,5\n")
    with pytest.raises(DataError, match="no column text or label"):
        explore.main(["--data", str(path), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report").exists()
