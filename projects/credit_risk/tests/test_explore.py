"""make explore: the data report is written whole, its numbers are right where the answer is known, and its
captions quote the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlstarter.config import apply_overrides
from mlstarter.datasets import DataError
from mlstarter.explore import Report, explore_parser
from mlstarter.scripts import load_config
from mlstarter.testing import written_report

from .. import data, examples, explore
from ..config import Config


def test_the_report_of_the_german_credit_data(runs_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert explore.main([]) == 0  # the shipped UCI file, into runs/credit_risk-explore/
    folder = runs_dir / f"{explore.PROJECT}-explore"
    report = written_report(folder)
    printed = capsys.readouterr().out
    assert f"Report: {folder / 'report.md'}" in printed
    numbers, captions = report["numbers"], {name: plot["caption"] for name, plot in report["plots"].items()}
    assert numbers["target"]["applicants"] == 1000 and numbers["target"]["default_rate"] == pytest.approx(0.3)
    # the development part only: 800 applicants in every attribute's categories
    checking = numbers["attributes"]["checking_account"]
    assert sum(c["count"] for c in checking["categories"].values()) == 800
    # the strongest attribute is very strong (IV 0.5 to 1), beyond chance, and no leakage suspect (AUC alone 0.70)
    best = max(numbers["attributes"], key=lambda a: numbers["attributes"][a]["iv"])
    assert best == "checking_account" and checking["band"] == "very strong" and checking["beyond_chance"]
    assert numbers["leakage_suspects"] == [] and "no leakage suspect" in captions["information_value"]
    assert captions["information_value"].startswith(
        f"checking_account separates best: IV {checking['iv']:.2f} (very strong; chance alone gives about "
        f"{checking['chance_iv']:.3f}), AUC alone {checking['auc']:.2f}"
    )
    assert f"{len(numbers['within_noise'])} of 20 within noise" in captions["information_value"]
    (pair, v), *_ = numbers["association"].items()
    assert captions["association"].startswith(f"The most associated pair is {pair.replace(' / ', ' and ')} "
                                              f"(Cramér's V {v:.2f}")  # fmt: skip
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
    assert explore.band(0.01) == "useless" and explore.band(0.35) == "strong"
    assert explore.band(0.6) == "very strong" and explore.band(1.2) == "suspicious"
    assert explore.chance_iv(table, y) == pytest.approx(1 / 100 + 1 / 100)  # (k - 1)(1/payers + 1/defaulters)


def test_on_a_handful_of_applicants_chance_is_no_leak_and_no_rate_is_quoted(frame: pd.DataFrame):
    few = frame.sample(40, random_state=0)  # 40 applicants: categories of 1 to 20, IVs over 1 by chance
    y = few[data.TARGET]
    summary = explore.attribute_summary(explore.binned(few), y)
    by_chance = summary[(summary["iv"] > explore.LEAK_IV) & ~summary["beyond_chance"]]
    assert len(by_chance) and not by_chance["leakage_suspect"].any()  # a high IV within noise is no suspect
    assert not summary["quotable"].any()  # no attribute has two categories of 30 applicants
    found = Report(explore.PROJECT, "40 applicants")
    explore.default_rates(found, explore.binned(few), y, summary)
    assert found.plots[0].caption.startswith("No attribute has two categories of 30+ applicants, so no rate is quoted")


def test_cramers_v_is_bias_corrected():
    rng = np.random.default_rng(0)
    a = pd.Series(pd.Categorical(rng.integers(0, 5, 200)))
    b = pd.Series(pd.Categorical(rng.integers(0, 5, 200)))  # independent of a: plain V is about 0.14 by chance
    assert explore.cramers_v(a, b) < 0.05
    assert explore.cramers_v(a, a) == pytest.approx(1.0)


def test_a_leaky_attribute_is_flagged_and_an_unrelated_one_is_within_noise(frame: pd.DataFrame, tmp_path: Path):
    altered = frame.copy()
    altered["telephone"] = np.where(altered[data.TARGET] == 1, "yes", "none")  # recorded after the loan went bad, say
    # purpose (10 categories) shuffled across the applicants: whatever IV it gets is chance, about 0.054
    altered["purpose"] = altered["purpose"].sample(frac=1, random_state=0).to_numpy()
    path = tmp_path / "altered.csv"
    altered.to_csv(path, index=False)
    report = explore.report(apply_overrides(Config(), [f"data.path={path}"]))
    attributes = report.numbers["attributes"]
    assert next(iter(attributes)) == "telephone" and attributes["telephone"]["auc"] == 1.0  # the highest IV first
    assert report.numbers["leakage_suspects"] == ["telephone"]
    caption = next(p.caption for p in report.plots if p.name == "information_value")
    assert caption.startswith("telephone separates best") and "leakage suspects to check: telephone;" in caption
    purpose = attributes["purpose"]
    assert purpose["chance_iv"] == pytest.approx(9 * (1 / 560 + 1 / 240))  # 800 development applicants, 30% default
    assert not purpose["beyond_chance"] and purpose["chi2_p"] >= explore.CHANCE_P
    assert "purpose" in report.numbers["within_noise"] and "purpose" in caption.split("within noise")[1]


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
