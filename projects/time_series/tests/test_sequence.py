"""The opt-in sequence models (lstm, gru) and the price-level trap: the network's shapes, that it can learn at all,
that a backtest with it repeats exactly, that its settings are checked, and the trap's lesson."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from mlstarter import training
from mlstarter.config import ConfigError, apply_overrides

from .. import backtest, evaluate, price_trap, sequence, train
from ..config import Config
from ..train import DRY_RUN_OVERRIDES
from .conftest import simulated_prices

# the dry run's backtest with both sequence models, as small as they come: seconds, not minutes
TINY = [
    "model.returns=naive,drift,lstm,gru",
    "serve.returns=drift",
    "sequence.length=10",
    "sequence.hidden_size=8",
    "sequence.epochs=2",
]


@pytest.fixture(autouse=True)
def one_thread():
    """Torch on one thread, as the backtest trains: on a busy machine two threads wait for each other."""
    with threadpool_limits(limits=1):
        yield


def returns_of(frame: pd.DataFrame) -> pd.Series:
    return np.log(frame.set_index(pd.DatetimeIndex(frame.Date)).Close).diff().iloc[1:].mul(100).rename("return")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_network_maps_sequences_to_one_forecast_per_horizon(cell: str):
    net = sequence.SequenceNet(n_features=12, n_outputs=2, cell=cell, hidden_size=16, layers=2, dropout=0.1)
    assert net(torch.zeros(5, 21, 12)).shape == (5, 2)  # (B, T, F) -> (B, n_horizons)
    assert isinstance(net.rnn, torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)


def test_windows_hold_the_days_up_to_each_end_only():
    X = np.arange(10.0)[:, None] * [1, 10]  # (10 days, 2 features)
    w = sequence.windows(X, np.array([3, 9]), length=3)
    assert w.shape == (2, 3, 2)
    assert w[0, :, 0].tolist() == [1, 2, 3] and w[1, :, 1].tolist() == [70, 80, 90]


def test_the_network_can_overfit_a_few_sequences():
    """Eight random sequences with random targets: a network that learns at all drives its loss near 0."""
    torch.manual_seed(0)
    x, y = torch.randn(8, 10, 3), torch.randn(8, 2)
    net = sequence.SequenceNet(3, 2, "lstm", hidden_size=32)

    def loss_fn(model, batch):
        return F.mse_loss(model(batch[0]), batch[1])

    result = training.fit(
        net,
        torch.optim.Adam(net.parameters(), lr=3e-2),
        [(x, y)],  # one batch per epoch
        loss_fn,
        lambda model: {"train_loss": F.mse_loss(model(x), y).item()},
        epochs=100,
        monitor="train_loss",
        mode="min",
        device=torch.device("cpu"),
        progress=False,
    )
    assert result.history[0]["train_loss"] > 0.5 and result.best_score < 1e-3


def test_a_backtest_with_the_sequence_models_repeats_exactly_for_a_seed():
    """There is no --resume inside a refit (each trains in seconds): rerunning gives the same forecasts instead.
    Another seed gives other ones, so the test can see a difference."""
    r = returns_of(simulated_prices(600, seed=4))
    cfg = apply_overrides(Config(), [*DRY_RUN_OVERRIDES, *TINY, "model.returns=naive,lstm", "serve.returns=naive"])
    origins, _ = backtest.origins(len(r), cfg)
    seconds: dict[str, float] = {}
    first = backtest.run_returns(r, cfg, origins, progress=lambda _: None, seconds=seconds)
    again = backtest.run_returns(r, cfg, origins, progress=lambda _: None)
    pd.testing.assert_frame_equal(first, again)
    assert set(seconds) == {"naive", "lstm"}

    other = backtest.run_returns(r, apply_overrides(cfg, ["seed=7"]), origins, progress=lambda _: None)
    lstm = first.model == "lstm"
    assert not np.allclose(first.loc[lstm, "forecast"], other.loc[lstm, "forecast"])
    assert set(first.model) == {"naive", "lstm"} and first.forecast.notna().all()


def test_the_sequence_models_refit_on_their_own_schedule():
    cfg = apply_overrides(Config(), ["backtest.refit_every=21", "sequence.refit_every=63"])
    origins = np.arange(1000, 1200)
    assert len(backtest.refit_blocks(origins, cfg)) == 10  # every 21 origins
    assert len(backtest.refit_blocks(origins, cfg, cfg.sequence.refit_every)) == 4  # every 63
    assert Config().model.returns == ("naive", "drift", "mean", "linear", "boosting", "arima")  # opt-in only


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.returns=naive,lstm,transformer", r"takes names from naive, .*arima, lstm, gru.*got naive, lstm, trans"),
        ("sequence.hidden_size=0", "sequence.hidden_size must be at least 1"),
        ("sequence.val_share=0.7", r"sequence.val_share .* in \(0, 0.5\)"),
        ("sequence.dropout=1", r"sequence.dropout must be in \[0, 1\)"),
        ("price_trap.length=1", "price_trap.length is the prices each window holds"),
    ],
)
def test_bad_sequence_settings_are_clear_errors(override: str, message: str):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Config(), [override])


def test_a_dry_run_with_the_sequence_models_reaches_the_model_card(runs_dir: Path, train_run):
    run = train_run(
        "--dry-run",
        *[arg for item in TINY for arg in ("--set", item)],
        "--set",
        "volatility.models=historical,ewma",  # no GARCH fits: this test is about the return models
        "--set",
        "volatility.serve=ewma",
    )
    assert {"backtest_seconds_lstm", "backtest_seconds_gru"} <= set(run.metrics)
    assert evaluate.main([]) == 0
    card = (run.path / "MODEL_CARD.md").read_text()
    assert "| 1 | lstm |" in card and "| 5 | gru |" in card and "lstm and gru: every 30 days" in card
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert {"test_h1_lstm_mase", "test_h5_gru_dm_p"} <= set(metrics)


def test_the_price_level_trap(runs_dir: Path, prices_csv: Path, capsys: pytest.CaptureFixture):
    """The lesson, on 700 simulated prices: trained on price levels, the LSTM's price plot looks excellent
    (R^2 above 0.9), yet as a return forecast it is no better than the random walk it learned to copy."""
    settings = ["price_trap.length=20", "price_trap.test_share=0.2", "sequence.learning_rate=0.01"]
    args = ["--data", str(prices_csv), "--set", "data.price_column=Close"]
    assert price_trap.main([*args, *[a for s in settings for a in ("--set", s)]]) == 0
    assert "it learned to copy yesterday's price" in capsys.readouterr().out

    folder = runs_dir / f"{train.PROJECT}-price-trap"
    assert {"report.md", "results.json", "plots"} <= {p.name for p in folder.iterdir()}
    assert {p.name for p in (folder / "plots").iterdir()} == {"price_vs_actual.png", "copying.png"}
    scores = json.loads((folder / "results.json").read_text())["scores"]
    assert scores["r2_price"] > 0.9  # what the tutorials' plot shows
    assert scores["r2_price"] < scores["r2_price_random_walk"] + 0.01  # ... and what copying P_t scores anyway
    assert scores["mase"] > 0.95  # no better than the random walk on returns
    assert not (scores["dm_difference"] < 0 and scores["dm_p"] < 0.05)  # not significantly better either
    assert "R² of the predicted price" in (folder / "report.md").read_text()
