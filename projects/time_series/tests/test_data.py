"""The data: the bundled S&P 500 series, and every way a user's price CSV can be wrong."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mlstarter.config import ConfigError, from_dict
from mlstarter.datasets import DataError

from .. import data
from ..config import Config, DataConfig

CLOSE = DataConfig(price_column="Close")


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sp500_series_ships_with_arch_and_is_clean():
    prices = data.load_prices(DataConfig())
    frame = prices.frame
    assert len(frame) == 5031 and frame.index.is_monotonic_increasing and not frame.index.has_duplicates
    assert str(frame.index[0].date()) == "1999-01-04" and str(frame.index[-1].date()) == "2018-12-31"
    assert (frame > 0).all().all() and (frame.high >= frame.low).all()
    assert prices.gaps == ["2001-09-10 -> 2001-09-17 (7 days)"]  # the market closed after 9/11


def test_load_gives_the_whole_series_and_the_file_it_came_from():
    """One "split": the backtest walks forward through the whole series (see backtest.py)."""
    loaded = data.load(Config())
    assert set(loaded.splits) == {"series"} and loaded.prices is loaded.splits["series"]
    assert loaded.files == {"sp500.csv.gz": loaded.prices.path} and loaded.prices.path.is_file()


def test_log_returns_are_in_percent_and_add_up():
    prices = data.load_prices(DataConfig()).frame.price
    r = data.log_returns(prices)
    assert len(r) == len(prices) - 1
    assert r.sum() == pytest.approx(100 * np.log(prices.iloc[-1] / prices.iloc[0]))


def test_a_users_csv_with_a_close_column(prices_csv: Path):
    prices = data.load_prices(DataConfig(path=str(prices_csv), price_column="Close"))
    assert len(prices.frame) == 700 and prices.has_range and prices.gaps == []


def test_a_missing_column_lists_the_columns_and_the_setting(tmp_path: Path):
    path = write(tmp_path, "Date,Close\n2024-01-02,10\n")
    with pytest.raises(DataError, match=r"no column 'Adj Close'. Columns: Date, Close.*--set data.price_column"):
        data.load_prices(DataConfig(path=str(path)))


def test_bad_values_are_named_by_line_and_column(tmp_path: Path):
    path = write(tmp_path, "Date,Close\n2024-01-02,10\n2024-13-45,11\n2024-01-04,-3\n2024-01-05,abc\n2024-01-08,\n")
    with pytest.raises(DataError) as error:
        data.load_prices(DataConfig(path=str(path), price_column="Close"))
    message = str(error.value)
    assert "4 problem(s)" in message
    assert "line 3, column Date: '2024-13-45' is not a date" in message
    assert "line 4, column Close: '-3' is not a positive number" in message
    assert "line 5, column Close: 'abc'" in message and "line 6, column Close: ''" in message


def test_high_below_low_is_refused(tmp_path: Path):
    path = write(tmp_path, "Date,High,Low,Close\n2024-01-02,10,11,10.5\n")
    with pytest.raises(DataError, match="line 2: High 10 is below Low 11"):
        data.load_prices(DataConfig(path=str(path), price_column="Close"))


def test_unsorted_and_repeated_dates_are_refused(tmp_path: Path):
    unsorted = write(tmp_path, "Date,Close\n2024-01-03,10\n2024-01-02,11\n", "unsorted.csv")
    with pytest.raises(DataError, match=r"sorted oldest first; line 3 \(2024-01-02\) comes after 2024-01-03"):
        data.load_prices(DataConfig(path=str(unsorted), price_column="Close"))
    repeated = write(tmp_path, "Date,Close\n2024-01-02,10\n2024-01-02,11\n", "repeated.csv")
    with pytest.raises(DataError, match="line 3: 2024-01-02 appears twice"):
        data.load_prices(DataConfig(path=str(repeated), price_column="Close"))


def test_gaps_are_reported_not_refused(tmp_path: Path):
    path = write(tmp_path, "Date,Close\n2024-01-02,10\n2024-01-03,11\n2024-01-22,12\n")
    prices = data.load_prices(DataConfig(path=str(path), price_column="Close"))
    assert prices.gaps == ["2024-01-03 -> 2024-01-22 (19 days)"]


def test_not_utf8_or_not_a_csv(tmp_path: Path):
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("Date,Cl\xf4ture\n2024-01-02,10\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        data.load_prices(DataConfig(path=str(latin1), price_column="Close"))
    with pytest.raises(DataError, match="no such file"):
        data.load_prices(DataConfig(path=str(tmp_path / "missing.csv")))


def test_one_date_format_for_the_whole_column(tmp_path: Path):
    day_first = write(tmp_path, "Date,Close\n31/01/2024,10\n01/02/2024,11\n02/02/2024,12\n", "day_first.csv")
    prices = data.load_prices(DataConfig(path=str(day_first), price_column="Close", date_format="%d/%m/%Y"))
    assert [str(d.date()) for d in prices.frame.index] == ["2024-01-31", "2024-02-01", "2024-02-02"]
    mixed = write(tmp_path, "Date,Close\n2024-01-31,10\n01/02/2024,11\n", "mixed.csv")
    with pytest.raises(DataError, match=r"line 3, column Date: '01/02/2024' is not a date in the format of the first"):
        data.load_prices(DataConfig(path=str(mixed), price_column="Close"))


def test_blank_lines_keep_the_line_numbers_right(tmp_path: Path):
    path = write(tmp_path, "Date,Close\n2024-01-02,10\n\n2024-01-03,abc\n")
    with pytest.raises(DataError, match="line 4, column Close: 'abc'"):
        data.load_prices(DataConfig(path=str(path), price_column="Close"))


@pytest.mark.parametrize(
    ("sep", "name", "option"), [(";", "semicolon", "semicolon"), ("\t", "tab", "tab"), ("|", "pipe", "pipe")]
)
def test_a_file_with_another_separator_is_named_then_read_with_the_option(
    tmp_path: Path, sep: str, name: str, option: str
):
    lines = [["Date", "High", "Low", "Close"], ["2024-01-02", "11", "9.5", "10.5"], ["2024-01-03", "12", "10", "11"]]
    path = write(tmp_path, "".join(sep.join(line) + "\n" for line in lines))
    with pytest.raises(DataError, match=rf"looks {name}-separated.*--set data.separator={re.escape(option)}"):
        data.load_prices(DataConfig(path=str(path), price_column="Close"))
    prices = data.load_prices(DataConfig(path=str(path), price_column="Close", separator=option))
    assert prices.frame.price.tolist() == [10.5, 11.0] and prices.has_range


def test_a_bad_separator_setting_is_refused():
    with pytest.raises(ConfigError, match="data.separator"):
        from_dict(Config, {"data": {"separator": ":"}})


def test_bad_values_in_several_columns_are_listed_in_file_order(tmp_path: Path):
    path = write(tmp_path, "Date,High,Low,Close\n2024-01-02,11,9,10\n2024-01-03,11,9,abc\n"
                           "2024-01-04x,11,9,10\n2024-01-05,-1,9,10\n2024-01-08,11,9,\n")  # fmt: skip
    with pytest.raises(DataError) as error:
        data.load_prices(DataConfig(path=str(path), price_column="Close"))
    lines = [int(n) for n in re.findall(r"\n  line (\d+)", str(error.value))]
    assert lines == sorted(lines) and set(lines) == {3, 4, 5, 6}  # Close, Date, High, Close: in the file's order


def test_hints_for_common_export_mistakes(tmp_path: Path):
    semicolons = write(tmp_path, "Date;Close\n2024-01-02;10\n", "semicolons.csv")
    with pytest.raises(DataError, match="looks semicolon-separated"):
        data.load_prices(DataConfig(path=str(semicolons), price_column="Close"))
    dollars = write(tmp_path, 'Date,Close\n2024-01-02,$152.89\n2024-01-03,"1,234.5"\n', "dollars.csv")
    with pytest.raises(DataError, match=r"'\$152.89' is not a positive number \(write numbers without \$"):
        data.load_prices(DataConfig(path=str(dollars), price_column="Close"))
    header_only = write(tmp_path, "Date,Close\n", "header.csv")
    with pytest.raises(DataError, match="a header and no prices"):
        data.load_prices(DataConfig(path=str(header_only), price_column="Close"))


def test_the_data_command_takes_the_same_options_as_train(prices_csv: Path, capsys: pytest.CaptureFixture):
    assert data.main(["--data", str(prices_csv), "--set", "data.price_column=Close"]) == 0
    assert "700 trading days, 2010-01-04" in capsys.readouterr().out
