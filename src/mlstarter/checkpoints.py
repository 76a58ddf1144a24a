"""Resumable training: the state of an interrupted run, kept beside the runs until the run is saved.

    checkpoint = Checkpoint.for_run(PROJECT, cfg, dry_run=args.dry_run)   # runs/.<project>-checkpoints/<hash>/
    checkpoint.start(resume=args.resume)      # says whether it resumes, starts over, or found nothing
    if checkpoint.resuming:
        state = checkpoint.load(device)       # the random generators are restored too
    for epoch in ...:
        checkpoint.save({"epoch": epoch, "model_state": ..., ...})      # atomic: an interruption keeps the last one
    with runs.create(...) as run: ...
    checkpoint.finish()                       # the run is saved: nothing left to resume

The folder is named by a hash of the whole config (and whether it is a dry run), so `--resume`
only ever continues a run with exactly the same settings; a run with other settings has its own.
The core's `training.fit` uses one for a single network; a loop of its own (the GAN's two
networks) uses the same calls.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from . import distributed, runs
from .config import ConfigError, to_dict

STATE = "state.pt"  # the training state in a checkpoint folder; a loop may keep other files beside it


class Checkpoint:
    """One interrupted run's folder: `save` and `load` its state, `path` for other files, `finish` to remove it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.resuming = False  # set by start(): whether this run goes on from a saved state

    @classmethod
    def for_run(cls, project: str, cfg: Any, *, dry_run: bool) -> Checkpoint:
        """The checkpoint folder of a run with exactly these settings (a config dataclass)."""
        key = hashlib.sha256(json.dumps([to_dict(cfg), dry_run], sort_keys=True).encode()).hexdigest()[:12]
        return cls(runs.project_runs_dir(project).with_name(f".{project}-checkpoints") / key)

    def path(self, name: str) -> Path:
        """A file kept with the state, e.g. a GAN's judge or its sample grids."""
        return self.folder / name

    def start(self, resume: bool) -> bool:
        """Decide, and say, whether training resumes. Without `resume` an old state is cleared (by rank 0).

        Several processes must agree, or some would train epochs the others skip and wait forever.
        """
        found = resume and self.path(STATE).is_file()
        if not distributed.same_on_every_rank(found):
            raise ConfigError(
                f"--resume: some processes can read {self.folder} and some cannot. Every process loads the "
                "checkpoint: on several machines, put it on a file system they share."
            )
        if resume and not found:
            print(f"No checkpoint of an interrupted run with these exact settings in {self.folder.parent}: "
                  "starting from epoch 1.")  # fmt: skip
        elif not resume and self.folder.is_dir():
            print(f"An interrupted run with these settings left {self.folder}: starting over "
                  "(add --resume to continue it).")  # fmt: skip
            if distributed.is_main():  # without --resume no process reads it
                shutil.rmtree(self.folder, ignore_errors=True)
        self.resuming = found
        return found

    def save(self, state: dict[str, Any], generator: Any = None) -> None:
        """Write `state` and the random generators' states atomically (rank 0 only)."""
        if distributed.is_main():
            save_atomically(self.path(STATE), {**state, **rng_states(generator)})

    def load(self, device: torch.device | str = "cpu", generator: Any = None) -> dict[str, Any]:
        """The saved state, with the random generators put back as they were.

        In several processes every one restores rank 0's generators; each is then given its own
        stream again, so they resume with the same weights and batches but new noise.
        """
        state = torch.load(self.path(STATE), map_location=device, weights_only=True)  # tensors and plain data only
        restore_rng_states(state, generator)
        if dist.is_initialized():
            torch.manual_seed(int(torch.randint(2**31, ())) + dist.get_rank())
        return state

    def finish(self) -> None:
        """Remove the folder once the run is saved (and the checkpoints folder, if it is then empty)."""
        if not distributed.is_main():
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.folder.parent.is_dir() and not any(self.folder.parent.iterdir()):
            self.folder.parent.rmdir()


def save_atomically(path: Path, state: dict[str, Any]) -> None:
    """torch.save, atomically: an interruption leaves the previous file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    torch.save(state, partial)
    partial.replace(path)


def rng_states(generator: Any = None) -> dict[str, Any]:
    """The random number generators (torch's, CUDA's, and a DataLoader's `generator`), for a checkpoint:
    restored, shuffling, dropout and noise go on as if training had never stopped."""
    return {
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "rng_loader": generator.get_state() if isinstance(generator, torch.Generator) else None,
    }


def restore_rng_states(state: dict[str, Any], generator: Any = None) -> None:
    """Undo `rng_states`: put the generators back as they were when the checkpoint was saved."""
    torch.set_rng_state(state["rng_cpu"].cpu())
    if state["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
    if isinstance(generator, torch.Generator) and state["rng_loader"] is not None:
        generator.set_state(state["rng_loader"].cpu())
