"""Fixtures for the time-series tests. They live inside the project folder, so they travel with a copy of it
(`runs_dir` and `train_run` come from the core's pytest plugin, mlstarter.testing).

Most tests use the S&P 500 series that ships with `arch` (always available offline) or a
generated price file (`prices_csv`): a random walk with GARCH volatility, in the layout of a
ticker history export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def simulated_prices(n: int, seed: int = 0, phi: float = 0.0) -> pd.DataFrame:
    """n business days of prices whose daily returns (percent) follow AR(1) coefficient phi with
    GARCH(1,1) volatility: sigma^2_t = 0.05 + 0.08 r^2_t-1 + 0.9 sigma^2_t-1."""
    rng = np.random.default_rng(seed)
    r, var, prev = np.empty(n), 1.0, 0.0
    for t in range(n):
        var = 0.05 + 0.08 * prev**2 + 0.9 * var
        prev = phi * prev + np.sqrt(var) * rng.standard_normal()
        r[t] = prev
    close = 100 * np.exp(np.cumsum(r) / 100)
    dates = pd.bdate_range("2010-01-04", periods=n)
    spread = np.abs(r) / 100 + 0.005
    return pd.DataFrame(
        {"Date": dates.strftime("%Y-%m-%d"), "High": close * (1 + spread), "Low": close * (1 - spread), "Close": close}
    )


@pytest.fixture(scope="session")
def prices_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prices") / "prices.csv"
    simulated_prices(700).to_csv(path, index=False)
    return path
