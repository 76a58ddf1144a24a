"""mlstarter.distributed: one process behaves as if DDP were not there; two processes share the work."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from mlstarter import distributed
from mlstarter.config import ConfigError

CPU = torch.device("cpu")


def test_one_process_needs_no_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = distributed.setup("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.backend) == (0, 1, True, None)
    model = torch.nn.Linear(2, 1)
    assert distributed.wrap(model, ctx) is model
    assert distributed.unwrap(model) is model
    values = torch.arange(5.0)
    assert distributed.gather(values, ctx) is values
    assert distributed.mean(3.5, CPU) == 3.5
    assert distributed.shard(7, ctx) == slice(0, 7)
    loader = distributed.shuffled_loader(TensorDataset(torch.arange(10)), 4, seed=1, ctx=ctx)
    assert loader.batch_size == 4 and isinstance(loader.generator, torch.Generator)


def test_shards_cover_every_item_once() -> None:
    for n in (0, 1, 7, 270):
        for world in (1, 2, 3, 8):
            parts = [distributed.shard(n, distributed.Context(CPU, rank, world)) for rank in range(world)]
            covered = [i for part in parts for i in range(n)[part]]
            assert covered == list(range(n))  # contiguous, in rank order: gather puts them back in order
            sizes = [len(range(n)[part]) for part in parts]
            assert max(sizes) - min(sizes) <= 1


def test_the_batch_is_shared_out_and_must_divide() -> None:
    assert distributed.per_process_batch(64, distributed.Context(CPU, 0, 2)) == 32
    with pytest.raises(ConfigError, match="must divide by 3: add --set train.batch_size=63 .or 66."):
        distributed.per_process_batch(64, distributed.Context(CPU, 0, 3))


def test_mps_cannot_train_in_several_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setattr(distributed, "choose_device", lambda name: torch.device("mps"))
    with pytest.raises(ConfigError, match="MPS cannot train in several processes"):
        distributed.setup("mps")


# Run by torchrun in two processes: every check writes one line to the process's own log file, read back by the test.
TWO_PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    from torch.utils.data import TensorDataset
    from mlstarter import distributed, training
    from mlstarter.checkpoints import Checkpoint

    ctx = distributed.setup("cpu")
    print("stdout from rank", ctx.rank)  # only rank 0's reaches the log
    log = open(f"{sys.argv[1]}/rank{ctx.rank}.log", "w", buffering=1)
    print(f"rank {ctx.rank} world {ctx.world_size} backend {ctx.backend} main {distributed.is_main()}", file=log)
    print(f"rank {ctx.rank} mean {distributed.mean(float(ctx.rank), ctx.device)}", file=log)
    n = 7
    mine = torch.arange(n)[distributed.shard(n, ctx)]
    print(f"rank {ctx.rank} gathered {distributed.gather(mine * 10, ctx).tolist()}", file=log)
    loader = distributed.shuffled_loader(TensorDataset(torch.arange(8)), 4, seed=0, ctx=ctx)
    seen = sorted(i for (batch,) in loader for i in batch.tolist())
    print(f"rank {ctx.rank} batch {loader.batch_size} seen {seen}", file=log)

    # fit() with a DDP model: both processes end with identical weights, and rank 0 alone checkpoints
    torch.manual_seed(0)
    model = distributed.wrap(torch.nn.Linear(3, 1), ctx)
    distributed.seed_per_process(0, ctx)
    data = TensorDataset(torch.randn(32, 3), torch.randn(32, 1))
    loader = distributed.shuffled_loader(data, 8, seed=0, ctx=ctx)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1])
    validate = lambda m: {"val_loss": float(m.weight.sum())}
    checkpoint = Checkpoint(__import__("pathlib").Path(sys.argv[1]) / f"ckpt-{ctx.rank}") if ctx.rank else None
    result = training.fit(model, optimizer, loader, loss_fn, validate, epochs=2, monitor="val_loss", mode="min",
                          device=ctx.device, checkpoint=checkpoint, progress=False)
    weights = distributed.gather(distributed.unwrap(model).weight.detach().flatten(), ctx)
    print(f"rank {ctx.rank} same_weights {torch.equal(weights[:3], weights[3:])} epochs {len(result.history)}",
          file=log)
    log.close()
    distributed.finish(0)
    """
)


@pytest.mark.slow
def test_two_processes_share_the_data_and_agree(tmp_path: Path) -> None:
    script = tmp_path / "two.py"
    script.write_text(TWO_PROCESS_SCRIPT)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node=2",
            str(script),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for rank in (0, 1) for line in (tmp_path / f"rank{rank}.log").read_text().splitlines()]
    for rank in (0, 1):
        assert f"rank {rank} world 2 backend gloo main {rank == 0}" in lines
        assert f"rank {rank} mean 0.5" in lines  # (0 + 1) / 2
        assert f"rank {rank} gathered [0, 10, 20, 30, 40, 50, 60]" in lines  # both shares, in order
        assert f"rank {rank} same_weights True epochs 2" in lines  # DDP kept the two copies identical
    seen = [line for line in lines if " batch 2 seen " in line]  # the batch of 4 shared out: 2 each
    assert len(seen) == 2
    halves = [set(eval(line.split(" seen ")[1])) for line in seen]
    assert halves[0].isdisjoint(halves[1]) and halves[0] | halves[1] == set(range(8))
    assert done.stdout.count("stdout from rank") == 1 and "stdout from rank 0" in done.stdout
    assert not (tmp_path / "ckpt-1").exists()  # rank 1 was given a checkpoint path but must not write it
