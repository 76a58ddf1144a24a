"""Data-contract tests: the file, its schema, its labels, and the split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlstarter import datasets
from mlstarter.config import apply_overrides
from mlstarter.datasets import sha256sum

from .. import data
from ..config import Config, DataConfig


def test_the_file_is_the_canonical_one(applicants: data.Data):
    assert sha256sum(applicants.files["german.data"]) == data.DATASET.files[0].sha256


def test_schema_and_labels(frame: pd.DataFrame):
    assert frame.shape == (1000, 21)
    assert list(frame.columns) == [*data.FEATURES, data.TARGET]
    assert frame[data.TARGET].value_counts().to_dict() == {0: 700, 1: 300}  # as documented by UCI
    for column, codes in data.CATEGORIES.items():
        assert set(frame[column].astype(str)) <= set(codes.values()), column
    for column, (low, high) in data.NUMERIC_RANGES.items():
        assert frame[column].between(low, high).all(), column
    assert not frame.isna().any().any()


def test_split_is_stratified_disjoint_and_repeatable(applicants: data.Data):
    develop, test = applicants.splits["develop"], applicants.splits["test"]
    assert (len(develop), len(test)) == (800, 200)
    assert not set(develop.index) & set(test.index)
    for part in (develop, test):
        assert part[data.TARGET].mean() == pytest.approx(0.3, abs=0.005)
    frame = applicants.frame
    assert data.split(frame, Config())[1].index.equals(test.index)  # evaluate.py relies on this
    assert not data.split(frame, apply_overrides(Config(), ["seed=7"]))[1].index.equals(test.index)


def test_sensitive_features(frame: pd.DataFrame):
    groups = data.sensitive_features(frame)
    assert groups["sex"].value_counts().to_dict() == {"male": 690, "female": 310}
    assert set(groups["age_group"]) == {"under 25", "25 and over"}


def write_uci(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "mine.data"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD_LINE = "A11 6 A34 A43 1169 A65 A75 4 A93 A101 4 A121 67 A143 A152 2 A173 1 A192 A201 1"


def test_bad_uci_rows_name_the_line_and_column(tmp_path: Path):
    path = write_uci(tmp_path, [GOOD_LINE, GOOD_LINE.replace("A34", "A39"), GOOD_LINE.replace(" 67 ", " old ")])
    with pytest.raises(data.DataError) as error:
        data.read_uci(path)
    message = str(error.value)
    assert "line 2, column credit_history: unknown code 'A39'" in message
    assert "line 3, column age: 'old' is not a whole number from 18 to 100" in message


def test_a_short_line_is_named(tmp_path: Path):
    with pytest.raises(data.DataError, match="line 2: 19 fields, expected 21"):
        data.read_uci(write_uci(tmp_path, [GOOD_LINE, GOOD_LINE.rsplit(" ", 2)[0]]))


def test_own_csv_is_read_and_validated(tmp_path: Path, frame: pd.DataFrame):
    path = tmp_path / "loans.csv"
    frame.head(50).to_csv(path, index=False)
    assert data.read_csv(path).equals(frame.head(50))

    broken = frame.head(5).astype(str)
    broken.loc[3, "housing"] = "castle"
    broken.loc[1, data.TARGET] = "maybe"
    broken.to_csv(path, index=False)
    with pytest.raises(data.DataError) as error:
        data.read_csv(path)
    assert "row 5, column housing: unknown value 'castle'" in str(error.value)  # row 5 = header + 4th data row
    assert "row 3, column default: 'maybe'" in str(error.value)
    # listed in file order, whatever column each problem is in
    assert str(error.value).index("row 3,") < str(error.value).index("row 5,")


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_a_csv_with_another_separator_is_named_with_the_option_to_pass(tmp_path: Path, frame, sep, name):
    path = tmp_path / "loans.csv"
    frame.head(20).to_csv(path, index=False, sep=sep)
    # by its name, which a shell passes as it is (a bare ; would end the command, | would start a pipe)
    with pytest.raises(data.DataError, match=f"looks {name}-separated.*Pass --set data.separator={name} "):
        data.read_csv(path)
    assert data.read_csv(path, datasets.separator(name)).equals(frame.head(20))  # and with it, it reads


@pytest.mark.parametrize(
    ("defaulters", "message"),
    [
        (0, r"1,000 of class 0 \(repaid\), 0 of class 1 \(defaulted\): every example has the same label"),
        (2, r"60 of class 0 \(repaid\), 2 of class 1 \(defaulted\).*class 1 \(defaulted\) is too rare"),
    ],
)
def test_too_few_of_a_class_is_said_before_any_fitting(tmp_path: Path, frame, defaulters: int, message: str):
    # one class gave scikit-learn's traceback; 2 defaulters in 62 rows saved a run with ROC AUC nan
    repaid = frame[frame[data.TARGET] == 0]
    rows = repaid.head(60) if defaulters else pd.concat([repaid] * 2).head(1000)
    own = pd.concat([rows, frame[frame[data.TARGET] == 1].head(defaulters)])
    path = tmp_path / "loans.csv"
    own.to_csv(path, index=False)
    with pytest.raises(data.DataError, match=message) as error:
        data.load(Config(data=DataConfig(path=str(path))))
    assert "at least 8 of each" in str(error.value)


def test_csv_with_wrong_columns_lists_them(tmp_path: Path, frame: pd.DataFrame):
    path = tmp_path / "loans.csv"
    frame.drop(columns="age").assign(income=1).to_csv(path, index=False)
    with pytest.raises(data.DataError, match=r"missing columns \['age'\], unexpected columns \['income'\]"):
        data.read_csv(path)
