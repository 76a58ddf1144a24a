"""Fixtures of the credit-risk tests. `runs_dir` and `train_run` come from mlstarter's pytest
plugin (mlstarter.testing); these are the project's own: the data and full-size models.

These tests live inside the project folder, so they travel with a copy of it.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mlstarter import runs, testing

from .. import data
from ..config import Config


@pytest.fixture(scope="session")
def applicants() -> data.Data:
    """The full German Credit data, split as train.py splits it (shipped in datasets/german_credit/: offline)."""
    return data.load(Config())


@pytest.fixture(scope="session")
def frame(applicants: data.Data) -> pd.DataFrame:
    return applicants.frame


@pytest.fixture(scope="session")
def splits(applicants: data.Data) -> tuple[pd.DataFrame, pd.DataFrame]:
    return applicants.splits["develop"], applicants.splits["test"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, runs.Run]:
    """Models of every kind trained on all the development data, shared by the behaviour tests. The behaviours
    do not depend on how the hyperparameters were chosen, so the search is smaller than train.py's default
    (3 folds, one candidate): seconds, not the half minute the default blend's 40 fits take."""
    quick = ["--set", "model.cv_folds=3", "--set", "model.logistic_c=0.3", "--set", "model.boosting_learning_rate=0.05"]
    mp = pytest.MonkeyPatch()
    models = {}
    for kind in ("logistic", "boosting", "blend"):
        mp.setenv("MLSTARTER_RUNS_DIR", str(tmp_path_factory.mktemp(kind)))
        models[kind] = testing.train(__package__, "--set", f"model.kind={kind}", *quick)
    mp.undo()
    return models
