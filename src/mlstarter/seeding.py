"""One call to make a run repeatable."""

from __future__ import annotations

import random
import sys

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and, when the project uses it, PyTorch (CPU and all GPUs)."""
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:  # only a project that imported torch pays for it
        sys.modules["torch"].manual_seed(seed)
