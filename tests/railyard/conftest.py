"""The command line's tests: each runs `railyard` in a store of its own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded store under the test's directory, whatever the environment names."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("RAILYARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RAILYARD_LOG_LEVEL", "warning")
    return tmp_path
