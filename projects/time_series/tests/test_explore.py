"""make explore: the data report is written whole, its numbers are right where the answer is known, and its
captions quote the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlstarter.config import apply_overrides
from mlstarter.datasets import DataError
from mlstarter.testing import written_report

from .. import examples, explore
from ..config import Config


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
    numbers, captions = report["numbers"], {name: plot["caption"] for name, plot in report["plots"].items()}
    assert numbers["series"]["first_date"] == "1999-01-04" and numbers["series"]["prices"] == 5031
    assert numbers["distribution"]["excess_kurtosis"] > 3 and numbers["distribution"]["fat_tails"]  # fat tails
    assert captions["distribution"].startswith(f"Excess kurtosis {numbers['distribution']['excess_kurtosis']:.1f}")
    acf = numbers["autocorrelation"]
    assert acf["squared_returns"][0] > abs(acf["returns"][0])  # the size of a move follows the last, its sign hardly
    # volatility clustering widens the returns' bands: fewer lags stand out than the independent band says
    assert (
        min(acf["robust_bands"]) > acf["band"] and acf["returns_outside_robust_band"] < acf["returns_outside_iid_band"]
    )
    assert f"{acf['returns_outside_robust_band']} of 20 lags outside their 95% band" in captions["autocorrelation"]
    assert f"would put {acf['returns_outside_iid_band']} outside" in captions["autocorrelation"]
    volatility = numbers["volatility"]
    assert (
        volatility["clustered"] and f"too {volatility['large_after_large']:.0%} of the time" in captions["volatility"]
    )
    assert numbers["gaps"]["gaps"] == ["2001-09-10 -> 2001-09-17 (7 days)"]  # markets closed after 9/11


@pytest.mark.parametrize("days", [4000, 120])
def test_independent_normal_returns_get_no_fat_tails_no_garch_and_no_spells(days: int, tmp_path: Path):
    # i.i.d. normal returns: every "yes" of the report would be a false alarm, on a long series and a short one
    returns = np.random.default_rng(0).standard_normal(days)
    report = explored(prices_from(returns, tmp_path / "prices.csv"))
    numbers, captions = report.numbers, {p.name: p.caption for p in report.plots}
    assert not numbers["distribution"]["fat_tails"] and "leave the line" not in captions["distribution"]
    assert "no clear sign of fat tails" in captions["distribution"]
    assert "underrates crashes" not in "".join(content for kind, content in report.blocks if kind == "text")
    assert not numbers["autocorrelation"]["garch_verdict"] and "GARCH models" not in captions["autocorrelation"]
    assert not numbers["volatility"]["clustered"] and "spells last" not in captions["volatility"]
    if days == 4000:
        assert abs(numbers["distribution"]["excess_kurtosis"]) < 0.3 and numbers["distribution"]["jarque_bera_p"] > 0.01


def test_fat_tails_are_measured(tmp_path: Path):
    returns = np.random.default_rng(0).standard_t(3, 4000) / np.sqrt(3)  # Student's t(3), sd 1
    report = explored(prices_from(returns, tmp_path / "prices.csv"))
    numbers = report.numbers["distribution"]
    assert numbers["excess_kurtosis"] > 3 and numbers["jarque_bera_p"] < 0.001 and numbers["fat_tails"]
    assert numbers["share_beyond_3_sd"] > numbers["normal_share_beyond_3_sd"]
    assert "the QQ plot's ends leave the line" in next(p.caption for p in report.plots if p.name == "distribution")


def test_the_robust_band_is_the_usual_one_for_independent_returns_and_wider_for_clustered_ones():
    calm = pd.Series(np.random.default_rng(0).standard_normal(20_000))
    assert explore.robust_bands(calm, 3) == pytest.approx(1.96 / np.sqrt(len(calm)), rel=0.05)
    # the same returns, a tenth of them (in one stretch) ten times as large: the band widens
    wild = calm * np.where(np.arange(len(calm)) < 2000, 10.0, 1.0)
    assert (explore.robust_bands(wild, 3) > 2 * 1.96 / np.sqrt(len(calm))).all()


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
    assert report.numbers["volatility"]["large_after_large_p"] < 0.01 and acf["garch_verdict"]  # beyond chance
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
