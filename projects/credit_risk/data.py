"""The German Credit data: fetch it, decode it, validate it, split it.

Statlog (German Credit Data), UCI, 1994: 1000 past applicants for a loan, 20 attributes
each, and whether the loan turned out good (700) or bad (300). The raw file codes every
category (A11, A12, ...); we decode them into readable values from the UCI documentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mlstarter.datasets import DataError, DataFile, Dataset, check_class_counts, check_separator, fetch, separator

from .config import Config

DATASET = Dataset(
    name="german_credit",
    files=(
        DataFile(
            "german.data",
            url="https://archive.ics.uci.edu/ml/machine-learning-databases/statlog/german/german.data",
            sha256="b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871",
        ),
    ),
    license="CC BY 4.0",
    citation="Hofmann, H. (1994). Statlog (German Credit Data) [Dataset]. UCI Machine Learning Repository. "
    "https://doi.org/10.24432/C5NC77",
    homepage="https://archive.ics.uci.edu/dataset/144/statlog+german+credit+data",
    description="1000 loan applicants, 20 attributes, 30% bad credit risks.",
)

TARGET = "default"  # 1 = the loan went bad (UCI class 2), 0 = it was repaid (UCI class 1)

# The 13 categorical attributes: UCI code -> readable value (from the dataset's documentation).
CATEGORIES: dict[str, dict[str, str]] = {
    "checking_account": {"A11": "< 0 DM", "A12": "0 to 200 DM", "A13": ">= 200 DM", "A14": "no account"},
    "credit_history": {
        "A30": "no credits / all paid back",
        "A31": "all paid back at this bank",
        "A32": "existing paid back duly",
        "A33": "delays in the past",
        "A34": "critical account",
    },
    "purpose": {
        "A40": "new car",
        "A41": "used car",
        "A42": "furniture",
        "A43": "radio/television",
        "A44": "appliances",
        "A45": "repairs",
        "A46": "education",
        "A47": "vacation",
        "A48": "retraining",
        "A49": "business",
        "A410": "other",
    },
    "savings": {
        "A61": "< 100 DM",
        "A62": "100 to 500 DM",
        "A63": "500 to 1000 DM",
        "A64": ">= 1000 DM",
        "A65": "unknown/none",
    },
    "employment_since": {
        "A71": "unemployed",
        "A72": "< 1 year",
        "A73": "1 to 4 years",
        "A74": "4 to 7 years",
        "A75": ">= 7 years",
    },
    "personal_status_sex": {
        "A91": "male: divorced/separated",
        "A92": "female: divorced/separated/married",
        "A93": "male: single",
        "A94": "male: married/widowed",
        "A95": "female: single",
    },
    "other_debtors": {"A101": "none", "A102": "co-applicant", "A103": "guarantor"},
    "property": {
        "A121": "real estate",
        "A122": "savings agreement/life insurance",
        "A123": "car or other",
        "A124": "unknown/none",
    },
    "other_installment_plans": {"A141": "bank", "A142": "stores", "A143": "none"},
    "housing": {"A151": "rent", "A152": "own", "A153": "for free"},
    "job": {
        "A171": "unskilled, non-resident",
        "A172": "unskilled, resident",
        "A173": "skilled",
        "A174": "highly qualified",
    },
    "telephone": {"A191": "none", "A192": "yes"},
    "foreign_worker": {"A201": "yes", "A202": "no"},
}

# The 7 numeric attributes and the range a valid value must lie in.
NUMERIC_RANGES: dict[str, tuple[int, int]] = {
    "duration_months": (1, 120),
    "credit_amount": (1, 1_000_000),  # Deutsche Mark
    "installment_rate": (1, 4),  # installment as a share of disposable income, in 4 bands
    "residence_since": (1, 4),  # years at the present address, in 4 bands
    "age": (18, 100),
    "existing_credits": (1, 10),  # credits already at this bank
    "dependents": (0, 10),  # people the applicant supports
}

# The 20 attributes in the order of the UCI file.
FEATURES = [
    "checking_account",
    "duration_months",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment_since",
    "installment_rate",
    "personal_status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "dependents",
    "telephone",
    "foreign_worker",
]
CATEGORICAL = [f for f in FEATURES if f in CATEGORIES]
NUMERIC = [f for f in FEATURES if f in NUMERIC_RANGES]
# Every category column lists all its possible values, seen in the data or not (nobody asked for a vacation loan).
COLUMN_DTYPES = {
    **{column: pd.CategoricalDtype(list(values.values())) for column, values in CATEGORIES.items()},
    **{column: "int64" for column in NUMERIC},
    TARGET: "int64",
}


@dataclass
class Data:
    """The applicants, split once: what train.py, evaluate.py and tune.py all start from."""

    frame: pd.DataFrame  # every applicant: the decoded, validated file
    splits: dict[str, pd.DataFrame]  # "develop" (cross-validation and the refit), "test" (only evaluate.py)
    files: dict[str, Path]  # the data files read, for the run's checksums


def load(cfg: Config) -> Data:
    """The decoded, validated data, split into development and test applicants.

    With `cfg.data.path` empty this is the canonical UCI file (found locally or downloaded);
    otherwise your own file: UCI format (`.data`, codes) or a `.csv` with our column names.
    The split is stratified and seeded (`cfg.seed`), so evaluate.py finds the same test set.
    """
    if cfg.data.path:
        path = Path(cfg.data.path).expanduser()
        if not path.is_file():
            raise DataError(f"--data {cfg.data.path}: no such file.")
        files = {path.name: path}
    else:
        files = fetch(DATASET)
        path = files["german.data"]
    frame = read_csv(path, separator(cfg.data.separator)) if path.suffix.lower() == ".csv" else read_uci(path)
    check_classes(frame, cfg, path)  # before any fitting: a class too rare for the folds is said here
    develop, test = split(frame, cfg)
    return Data(frame=frame, splits={"develop": develop, "test": test}, files=files)


def read_uci(path: Path) -> pd.DataFrame:
    """Read the UCI file: 21 space-separated fields a line, categories as codes, class 1 = good, 2 = bad."""
    rows = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != len(FEATURES) + 1:
            raise DataError(
                f"{path}, line {line_number}: {len(fields)} fields, expected {len(FEATURES) + 1} (20 attributes and the class)"
            )
        rows.append([line_number, *fields])
    raw = pd.DataFrame(rows, columns=["line", *FEATURES, "class"], dtype=str)
    errors: list[tuple[int, str]] = []  # (line, message)
    for column, codes in CATEGORIES.items():
        unknown = ~raw[column].isin(list(codes))
        errors += [
            (int(n), f"line {n}, column {column}: unknown code {v!r}; expected one of {', '.join(codes)}")
            for n, v in zip(raw.loc[unknown, "line"], raw.loc[unknown, column], strict=True)
        ]
        raw[column] = raw[column].map(codes)
    bad_class = ~raw["class"].isin(["1", "2"])
    errors += [
        (int(n), f"line {n}, column class: {v!r} is not 1 (good) or 2 (bad)")
        for n, v in zip(raw.loc[bad_class, "line"], raw.loc[bad_class, "class"], strict=True)
    ]
    raw[TARGET] = (raw["class"] == "2").astype(int)
    return _finish(raw.drop(columns="class"), errors, path, "line")


def check_classes(frame: pd.DataFrame, cfg: Config, path: Path) -> None:
    """Enough defaulters and payers for the test split and every fold of cross-validation: each fold's
    validation part needs both classes (or ROC AUC and the threshold's cost cannot be measured there)."""
    folds, test_size = cfg.model.cv_folds, cfg.data.test_size
    needed = math.ceil(folds / (1 - test_size)) + 1  # `folds` in the development part, and 1 in the test part
    counts = {
        f"{label} ({name})": int((frame[TARGET] == label).sum()) for label, name in ((0, "repaid"), (1, "defaulted"))
    }
    check_class_counts(
        str(path),
        counts,
        needed,
        f"{folds}-fold cross-validation on the development part and a {test_size:.0%} test split",
        f"or use fewer folds: --set model.cv_folds=2 (then {math.ceil(2 / (1 - test_size)) + 1} of each are enough)",
    )


def read_csv(path: Path, sep: str = ",") -> pd.DataFrame:
    """Read your own CSV: a header with the 20 attribute names and `default` (0/1), readable categories."""
    check_separator(path, sep)  # a ;-separated export is named as such, with the option to pass
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)
    missing = [c for c in [*FEATURES, TARGET] if c not in raw.columns]
    extra = [c for c in raw.columns if c not in [*FEATURES, TARGET]]
    if missing or extra:
        raise DataError(
            f"{path}: missing columns {missing or 'none'}, unexpected columns {extra or 'none'}. "
            f"Expected exactly: {', '.join([*FEATURES, TARGET])}"
        )
    raw.insert(0, "line", [str(i) for i in range(2, len(raw) + 2)])  # line 1 is the header
    errors: list[tuple[int, str]] = []  # (line, message)
    for column, codes in CATEGORIES.items():
        unknown = ~raw[column].isin(list(codes.values()))
        errors += [
            (int(n), f"row {n}, column {column}: unknown value {v!r}; expected one of {', '.join(codes.values())}")
            for n, v in zip(raw.loc[unknown, "line"], raw.loc[unknown, column], strict=True)
        ]
    bad_target = ~raw[TARGET].isin(["0", "1"])
    errors += [
        (int(n), f"row {n}, column {TARGET}: {v!r} is not 0 (repaid) or 1 (defaulted)")
        for n, v in zip(raw.loc[bad_target, "line"], raw.loc[bad_target, TARGET], strict=True)
    ]
    raw[TARGET] = pd.to_numeric(raw[TARGET], errors="coerce")
    return _finish(raw, errors, path, "row")


