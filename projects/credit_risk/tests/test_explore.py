"""make explore: the data report is written whole, its numbers are right where the answer is known, and its
captions quote the data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlstarter.config import apply_overrides
from mlstarter.datasets import DataError
from mlstarter.explore import explore_parser
from mlstarter.scripts import load_config

from .. import data, examples, explore
from ..config import Config


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


def test_the_report_of_the_german_credit_data(runs_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert explore.main([]) == 0  # the shipped UCI file, into runs/credit_risk-explore/
    folder = runs_dir / f"{explore.PROJECT}-explore"
    report = written_report(folder)
    printed = capsys.readouterr().out
    assert f"Report: {folder / 'report.md'}" in printed
    numbers = report["numbers"]
    assert numbers["target"]["applicants"] == 1000 and numbers["target"]["default_rate"] == pytest.approx(0.3)
    # the development part only: 800 applicants in every attribute's categories
    assert sum(c["count"] for c in numbers["attributes"]["checking_account"]["categories"].values()) == 800
    best = max(numbers["attributes"], key=lambda a: numbers["attributes"][a]["iv"])
    assert report["plots"]["information_value"]["caption"].startswith(f"{best} separates best: IV ")
    assert set(numbers["sensitive"]) == {"sex", "age_group"}


def test_information_value_and_weight_of_evidence_by_hand():
    # category a: 30 payers, 10 defaulters; b: 70 payers, 90 defaulters (counts smoothed by +0.5)
    categories = pd.Series(pd.Categorical(["a"] * 40 + ["b"] * 160))
    y = pd.Series([0] * 30 + [1] * 10 + [0] * 70 + [1] * 90)
    table = explore.woe_table(categories, y)
    good = np.array([30.5, 70.5]) / 101  # share of all payers in a, b
    bad = np.array([10.5, 90.5]) / 101  # share of all defaulters
    assert table["woe"].to_numpy() == pytest.approx(np.log(good / bad))
    assert table["iv"].sum() == pytest.approx(((good - bad) * np.log(good / bad)).sum())
    assert table["default_rate"].to_list() == [0.25, 90 / 160]
    assert explore.band(0.01) == "useless" and explore.band(0.35) == "strong" and explore.band(0.6) == "suspicious"


def test_an_attribute_that_gives_the_target_away_is_flagged(frame: pd.DataFrame, tmp_path: Path):
    leaky = frame.copy()
    leaky["telephone"] = np.where(leaky[data.TARGET] == 1, "yes", "none")  # recorded after the loan went bad, say
    path = tmp_path / "leaky.csv"
    leaky.to_csv(path, index=False)
    report = explore.report(apply_overrides(Config(), [f"data.path={path}"]))
    attributes = report.numbers["attributes"]
    assert next(iter(attributes)) == "telephone" and attributes["telephone"]["auc"] == 1.0  # the highest IV first
    assert report.numbers["leakage_suspects"][0] == "telephone"
    caption = next(p.caption for p in report.plots if p.name == "information_value")
    assert caption.startswith("telephone separates best") and "leakage suspects to check: telephone" in caption


def test_the_examples_own_data_file_is_explored_the_same_way(tmp_path: Path):
    assert examples.main(["--out", str(tmp_path)]) == 0
    own = tmp_path / "applicants.csv"
    args = explore_parser(None, explore.PROJECT).parse_args(["--data", str(own)])  # as main reads them
    report = explore.report(load_config(Config, args))  # built in memory (writing it is tested above)
    assert report.title.startswith(f"{own}: {examples.ROWS} applicants")
    assert report.numbers["target"]["applicants"] == examples.ROWS
    assert sum(c["count"] for c in report.numbers["attributes"]["age"]["categories"].values()) == 0.8 * examples.ROWS


def test_a_bad_own_file_is_a_clear_data_error(tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text("age,income,default\n30,1000,0\n")
    with pytest.raises(DataError, match=r"missing columns .* unexpected columns \['income'\]"):
        explore.main(["--data", str(path), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report").exists()
