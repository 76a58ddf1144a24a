"""The opt-in sequence models: an LSTM (or a GRU) that reads the last days and forecasts the next days' returns.

    $ make train PROJECT=time_series ARGS="--set model.returns=naive,drift,mean,linear,boosting,arima,lstm,gru"
    $ python -m projects.time_series.train --dry-run --set model.returns=naive,drift,lstm,gru

To the backtest a sequence model is one more `ReturnModel` (model.py): `fit` on the fitting window at a
refit origin, then `forecast_block` at each origin from the days up to it only. Inside:

1. inputs: at each day t, the features of days t-length+1 .. t (`model.features`: lagged returns,
   momentum, volatility, the calendar), a (length, F) sequence; targets: the next h days' return for
   every horizon h (`model.horizon_sums`, the same direct targets the regressions fit);
2. standardise both with the fitting window's own means and standard deviations, z = (x - mean) / sd:
   no later day enters them;
3. split the window in time: its last `sequence.val_share` validates, after a gap of max(h) days, so
   that no training target covers a day a validation target covers;
4. train with the core loop `mlstarter.training.fit`: Adam on the mean squared error, early stopping on
   the validation loss, the best epoch's weights kept. Seeded: the same days give the same network.

Refits cost seconds here, not milliseconds, so the backtest refits these models every
`sequence.refit_every` origins (a quarter) instead of every `backtest.refit_every`. There is no
--resume inside a refit: one trains in seconds, and a rerun with the same seed repeats it exactly
(tests/test_sequence.py reruns a backtest and compares).

price_trap.py trains the same network on price levels instead, and shows what goes wrong.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mlstarter import training
from mlstarter.datasets import DataError
from mlstarter.devices import choose_device

from .config import SequenceConfig
from .model import ReturnModel, horizon_sums

MIN_SEQUENCES = 100  # fewer training sequences than this cannot train even a small network


class SequenceNet(nn.Module):
    """A recurrent network over a sequence of days, one output per target (per horizon).

    An LSTM carries a state from day to day; gates learn what to add to it and what to forget
    (c_t = f_t * c_t-1 + i_t * g_t, h_t = o_t * tanh(c_t)). A GRU does the same with two gates
    and one state. The forecast reads the state after the last day, the origin."""

    def __init__(
        self, n_features: int, n_outputs: int, cell: str, hidden_size: int, layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        recurrent = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        between_layers = dropout if layers > 1 else 0.0  # torch applies it between stacked layers only
        self.rnn = recurrent(n_features, hidden_size, num_layers=layers, batch_first=True, dropout=between_layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(x)  # (B, T, F) -> (B, T, H): the state after each day
        last = states[:, -1]  # (B, T, H) -> (B, H): the state after the last day
        return self.head(self.dropout(last))  # (B, H) -> (B, n_horizons)


def build_network(cfg: SequenceConfig, cell: str, n_features: int, n_outputs: int, seed: int) -> SequenceNet:
    """A fresh network whose first weights come from `seed`: every refit starts from the same ones."""
    torch.manual_seed(seed)
    return SequenceNet(n_features, n_outputs, cell, cfg.hidden_size, cfg.layers, cfg.dropout)


def windows(X: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """(days, F) rows -> (len(ends), length, F) sequences: for each end day t, the rows t-length+1 .. t."""
    return X[ends[:, None] + np.arange(1 - length, 1)]  # index (n, 1) + (1, T) -> (n, T)


def train_network(
    network: SequenceNet, inputs: np.ndarray, targets: np.ndarray, cfg: SequenceConfig, seed: int, gap: int = 0
) -> training.FitResult:
    """Fit the network to (n, T, F) inputs and (n, k) targets, in time order, and keep its best weights.

    The last `cfg.val_share` of the sequences validate; the `gap` sequences before them are left out.
    The training batches are shuffled by a generator seeded with `seed`."""
    device = choose_device(cfg.device)
    x, y = torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(targets, dtype=torch.float32)
    n_val = max(1, round(len(x) * cfg.val_share))
    n_train = len(x) - n_val - gap
    batches = DataLoader(
        TensorDataset(x[:n_train], y[:n_train]),
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    x_val, y_val = x[-n_val:].to(device), y[-n_val:].to(device)

    def loss_fn(net: SequenceNet, batch) -> torch.Tensor:
        x_batch, y_batch = batch
        return F.mse_loss(net(x_batch), y_batch)  # mean over the batch and the outputs of (y^ - y)^2

    def validate(net: SequenceNet) -> dict[str, float]:
        return {"val_loss": F.mse_loss(net(x_val), y_val).item()}

    optimizer = torch.optim.Adam(network.parameters(), lr=cfg.learning_rate)
    # One thread: a network this small gains nothing from a second, and on a busy 2-core machine two threads
    # waiting for each other made a fit 8 to 36 times slower (7.8 s against 62 s for the LSTM's first refit).
    with threadpool_limits(limits=1):
        result = training.fit(
            network,
            optimizer,
            batches,
            loss_fn,
            validate,
            epochs=cfg.epochs,
            monitor="val_loss",
            mode="min",
            patience=cfg.patience,
            device=device,
            progress=False,  # one refit of many: the backtest prints a line per model instead
        )
    network.load_state_dict(result.best_state)  # the best epoch's weights, not the last epoch's
    network.eval()  # dropout off for forecasting
    return result


class SequenceModel(ReturnModel):
    """`lstm` or `gru` as a return model: fitted at each refit origin, forecasting every horizon at once."""

    def __init__(self, cell: str, cfg: SequenceConfig, seed: int) -> None:
        self.name, self.cfg, self.seed = cell, cfg, seed

    def fit(self, r: np.ndarray, X: np.ndarray, horizons: tuple[int, ...]) -> SequenceModel:
        self.horizons, length = np.array(horizons), self.cfg.length
        Y = np.column_stack([horizon_sums(r, h) for h in horizons])  # (days, n horizons); NaN: not known yet
        has_features = np.isfinite(X).all(axis=1)  # the first 63 days of a series lack the longest feature
        # the usable sequences: every one of its `length` days has features, and every target is known
        whole = np.convolve(has_features, np.ones(length), mode="valid") == length  # whole[i]: days i .. i+length-1
        ends = np.arange(length - 1, len(r))[whole & np.isfinite(Y[length - 1 :]).all(axis=1)]
        if len(ends) < MIN_SEQUENCES:
            raise DataError(
                f"The {self.name} model's fitting window holds {len(ends)} usable sequences of {length} days, "
                f"fewer than {MIN_SEQUENCES}: lower sequence.length or raise backtest.min_train_days."
            )
        # standardise with this window's statistics only: z = (x - mean) / sd
        self.x_mean, x_sd = X[has_features].mean(axis=0), X[has_features].std(axis=0)
        self.x_sd = np.where(x_sd > 0, x_sd, 1.0)  # a feature constant in the window stays 0
        self.y_mean, self.y_sd = Y[ends].mean(axis=0), Y[ends].std(axis=0)
        inputs = windows((X - self.x_mean) / self.x_sd, ends, length)  # (n, T, F)
        targets = (Y[ends] - self.y_mean) / self.y_sd  # (n, n horizons)
        self.network = build_network(self.cfg, self.name, X.shape[1], len(horizons), self.seed)
        self.result = train_network(self.network, inputs, targets, self.cfg, self.seed, gap=int(max(horizons)))
        return self

    def forecast_block(self, r: np.ndarray, X: np.ndarray, origins: np.ndarray) -> np.ndarray:
        inputs = windows((X - self.x_mean) / self.x_sd, origins, self.cfg.length)  # days t-length+1 .. t only
        x = torch.as_tensor(inputs, dtype=torch.float32, device=choose_device(self.cfg.device))
        with torch.no_grad():
            z = self.network(x).cpu().numpy()  # (n origins, n horizons), standardised
        return z * self.y_sd + self.y_mean  # back to percent: y = z * sd + mean
