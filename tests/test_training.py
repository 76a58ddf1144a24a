"""The shared PyTorch training loop: best weights copied, early stopping, exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mlstarter import devices, runs, training
from mlstarter.checkpoints import Checkpoint

torch.manual_seed(0)
X = torch.randn(64, 3)
Y = (X @ torch.tensor([1.0, -2.0, 0.5]) > 0).float()
BATCHES = [(X[i : i + 16], Y[i : i + 16]) for i in range(0, 64, 16)]  # fixed order: runs are reproducible


def loss_fn(model, batch):
    x, y = batch
    return F.binary_cross_entropy_with_logits(model(x).squeeze(1), y)


def validate(model):
    with torch.no_grad():
        return {"val_loss": float(loss_fn(model, (X, Y)))}


def make(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return model, optimizer, scheduler


def train(epochs: int, **kwargs):
    model, optimizer, scheduler = make()
    result = training.fit(
        model,
        optimizer,
        BATCHES,
        loss_fn,
        validate,
        epochs=epochs,
        monitor="val_loss",
        mode="min",
        device=torch.device("cpu"),
        scheduler=scheduler,
        progress=False,
        **kwargs,
    )
    return model, result


def test_training_lowers_the_loss_and_keeps_a_copy_of_the_best_weights():
    model, result = train(6)
    losses = [row["val_loss"] for row in result.history]
    assert losses[-1] < losses[0] / 2
    assert result.best_score == min(losses) and result.best_epoch == losses.index(min(losses)) + 1
    best = {k: v.clone() for k, v in result.best_state.items()}
    with torch.no_grad():
        model.weight.add_(10.0)  # training goes on: the kept best weights must not move
    assert all(torch.equal(best[k], result.best_state[k]) for k in best)


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    scores = iter([0.5, 0.7, 0.6, 0.65, 0.69, 0.9])
    model, optimizer, _ = make()
    result = training.fit(
        model,
        optimizer,
        BATCHES,
        loss_fn,
        lambda m: {"val_accuracy": next(scores)},
        epochs=6,
        monitor="val_accuracy",
        patience=3,
        device=torch.device("cpu"),
        progress=False,
    )
    assert result.stopped_early and len(result.history) == 5 and result.best_epoch == 2


def fresh(folder: Path) -> Checkpoint:
    checkpoint = Checkpoint(folder / "checkpoint")
    checkpoint.start(resume=False)
    return checkpoint


def resuming(folder: Path) -> Checkpoint:
    checkpoint = Checkpoint(folder / "checkpoint")
    assert checkpoint.start(resume=True)
    return checkpoint


def test_an_interrupted_run_resumes_exactly_where_it_stopped(tmp_path: Path):
    _, whole = train(5)
    train(2, checkpoint=fresh(tmp_path))  # "interrupted" after epoch 2
    model, resumed = train(5, checkpoint=resuming(tmp_path))
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4, 5]
    for a, b in zip(whole.history, resumed.history, strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)
    assert resumed.best_epoch == whole.best_epoch
    assert not list(tmp_path.rglob(".*partial"))


def test_a_missing_monitored_metric_is_named():
    model, optimizer, _ = make()
    with pytest.raises(KeyError, match="lacks the monitored metric 'val_auc'"):
        training.fit(
            model,
            optimizer,
            BATCHES,
            loss_fn,
            validate,
            epochs=1,
            monitor="val_auc",
            device=torch.device("cpu"),
            progress=False,
        )


def test_device_choice():
    assert devices.choose_device("cpu").type == "cpu"
    assert devices.choose_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):  # ConfigError is a ValueError
            devices.choose_device("cuda")


def test_resume_is_exact_with_shuffling_and_dropout(tmp_path: Path):
    """Shuffled batches and random dropout: the generators' states must travel with the checkpoint."""
    dataset = torch.utils.data.TensorDataset(X, Y)

    def run(epochs: int, **kwargs):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Dropout(0.3), torch.nn.Linear(3, 1))
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(1)
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        return training.fit(
            model, optimizer, loader, loss_fn, validate, epochs=epochs, monitor="val_loss", mode="min",
            device=torch.device("cpu"), progress=False, **kwargs,
        )  # fmt: skip

    whole = run(4)
    run(2, checkpoint=fresh(tmp_path))
    torch.manual_seed(123)  # whatever happened in between must not matter
    resumed = run(4, checkpoint=resuming(tmp_path))
    assert [r["val_loss"] for r in resumed.history] == pytest.approx([r["val_loss"] for r in whole.history], rel=1e-6)


def test_resuming_a_run_that_had_stopped_early_trains_no_more(tmp_path: Path):
    scores = iter([0.9, 0.5, 0.5])
    model, optimizer, _ = make()
    kwargs = dict(epochs=10, monitor="val_accuracy", patience=2, device=torch.device("cpu"), progress=False)
    first = training.fit(
        model,
        optimizer,
        BATCHES,
        loss_fn,
        lambda m: {"val_accuracy": next(scores)},
        checkpoint=fresh(tmp_path),
        **kwargs,
    )
    assert first.stopped_early and len(first.history) == 3
    again = training.fit(model, optimizer, BATCHES, loss_fn, lambda m: 1 / 0, checkpoint=resuming(tmp_path), **kwargs)
    assert again.stopped_early and len(again.history) == 3 and again.best_epoch == 1


def test_a_checkpoint_folder_is_named_by_the_settings_and_removed_when_done(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "runs"))
    cfg = {"seed": 0}

    @__import__("dataclasses").dataclass
    class Cfg:
        seed: int = 0

    a = Checkpoint.for_run("demo", Cfg(), dry_run=False)
    assert a.folder.parent == tmp_path / "runs" / ".demo-checkpoints"  # beside the runs, never one of them
    assert a.folder != Checkpoint.for_run("demo", Cfg(seed=1), dry_run=False).folder
    assert a.folder != Checkpoint.for_run("demo", Cfg(), dry_run=True).folder
    assert not a.start(resume=True) and "starting from epoch 1" in capsys.readouterr().out
    a.save({"epoch": 1, "cfg": cfg})
    assert Checkpoint(a.folder).start(resume=True) and Checkpoint(a.folder).load()["epoch"] == 1
    assert not Checkpoint(a.folder).start(resume=False)  # without --resume: said, and cleared
    assert "starting over (add --resume to continue it)" in capsys.readouterr().out and not a.folder.exists()
    a.save({"epoch": 2})
    a.finish()
    assert not a.folder.parent.exists() and runs.complete_runs("demo") == []