def _finish(raw: pd.DataFrame, errors: list[tuple[int, str]], path: Path, unit: str) -> pd.DataFrame:
    """Check the numeric columns, raise every problem found at once, and type the columns."""
    for column, (low, high) in NUMERIC_RANGES.items():
        values = pd.to_numeric(raw[column], errors="coerce")
        bad = values.isna() | (values < low) | (values > high) | (values != values.round())
        errors += [
            (int(n), f"{unit} {n}, column {column}: {v!r} is not a whole number from {low} to {high}")
            for n, v in zip(raw.loc[bad, "line"], raw.loc[bad, column], strict=True)
        ]
        raw[column] = values
    if errors:
        errors.sort(key=lambda error: error[0])  # (line, message): in file order, each line's columns as found
        shown = "\n  ".join(message for _, message in errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise DataError(f"{path}: {len(errors)} invalid value(s):\n  {shown}{more}")
    if raw.empty:
        raise DataError(f"{path}: no rows.")
    return to_frame(raw.drop(columns="line"))


def to_frame(records: pd.DataFrame | list[dict]) -> pd.DataFrame:
    """Type the columns the way the model expects: fixed category sets, integer numbers."""
    frame = pd.DataFrame(records).reset_index(drop=True)
    return frame.astype({c: COLUMN_DTYPES[c] for c in frame.columns if c in COLUMN_DTYPES})


def split(frame: pd.DataFrame, cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified split into the development part (train and validate) and the held-out test part.

    Same seed, same split: evaluate.py relies on it to find the test part again.
    """
    return train_test_split(frame, test_size=cfg.data.test_size, stratify=frame[TARGET], random_state=cfg.seed)


def reference(frame: pd.DataFrame, scores: np.ndarray, threshold: float) -> dict:
    """What the model learned from, as plain numbers, saved with the run (reference.json): the range, quantiles
    and values of each number, the count of each category, the default rate, the out-of-fold scores and the
    approval rate of each group at the threshold. Serving warns about applicants outside it; drift monitoring
    (monitor.py) compares traffic with it."""
    quantiles = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1]
    groups = sensitive_features(frame)
    approved = pd.Series(scores < threshold, index=frame.index)
    return {
        "rows": len(frame),
        "default_rate": float(frame[TARGET].mean()),
        "numeric": {
            column: {
                "min": int(frame[column].min()),
                "max": int(frame[column].max()),
                "quantiles": dict(zip(map(str, quantiles), frame[column].quantile(quantiles).tolist(), strict=True)),
            }
            for column in NUMERIC
        },  # fmt: skip
        "categories": {column: frame[column].astype(str).value_counts().to_dict() for column in CATEGORIES},
        "sensitive": {column: groups.value_counts().to_dict() for column, groups in sensitive_features(frame).items()},
        "score_quantiles": np.quantile(scores, np.linspace(0, 1, 11)).tolist(),  # P(default) deciles, out of fold
        # for the monitor's PSI and KS tests: the training values themselves (a public dataset; for your own
        # applicants' data, a sample of them is personal data too: keep the run folder as private as the log)
        "values": {column: frame[column].astype(int).tolist() for column in NUMERIC},
        "scores": np.round(scores, 4).tolist(),  # out-of-fold P(default) of every training applicant
        "threshold": float(threshold),
        "approval_rate": {
            column: {
                group: float(approved[members.index].mean())
                for group, members in groups[column].groupby(groups[column])
            }
            for column in groups.columns
        },  # fmt: skip
    }


def sensitive_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The groups of the fairness report: sex (from personal status) and age under 25 or not."""
    sex = frame["personal_status_sex"].astype(str).str.split(":").str[0]
    age_group = pd.Series(["under 25" if a < 25 else "25 and over" for a in frame["age"]], index=frame.index)
    return pd.DataFrame({"sex": sex, "age_group": age_group})


def features(frame: pd.DataFrame, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """The model's input: the attribute columns, less any the config drops."""
    unknown = [c for c in drop if c not in FEATURES]
    if unknown:
        raise DataError(f"data.drop_features names unknown attributes {unknown}; attributes: {', '.join(FEATURES)}")
    return frame[[c for c in FEATURES if c not in drop]]
