"""Shared fixtures: every test writes runs and downloads into its own temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tmp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway repository root: runs/ and the datasets/ cache live under tmp_path."""
    monkeypatch.setenv("MLSTARTER_ROOT", str(tmp_path))
    monkeypatch.delenv("MLSTARTER_RUNS_DIR", raising=False)
    monkeypatch.delenv("MLSTARTER_DATA_DIR", raising=False)
    return tmp_path
