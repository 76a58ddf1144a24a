"""The training loop every PyTorch project shares: epochs, early stopping, the best weights kept, resume.

A project writes the parts that carry its ideas (the network, the loss of one batch, the
validation metrics) and hands them to `fit`:

    def loss_fn(model, batch):                  # one batch (already on the device) -> scalar loss
        x, y = batch
        return F.binary_cross_entropy_with_logits(model(x), y)

    def validate(model) -> dict[str, float]:    # after every epoch, in eval mode, without gradients
        return {"val_accuracy": ..., "val_loss": ...}

    result = training.fit(model, optimizer, train_loader, loss_fn, validate,
                          epochs=20, monitor="val_accuracy", patience=3, device=device)
    model.load_state_dict(result.best_state)

What `fit` adds:
- a progress bar over each epoch's batches with the running loss, then one line of validation metrics;
- early stopping: stop after `patience` epochs in a row without a better `monitor` value;
- the best epoch's weights, *copied*: a reference to `model.state_dict()` would keep changing
  as training goes on, and the "best" model would silently be the last one;
- `checkpoint=Checkpoint.for_run(...)` (see `mlstarter.checkpoints`): after every epoch, the whole
  state (model, optimizer, scheduler, gradient scaler, random number generators, history, best
  weights) is written atomically; after `checkpoint.start(resume=True)` found one, `fit` goes on
  from it as if training had never stopped;
- mixed precision on CUDA when asked (`amp=True`); CPU and MPS train in float32;
- several processes (torchrun, see `mlstarter.distributed`): pass the model wrapped in DDP and a
  loader from `distributed.shuffled_loader`; `fit` reshuffles each process's share every epoch,
  averages the training loss over the processes, and lets only rank 0 print and checkpoint;
  `validate` gets the network inside DDP;
- `on_epoch(epoch, metrics)` after every epoch, e.g. to let a hyperparameter search stop a
  hopeless trial early (it may raise to end training).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from tqdm import tqdm

from . import distributed
from .checkpoints import Checkpoint
from .devices import to_device

OnEpoch = Callable[[int, dict[str, float]], None]  # on_epoch(epoch, validation metrics), after every epoch


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]  # a copy of the weights at the best epoch
    best_epoch: int  # 1-based
    best_score: float  # the monitored metric at the best epoch
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch: train_loss, metrics, seconds
    stopped_early: bool = False


def train_one_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    device: torch.device,
    scaler: torch.amp.GradScaler,
    *,
    amp: bool = False,
    max_grad_norm: float | None = None,
    desc: str = "",
    progress: bool = True,
) -> float:
    """One pass over the training batches; returns the mean loss."""
    model.train()
    total, count = 0.0, 0
    # disable=None: no bar when the output is not a terminal (CI logs, `| tee`), only the per-epoch lines
    bar = tqdm(batches, desc=desc, unit="batch", leave=False, disable=None if progress else True)
    for batch in bar:
        batch = to_device(batch, device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            loss = loss_fn(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the training loss became {loss.item()}: lower the learning rate")
        scaler.scale(loss).backward()  # with amp, the loss is scaled up so small float16 gradients survive
        if max_grad_norm is not None:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        total, count = total + loss.item(), count + 1
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    train_batches: Iterable,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    validate: Callable[[torch.nn.Module], dict[str, float]],
    *,
    epochs: int,
    monitor: str,
    mode: Literal["max", "min"] = "max",
    patience: int | None = None,
    device: torch.device,
    scheduler: Any = None,
    checkpoint: Checkpoint | None = None,
    amp: bool = False,
    max_grad_norm: float | None = None,
    progress: bool = True,
    on_epoch: OnEpoch | None = None,
) -> FitResult:
    """Train for up to `epochs` epochs, keeping the weights of the epoch with the best `monitor`.

    `scheduler` (if any) steps once per epoch. With `checkpoint` set, every epoch's state is
    saved there; if its `start` found a state to resume, training continues from it (the same
    epochs, history and best weights as if training had never stopped). `model` may be wrapped in DDP; the weights kept and
    checkpointed are those of the network inside.
    """
    model.to(device)
    network = distributed.unwrap(model)  # what validate() scores and whose weights are kept
    main = distributed.is_main()  # rank 0 (or the only process) prints and checkpoints
    progress = progress and main
    sampler = getattr(train_batches, "sampler", None)
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    result = FitResult(best_state={}, best_epoch=0, best_score=math.nan)
    stale = 0  # epochs since the last improvement
    start = 1
    generator = getattr(train_batches, "generator", None)  # a DataLoader's shuffling generator, if it has one
    if checkpoint is not None and checkpoint.resuming:
        state = checkpoint.load(device, generator)
        network.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        if scheduler is not None and state["scheduler_state"] is not None:
            scheduler.load_state_dict(state["scheduler_state"])
        scaler.load_state_dict(state["scaler_state"])
        result.best_state, result.best_epoch, result.best_score = (
            state["best_state"], state["best_epoch"], state["best_score"])  # fmt: skip
        result.history, start, stale = state["history"], state["epoch"] + 1, state["stale"]
        if patience is not None and stale >= patience:  # the interrupted run had already stopped early
            result.stopped_early = True
            return result
        if main:
            print(f"Resuming from {checkpoint.folder} at epoch {start} (best so far: epoch {result.best_epoch})")

    for epoch in range(start, epochs + 1):
        began = time.perf_counter()
        if hasattr(sampler, "set_epoch"):  # a DistributedSampler: a new shuffle, and new shares, every epoch
            sampler.set_epoch(epoch)
        train_loss = train_one_epoch(
            model,
            optimizer,
            train_batches,
            loss_fn,
            device,
            scaler,
            amp=use_amp,
            max_grad_norm=max_grad_norm,
            desc=f"epoch {epoch}/{epochs}",
            progress=progress,
        )
        train_loss = distributed.mean(train_loss, device)  # over all processes' batches
        network.eval()
        with torch.no_grad():
            metrics = validate(network)
        if monitor not in metrics:
            raise KeyError(f"validate() returned {sorted(metrics)}, which lacks the monitored metric {monitor!r}")
        score = distributed.mean(float(metrics[monitor]), device)  # one score for all processes: they stop together
        if _better(score, result.best_score, mode):
            result.best_score, result.best_epoch, stale = score, epoch, 0
            result.best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            stale += 1
        row = {"epoch": epoch, "train_loss": train_loss, **metrics, "seconds": time.perf_counter() - began}
        result.history.append(row)
        if scheduler is not None:
            scheduler.step()
        if progress:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            mark = "  *best*" if stale == 0 else ""
            tqdm.write(f"epoch {epoch:3d}  train_loss {train_loss:.4f}  {shown}  ({row['seconds']:.1f}s){mark}")
        if checkpoint is not None:  # rank 0 writes it
            checkpoint.save(
                {
                    "epoch": epoch,
                    "stale": stale,
                    "model_state": network.state_dict(),
                    "optimizer_state": optimizer.state_dict(),
                    "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
                    "scaler_state": scaler.state_dict(),
                    "best_state": result.best_state,
                    "best_epoch": result.best_epoch,
                    "best_score": result.best_score,
                    "history": result.history,
                },
                generator,
            )
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if patience is not None and stale >= patience:
            result.stopped_early = True
            if progress:
                tqdm.write(
                    f"Early stop: {monitor} has not improved for {patience} epochs (best: epoch {result.best_epoch})"
                )
            break
    return result


def _better(score: float, best: float, mode: str) -> bool:
    if math.isnan(score):
        return False
    if math.isnan(best):
        return True
    return score > best if mode == "max" else score < best
