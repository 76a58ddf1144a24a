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

from .. import examples, explore
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


def prices_from(returns: np.ndarray, path: Path, dates: pd.DatetimeIndex | None = None) -> Path:
    """A Date,Close file whose daily log returns (percent) are `returns`."""
    dates = pd.bdate_range("2000-01-03", periods=len(returns) + 1) if dates is None else dates
    close = 100 * np.exp(np.concatenate([[0], np.cumsum(returns)]) / 100)
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": close}).to_csv(path, index=False)
    return path


def explored(path: Path) -> explore.Report:
    return explore.report(apply_overrides(Config(), [f"data.path={path}", "data.price_column=Close"]))


def test_the_report_of_the_sp500_series(runs_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert explore.main([]) == 0  # the S&P 500 series inside `arch`, into runs/time_series-explore/
    folder = runs_dir / f"{explore.PROJECT}-explore"
    report = written_report(folder)
    assert f"Report: {folder / 'report.md'}" in capsys.readouterr().out
    numbers = report["numbers"]
    assert numbers["series"]["first_date"] == "1999-01-04" and numbers["series"]["prices"] == 5031
    assert numbers["distribution"]["excess_kurtosis"] > 3  # daily index returns have fat tails
    acf = numbers["autocorrelation"]
    assert acf["squared_returns"][0] > abs(acf["returns"][0])  # the size of a move follows the last, its sign hardly
    assert numbers["gaps"]["gaps"] == ["2001-09-10 -> 2001-09-17 (7 days)"]  # markets closed after 9/11


@pytest.mark.parametrize("kind", ["normal", "student-t(3)"])
def test_fat_tails_are_measured(kind: str, tmp_path: Path):
    rng = np.random.default_rng(0)
    returns = rng.standard_normal(4000) if kind == "normal" else rng.standard_t(3, 4000) / np.sqrt(3)  # sd 1
    numbers = explored(prices_from(returns, tmp_path / "prices.csv")).numbers["distribution"]
    if kind == "normal":
        assert abs(numbers["excess_kurtosis"]) < 0.3 and numbers["jarque_bera_p"] > 0.01
    else:
        assert numbers["excess_kurtosis"] > 3 and numbers["jarque_bera_p"] < 0.001
        assert numbers["share_beyond_3_sd"] > numbers["normal_share_beyond_3_sd"]


def test_volatility_clustering_and_gaps_are_found(tmp_path: Path):
    # GARCH(1,1) returns: sigma^2_t = 0.05 + 0.1 r^2_t-1 + 0.85 sigma^2_t-1; and a missing fortnight in the dates
    rng = np.random.default_rng(1)
    returns, variance, last = np.empty(3000), 1.0, 0.0
    for t in range(len(returns)):
        variance = 0.05 + 0.1 * last**2 + 0.85 * variance
        last = returns[t] = np.sqrt(variance) * rng.standard_normal()
    dates = pd.bdate_range("2000-01-03", periods=len(returns) + 11).delete(range(1000, 1010))  # 2 weeks missing
    report = explored(prices_from(returns, tmp_path / "prices.csv", dates))
    acf = report.numbers["autocorrelation"]
    assert acf["ljung_box_q_squared_returns"] > explore.CLUSTERED * acf["ljung_box_q_returns"]
    assert "That is what GARCH models" in next(p.caption for p in report.plots if p.name == "autocorrelation")
    assert report.numbers["volatility"]["large_after_large"] > 1 - explore.LARGE  # large moves follow large moves
    gap = f"{dates[999].date()} -> {dates[1000].date()} ({(dates[1000] - dates[999]).days} days)"  # 2 weeks + a weekend
    assert report.numbers["gaps"]["gaps"] == [gap]
    assert "1 gap is longer than 5 days" in next(p.caption for p in report.plots if p.name == "gaps")


def test_the_examples_prices_file_is_explored_the_same_way(tmp_path: Path):
    assert examples.main(["--out", str(tmp_path)]) == 0
    report = explored(tmp_path / "prices.csv")  # as printed: --data prices.csv --set data.price_column=Close
    assert report.title.startswith("prices.csv (Close): 5,031 daily prices, 1999-01-04 to 2018-12-31")
    assert report.numbers["series"]["min_return_date"] == "2008-10-15"


@pytest.mark.parametrize(
    "content, message",
    [
        ("Date,Price\n2024-01-02,100\n", "no column 'Adj Close'"),
        ("Date,Adj Close\n" + "".join(f"2024-01-{d:02d},{100 + d}\n" for d in range(1, 31)), "needs at least 80"),
    ],
)
def test_a_bad_own_file_is_a_clear_data_error(content: str, message: str, tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        explore.main(["--data", str(path), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report").exists()
