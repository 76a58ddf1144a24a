"""Saving and loading models safely: no unchecked pickle, ever.

- scikit-learn objects go through skops, which refuses any type not explicitly trusted
  (a plain pickle runs whatever code the file asks for);
- torch models are saved as a `state_dict` inside a plain dict and loaded with
  `weights_only=True`, which only rebuilds tensors and primitive containers.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _skops():
    """skops.io, imported when a model is saved or loaded: it takes seconds (it imports much of scikit-learn),
    which every command that never touches a model file (a bad option, `--help`, `mlstarter list`) would pay."""
    import skops.io

    return skops.io


class ModelLoadError(ValueError):
    """A saved model cannot be loaded: missing, truncated, altered, or holding what we do not trust."""


class UntrustedModelError(ModelLoadError):
    """A saved model holds types that its project did not declare as trusted."""


def save_sklearn(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _skops().dump(obj, path)


def untrusted_types(path: Path) -> list[str]:
    """Types in a skops file beyond skops' own safe defaults (to review before trusting)."""
    return _skops().get_untrusted_types(file=path)


def load_sklearn(path: Path, trusted: Sequence[str]) -> Any:
    """Load a skops file, refusing it if it holds any type outside `trusted`."""
    unexpected = sorted(set(untrusted_types(path)) - set(trusted))
    if unexpected:
        raise UntrustedModelError(
            f"{path} holds types this project does not trust: {', '.join(unexpected)}. "
            f"It was not loaded. If you made this file yourself with a changed model, review these types "
            f"and add them to the project's TRUSTED_TYPES."
        )
    return _skops().load(path, trusted=list(trusted))


def save_torch(path: Path, model_state: dict[str, Any], **extra: Any) -> None:
    """Save a checkpoint: `model_state` (a state_dict) plus plain data (config, metrics, ...)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_state": model_state, **extra}, path)


def load_torch(path: Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint saved by `save_torch`; tensors and plain data only."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:  # weights_only refused something that is not a tensor or plain data
        lines = [line for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        reason = next((line for line in lines if "unsupported" in line.lower()), lines[0])  # torch says a lot
        raise UntrustedModelError(
            f"{path} holds more than tensors and plain data, so it was not loaded ({reason.strip()[:300]}). "
            "A checkpoint saved by mlstarter never does: the file was changed or made elsewhere."
        ) from error
