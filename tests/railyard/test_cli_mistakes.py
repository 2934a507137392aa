"""What the command line says when a command is written wrongly, and how it exits: 2 for
a command written wrongly (a bad argument, as typer and click exit), 1 for a command that
ran and failed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from railyard.cli import app

runner = CliRunner()


def said(output: str) -> str:
    """What a command said, as one line: typer draws a usage error in a box, wrapped."""
    return " ".join(output.replace("│", " ").split())


@pytest.fixture
def env(env: Path) -> Path:
    """The store, with its first admin."""
    assert runner.invoke(app, ["bootstrap"]).exit_code == 0
    return env


def test_a_week_its_year_does_not_have_is_called_a_week_and_the_years_weeks_named(
    env: Path,
) -> None:
    """`--week 2026-W60` said "invalid period '2026-W60'", as if a period had been asked."""
    result = runner.invoke(app, ["report", "weekly", "--week", "2026-W60"])
    assert "there is no week 2026-W60: ISO year 2026 has weeks 2026-W01 to 2026-W53" in (
        result.output
    )
    assert "period" not in result.output


def test_revoking_something_that_is_not_a_token_id_says_what_a_token_id_is(env: Path) -> None:
    """`tokens revoke garbage` said "no token garbage", as if a token were missing."""
    result = runner.invoke(app, ["tokens", "revoke", "garbage"])
    assert result.exit_code == 2
    assert "a token id is 16 hexadecimal characters" in said(result.output)
    assert "railyard tokens list USER" in said(result.output)
    missing = runner.invoke(app, ["tokens", "revoke", "0123456789abcdef"])
    assert missing.exit_code == 1
    assert "no token has the id 0123456789abcdef" in missing.output


def test_a_command_written_wrongly_exits_2_and_one_that_ran_and_failed_exits_1(
    env: Path,
) -> None:
    """`report weekly --week garbage` exited 1 but `--format pdf` 2; `users create "Bad
    Name"` 1 but `--role wizard` 2: a script could not tell a typo from a failure."""
    written_wrongly = (
        ["report", "weekly", "--week", "garbage"],
        ["report", "weekly", "--format", "pdf"],
        ["users", "create", "Bad Name", "--role", "admin"],
        ["users", "create", "bad.role", "--role", "wizard"],
        ["users", "create", "nodept", "--role", "requester"],
        ["tokens", "revoke", "garbage"],
    )
    for command in written_wrongly:
        result = runner.invoke(app, command)
        assert (result.exit_code, "Traceback" in result.output) == (2, False), command
    failed = (
        ["users", "create", "admin", "--role", "admin"],  # user_exists
        ["users", "deactivate", "nobody", "--reason", "left"],  # user_not_found
        ["tokens", "list", "nobody"],
    )
    for command in failed:
        result = runner.invoke(app, command)
        assert (result.exit_code, "Traceback" in result.output) == (1, False), command


def test_replay_refuses_an_output_it_cannot_write_before_reading_the_feed(
    env: Path,
) -> None:
    """`--output /nonexistent/dir/x.json` read and folded the whole feed, then failed."""
    nowhere = env / "no-such-dir" / "metrics.json"
    # No service listens there: the feed is never asked for.
    base = ["replay", "--url", "http://127.0.0.1:9", "--token", "ry_x"]
    result = runner.invoke(app, [*base, "--output", str(nowhere)])
    assert result.exit_code == 2, result.output
    assert f"there is no directory {nowhere.parent}" in said(result.output)
    report = runner.invoke(app, ["report", "weekly", "--output", str(nowhere)])
    assert report.exit_code == 2
    assert "event store" not in report.output  # refused before the store is read


def test_a_position_file_that_is_not_one_is_refused_with_the_advice_to_remove_it(
    env: Path,
) -> None:
    base = ["replay", "--url", "http://127.0.0.1:9", "--token", "ry_x"]
    for text in ('{"position": 12}', "not json at all"):
        path = env / "replay.json"
        path.write_text(text)
        result = runner.invoke(app, [*base, "--position-file", str(path)])
        assert result.exit_code == 1, result.output
        assert "remove it (or name another --position-file) to replay from the start" in (
            said(result.output)
        )
