"""The command line's tests: each runs `railyard` in a store of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from railyard.cli import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded store under the test's directory, whatever the environment names."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("RAILYARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RAILYARD_LOG_LEVEL", "warning")
    return tmp_path


@pytest.fixture
def store_when_env(request: pytest.FixtureRequest) -> None:
    """For a module whose tests import into the command's own store (`env`): the store
    made as an operator makes it, since the import never makes a new one."""
    if "env" in request.fixturenames:
        request.getfixturevalue("env")
        assert CliRunner().invoke(app, ["migrate"]).exit_code == 0
