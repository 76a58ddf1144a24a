"""Data-parallel training in several processes, with PyTorch's DistributedDataParallel (DDP).

    $ make train PROJECT=medical_imaging NPROC=2
    $ torchrun --standalone --nproc-per-node=2 -m projects.medical_imaging.train    # what that runs
    $ python -m projects.medical_imaging.train                                       # the same script, one process

torchrun starts N copies of the script and tells each its place in environment variables
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). Every copy builds the same model;
each trains on its own share of every batch; after each backward pass DDP averages the
gradients of all copies (an all-reduce), so every copy takes the same optimizer step and the
copies stay identical. A training script needs five things, all here:

    ctx = distributed.setup("auto")                   # one process, or one of N: joins the group
    loader = distributed.shuffled_loader(dataset, batch_size, seed, ctx)   # a DistributedSampler
    model = distributed.wrap(model, ctx)              # DDP: gradients averaged across processes
    p_val = distributed.gather(model(x_val[distributed.shard(n, ctx)]), ctx)   # metrics on all of them
    if ctx.is_main: save the run                      # one process writes; the others only train

With one process (no torchrun) every function here does nothing special, so the same script
runs either way. Backends: gloo on CPUs, NCCL on NVIDIA GPUs (one GPU per process).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .config import ConfigError
from .devices import choose_device
from .machine import usable_cores


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among `world_size` processes and the device it trains on."""

    device: torch.device
    rank: int = 0  # 0 .. world_size - 1, across all machines
    world_size: int = 1
    local_rank: int = 0  # its number on this machine: which GPU it takes

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that prints, checkpoints and saves the run."""
        return self.rank == 0

    @property
    def backend(self) -> str | None:
        if self.world_size == 1:
            return None
        return "nccl" if self.device.type == "cuda" else "gloo"


def setup(device_name: str = "auto") -> Context:
    """Join the process group that torchrun set up, or return a one-process context without torchrun.

    In a group, only rank 0 prints (the others' standard output goes to /dev/null, errors still
    show), each process takes its own GPU, and on CPUs the cores are shared out between processes.
    """
    device = choose_device(device_name)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Context(device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "mps":
        raise ConfigError("Apple's MPS cannot train in several processes: use one process, or --set train.device=cpu")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"process {local_rank} on this machine needs GPU {local_rank}, but there are only "
                f"{torch.cuda.device_count()}: start at most that many processes per machine, or --set train.device=cpu"
            )
        device = torch.device("cuda", local_rank)  # one GPU per process
        torch.cuda.set_device(device)
    elif "OMP_NUM_THREADS" not in os.environ:  # (torch has already taken the number from it when it is set)
        # N processes on one machine's cores: each gets its share, or they fight over every core
        per_machine = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
        torch.set_num_threads(max(1, usable_cores() // per_machine))
    ctx = Context(device, rank, world_size, local_rank)
    dist.init_process_group(ctx.backend)  # waits until all world_size processes have joined
    atexit.register(_leave_group)
    if not ctx.is_main:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process): one log, not N copies
    return ctx


def _leave_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def finish(code: int) -> None:
    """In a process group: leave it and exit at once with `code`, skipping the interpreter's shutdown.

    Why: with PyTorch 2.13's gloo, a worker thread that still holds a finished all-reduce's
    tensor can abort the process while Python shuts down (about one exit in ten here), and
    torchrun then reports a failure for a run that was saved. Outside a group: nothing.
    """
    if not dist.is_initialized():
        return
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def is_main() -> bool:
    """True in a single process, and in rank 0 of a group."""
    return not dist.is_initialized() or dist.get_rank() == 0


def wrap(model: torch.nn.Module, ctx: Context, **options) -> torch.nn.Module:
    """The model in DDP when there are several processes (its weights copied from rank 0 to all), else as it is.

    `options` go to DistributedDataParallel, e.g. forward_sync_buffers=False for a GAN's networks.
    """
    model = model.to(ctx.device)
    if ctx.world_size == 1:
        return model
    return DistributedDataParallel(model, device_ids=[ctx.local_rank] if ctx.device.type == "cuda" else None, **options)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside DDP (whose state_dict has no `module.` prefix), or the model itself."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def per_process_batch(batch_size: int, ctx: Context) -> int:
    """`batch_size` is the batch of all processes together, so N processes train like one: each takes 1/N of it."""
    if batch_size % ctx.world_size:
        raise ConfigError(
            f"train.batch_size={batch_size} is the batch of all {ctx.world_size} processes together and must divide "
            f"by {ctx.world_size}: add --set train.batch_size={batch_size - batch_size % ctx.world_size} (or "
            f"{batch_size + ctx.world_size - batch_size % ctx.world_size})"
        )
    return batch_size // ctx.world_size


def shuffled_loader(
    dataset: Dataset, batch_size: int, seed: int, ctx: Context, *, drop_last: bool = False
) -> DataLoader:
    """Batches in a new random order every epoch.

    One process: a shuffling DataLoader with a seeded generator. Several: a DistributedSampler
    gives each process a different 1/N of the images every epoch (the core's `fit` calls its
    `set_epoch`), and each process's batch is 1/N of `batch_size`.
    """
    if ctx.world_size == 1:
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=drop_last, generator=generator)
    sampler = DistributedSampler(
        dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed, drop_last=drop_last
    )
    return DataLoader(dataset, batch_size=per_process_batch(batch_size, ctx), sampler=sampler, drop_last=drop_last)


def seed_per_process(seed: int, ctx: Context) -> None:
    """Several processes: give each its own random stream (augmentations, dropout). Nothing in one process."""
    if ctx.world_size > 1:
        torch.manual_seed(seed + ctx.rank)


def shard(n: int, ctx: Context) -> slice:
    """This process's contiguous share of n items (e.g. the validation images); shares differ by at most one."""
    bounds = np.linspace(0, n, ctx.world_size + 1).round().astype(int)
    return slice(int(bounds[ctx.rank]), int(bounds[ctx.rank + 1]))


def gather(values: torch.Tensor, ctx: Context) -> torch.Tensor:
    """Every process's `values` for its `shard`, joined in rank order: the whole set, in every process.

    Metrics such as ROC AUC must be computed on all the predictions together: the mean of
    each process's AUC is not the AUC of the whole set.
    """
    if ctx.world_size == 1:
        return values
    parts: list[torch.Tensor | None] = [None] * ctx.world_size
    dist.all_gather_object(parts, values.detach().cpu())  # shares may differ in length by one
    return torch.cat(parts).to(values.device)


def mean(value: float, device: torch.device) -> float:
    """The mean of a number (e.g. a training loss) over all processes; the number itself in one process.

    `device` is the process's training device: NCCL reduces tensors on the GPU, gloo on the CPU.
    """
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return value
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)  # sum over processes
    return total.item() / dist.get_world_size()


def same_on_every_rank(value: Any) -> bool:
    """Whether every process has the same `value` (e.g. whether it found a checkpoint to resume from)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return True
    values: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return all(v == values[0] for v in values)


@contextlib.contextmanager
def main_process_first(ctx: Context) -> Iterator[None]:
    """The first process of each machine runs the block first (e.g. a download into that machine's
    cache), then the others, which find it done."""
    first_here = ctx.local_rank == 0
    if ctx.world_size > 1 and not first_here:
        dist.barrier()
    yield
    if ctx.world_size > 1 and first_here:
        dist.barrier()
