"""Which device a network trains on, and moving batches there.

device = choose_device("auto")          # CUDA if there is a GPU, else Apple's MPS, else the CPU
x, y = to_device(batch, device)
"""

from __future__ import annotations

from typing import Any

import torch

from .config import ConfigError


def choose_device(name: str = "auto") -> torch.device:
    """`auto`: CUDA if there is a GPU, else Apple's MPS, else the CPU. Or name one: cpu, cuda, cuda:1, mps."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:1 or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for, but this torch sees no CUDA GPU; use auto or cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} was asked for, but MPS is not available here; use auto or cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {name!r} is not supported here; use auto, cpu, cuda or mps")
    return device


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a batch (a tensor, or tuples, lists and dicts of them) to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, tuple | list):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch
