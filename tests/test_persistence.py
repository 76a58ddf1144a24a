from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from mlstarter import persistence


def test_sklearn_round_trip(tmp_path: Path):
    X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
    model = LogisticRegression().fit(X, y)
    persistence.save_sklearn(model, tmp_path / "m.skops")
    loaded = persistence.load_sklearn(tmp_path / "m.skops", trusted=[])
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_types_outside_the_trusted_list_are_refused(tmp_path: Path):
    X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
    persistence.save_sklearn(HistGradientBoostingClassifier(max_iter=5).fit(X, y), tmp_path / "m.skops")
    with pytest.raises(persistence.UntrustedModelError, match="TreePredictor"):
        persistence.load_sklearn(tmp_path / "m.skops", trusted=[])


def test_torch_checkpoint_round_trip(tmp_path: Path):
    net = torch.nn.Linear(3, 2)
    persistence.save_torch(tmp_path / "c.pt", net.state_dict(), config={"lr": 0.1}, metrics={"val_auc": 0.9})
    checkpoint = persistence.load_torch(tmp_path / "c.pt")
    fresh = torch.nn.Linear(3, 2)
    fresh.load_state_dict(checkpoint["model_state"])
    assert torch.equal(fresh.weight, net.weight) and checkpoint["config"] == {"lr": 0.1}


class Exploit:
    def __reduce__(self):
        return (print, ("this would have run arbitrary code",))


def test_a_malicious_torch_file_is_refused(tmp_path: Path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        torch.save({"model_state": Exploit()}, f, pickle_module=pickle)
    with pytest.raises(persistence.UntrustedModelError, match="holds more than tensors and plain data"):
        persistence.load_torch(path)
