"""`railyard verify`: what an auditor runs, and what it prints."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from railyard.cli import app
from shared.platform import Platform
from shared.settings import load_settings
from tests.conftest import BACKENDS, postgres_url
from tests.postgres import fresh_schema
from tests.tampering import as_owner

runner = CliRunner()
HEAD = re.compile(r"head position (\d+)\s+head hash ([0-9a-f]{64})")


@pytest.fixture(params=BACKENDS)
def env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("RAILYARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RAILYARD_LOG_LEVEL", "warning")
    if request.param == "sqlite":
        monkeypatch.delenv("DATABASE_URL", raising=False)
        yield "sqlite"
        return
    url = postgres_url()
    with fresh_schema(url) as schema:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("RAILYARD_DB_SCHEMA", schema)
        yield "postgres"


def bootstrapped() -> None:
    """Two events: the admin registered, a token issued."""
    result = runner.invoke(app, ["bootstrap"])
    assert result.exit_code == 0, result.output


def tamper(statements: list[tuple[str, tuple[object, ...]]]) -> None:
    platform = Platform.build(load_settings())
    try:
        as_owner(platform, statements)
    finally:
        platform.close()


def test_verify_prints_the_count_and_a_head_hash_that_later_runs_accept_as_anchor(
    env: str,
) -> None:
    bootstrapped()
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 0, result.output
    assert "verified 2 events" in result.stdout
    head = HEAD.search(result.stdout)
    assert head is not None, result.stdout
    anchored = runner.invoke(app, ["verify", "--anchor", f"{head[1]}:{head[2]}"])
    assert anchored.exit_code == 0, anchored.output
    wrong = runner.invoke(app, ["verify", "--anchor", f"{head[1]}:{'0' * 64}"])
    assert wrong.exit_code == 1
    assert "anchor mismatch" in wrong.stdout


def test_verify_names_the_event_the_owner_edited_and_exits_non_zero(env: str) -> None:
    bootstrapped()
    tamper(
        [
            (
                "UPDATE {events} SET state = {p} WHERE {position} ="
                " (SELECT MIN({position}) FROM {events})",
                (b'{"timestamp": "2020-01-01T00:00:00+00:00", "username": "mallory"}',),
            )
        ]
    )
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    assert re.search(r"MISMATCH position \d+: User\.Registered of aggregate", result.stdout)
    assert "content changed" in result.stdout
    assert "Traceback" not in result.output


def test_a_store_from_before_the_chain_is_told_to_migrate_and_migrate_hashes_it(
    env: str,
) -> None:
    bootstrapped()
    tamper([("DROP TABLE {hashes}", ())])
    refused = runner.invoke(app, ["verify"])
    assert refused.exit_code == 2
    assert "railyard migrate" in refused.output
    migrated = runner.invoke(app, ["migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert "hashed 2 events" in migrated.output
    assert runner.invoke(app, ["verify"]).exit_code == 0


def test_a_malformed_anchor_is_refused_with_a_message(env: str) -> None:
    result = runner.invoke(app, ["verify", "--anchor", "12:abc"])
    assert result.exit_code == 2
    assert "POSITION:HASH" in result.output


def test_verifying_a_store_that_is_not_there_says_so_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped RAILYARD_DATA_DIR is exit 2 with the path, not an empty store verified."""
    missing = tmp_path / "no-such-dir"
    monkeypatch.setenv("RAILYARD_DATA_DIR", str(missing))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 2
    assert "no event store at" in result.output
    assert not missing.exists()
