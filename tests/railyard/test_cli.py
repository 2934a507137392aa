"""The CLI an operator uses to bootstrap, manage people and tokens, and migrate."""

from __future__ import annotations

import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
import uvicorn
from typer.testing import CliRunner

import railyard.cli
from railyard.cli import app
from shared.identity.domain import TOKEN
from shared.logging import configure_logging
from shared.settings import load_settings, settings_from_environment
from tests.logs import captured_logs

runner = CliRunner()


def test_bootstrap_creates_admin_and_prints_a_working_token(env: Path) -> None:
    result = runner.invoke(app, ["bootstrap"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert TOKEN.match(token)
    again = runner.invoke(app, ["bootstrap"])
    assert again.exit_code == 0
    assert again.stdout.strip().splitlines()[-1] != token


def test_create_user_issue_and_revoke_token(env: Path) -> None:
    created = runner.invoke(
        app,
        ["users", "create", "vp.sales", "--role", "requester", "--department", "Sales", "--token"],
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    listed = runner.invoke(app, ["users", "list"])
    assert "vp.sales" in listed.stdout
    token_id = TOKEN.match(token).group(1)  # type: ignore[union-attr]
    revoked = runner.invoke(app, ["tokens", "revoke", token_id])
    assert revoked.exit_code == 0, revoked.output
    twice = runner.invoke(app, ["tokens", "revoke", token_id])
    assert twice.exit_code == 1
    assert "token_already_revoked" in twice.output


def test_refusals_are_readable_messages_not_tracebacks(env: Path) -> None:
    result = runner.invoke(app, ["users", "create", "nodept", "--role", "requester"])
    assert result.exit_code == 2  # a requester's --department left out: written wrongly
    assert "department_required" in result.output
    assert "Traceback" not in result.output


def test_a_bad_setting_is_named_with_its_variable(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAILYARD_TIMEZONE", "Mars/Olympus")
    result = runner.invoke(app, ["users", "list"])
    assert result.exit_code == 2
    assert "RAILYARD_TIMEZONE" in result.output
    assert "unknown time zone" in result.output
    monkeypatch.delenv("RAILYARD_TIMEZONE")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    refused = runner.invoke(app, ["users", "list"])
    assert refused.exit_code == 2
    # The variable set, not a RAILYARD_DATABASE_URL nobody wrote.
    assert "  DATABASE_URL: must be a postgresql:// URL" in refused.output
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:notaport/x")
    port = runner.invoke(app, ["users", "list"])
    assert (port.exit_code, "Traceback" in port.output) == (2, False)
    assert "  DATABASE_URL: the port is not a number" in port.output
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("RAILYARD_SESSION_SECRET", "abc")
    short = runner.invoke(app, ["users", "list"])
    assert "  RAILYARD_SESSION_SECRET: must be at least 32 characters long" in short.output


def test_migrate_creates_every_view(env: Path) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "schema ready" in result.output


def test_rebuild_views_says_how_far_it_got_view_by_view(env: Path) -> None:
    assert runner.invoke(app, ["bootstrap"]).exit_code == 0  # a log with events in it
    result = runner.invoke(app, ["rebuild-views"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert any(line.startswith("identity.users.v1: ") for line in lines), lines
    assert any(line.startswith("metrics.facts.v4: ") for line in lines), lines
    assert lines[-1].startswith("rebuilt ")
    assert " views from " in lines[-1]


@pytest.fixture
def served(env: Path, monkeypatch: pytest.MonkeyPatch) -> list[uvicorn.Config]:
    """`railyard serve` up to the point it would listen: the configs it would serve."""
    for name, value in (("RAILYARD_HOST", "127.0.0.1"), ("RAILYARD_PORT", "8000")):
        monkeypatch.setenv(name, value)  # serve sets them: put back after the test
    monkeypatch.delenv("RAILYARD_PUBLIC_URL", raising=False)
    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: configs.append(self.config))
    return configs


def test_links_name_the_port_serve_was_given(
    served: list[uvicorn.Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["serve", "--port", "8322", "--host", "127.0.0.2"])
    assert result.exit_code == 0, result.output
    (config,) = served
    assert (config.host, config.port) == ("127.0.0.2", 8322)
    # What the served app and the worker's emails read: RAILYARD_PUBLIC_URL's default.
    assert settings_from_environment().public_base == "http://127.0.0.2:8322"
    assert "http://127.0.0.2:8322/docs" in result.output
    settings_from_environment.cache_clear()


@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_serve_refuses_a_port_it_cannot_listen_on(
    served: list[uvicorn.Config], monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    """--port 70000 printed the banner and listened nowhere; --port 0 became 8000."""
    result = runner.invoke(app, ["serve", "--port", port])
    assert result.exit_code == 2, result.output
    assert f"{port} is not a port: give one from 1 to 65535" in result.output
    assert "Railyard serving" not in result.output
    assert served == []
    monkeypatch.setenv("RAILYARD_PORT", port)
    from_environment = runner.invoke(app, ["serve"])
    assert from_environment.exit_code == 2
    assert f"RAILYARD_PORT: {port} is not a port" in from_environment.output


def test_a_data_dir_that_cannot_hold_the_store_is_named_not_a_traceback(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RAILYARD_DATA_DIR naming a file, below a file or where nothing may be made gave
    some 60 lines of traceback on every command."""
    (env / "a-file").write_text("")
    for value, said in (
        (env / "a-file", "a-file is a file, not a directory"),
        (env / "a-file" / "var", "var cannot be made there:"),
        (Path("/proc/railyard-x"), "/proc/railyard-x cannot hold the SQLite store:"),
    ):
        monkeypatch.setenv("RAILYARD_DATA_DIR", str(value))
        for command in (["users", "create", "x", "--role", "admin"], ["bootstrap"], ["worker"]):
            result = runner.invoke(app, command)
            assert result.exit_code == 2, (value, command, result.output)
            assert "Traceback" not in result.output
            assert "RAILYARD_DATA_DIR: " in result.output
            assert said in result.output


def test_bootstrap_makes_or_renews_an_admin_never_a_token_for_someone_else(env: Path) -> None:
    created = runner.invoke(
        app, ["users", "create", "vp", "--role", "requester", "--department", "Sales"]
    )
    assert created.exit_code == 0, created.output
    result = runner.invoke(app, ["bootstrap", "--username", "vp"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""  # no token printed
    assert "vp is not an admin (requester): bootstrap makes an admin" in result.output
    assert "railyard tokens issue vp" in result.output
    assert runner.invoke(app, ["bootstrap", "--username", "root"]).exit_code == 0
    assert runner.invoke(app, ["bootstrap", "--username", "root"]).exit_code == 0  # renewed


def test_every_command_on_a_store_names_it_and_reading_one_makes_none(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from another directory, `users list` made a new empty store there and showed an
    empty table, and `users create` wrote into it, both without a word."""
    store = env / "var" / "railyard.sqlite3"
    for command in (["users", "list"], ["tokens", "list", "admin"], ["report", "weekly"],
                    ["rebuild-views"], ["tokens", "issue", "admin"]):  # fmt: skip
        result = runner.invoke(app, command)
        assert result.exit_code == 1, (command, result.output)
        assert f"there is no event store at {store}" in result.output, command
        assert "RAILYARD_DATA_DIR" in result.output
        assert not (env / "var").exists(), command
    for command in (["users", "create", "vp", "--role", "admin"], ["users", "list"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        assert result.stderr.splitlines()[0] == f"event store: SQLite at {store}"


def test_the_banner_shows_the_public_address_and_the_one_it_listens_on(
    served: list[uvicorn.Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAILYARD_PUBLIC_URL", "https://railyard.example.com/")
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8351"])
    assert result.exit_code == 0, result.output
    first = result.stderr.splitlines()[0]
    assert "on https://railyard.example.com (listening on http://0.0.0.0:8351)" in first
    assert "(API docs: https://railyard.example.com/docs)" in first
    assert "//docs" not in result.output
    assert "In a browser: https://railyard.example.com/," in result.output
    monkeypatch.delenv("RAILYARD_PUBLIC_URL")
    default = runner.invoke(app, ["serve", "--host", "127.0.0.1", "--port", "8000"])
    plain = default.stderr.splitlines()[0]
    assert "on http://127.0.0.1:8000  (API docs: http://127.0.0.1:8000/docs)" in plain
    assert "listening on" not in plain
    settings_from_environment.cache_clear()


def test_a_bad_service_name_says_the_value_and_the_services(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAILYARD_SERVICES", "intake,billing")
    result = runner.invoke(app, ["users", "list"])
    assert result.exit_code == 2
    assert (
        "  RAILYARD_SERVICES: 'intake,billing' names 'billing': the services are intake,"
        " release, change_control, metrics, notify (comma-separated), or all"
    ) in result.output
    assert "RAILYARD_SERVICES.1" not in result.output


def test_the_worker_logs_when_it_starts_and_stops_naming_its_store_and_services(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A SIGTERM as soon as the worker listens for one: it starts, then stops.
    sent = SimpleNamespace(SIGTERM=signal.SIGTERM, signal=lambda number, on: on(number, None))
    monkeypatch.setattr(railyard.cli, "signal", sent)
    # Logged at info: configured so before the capture, not again by the command.
    configure_logging(load_settings(log_level="info"))
    monkeypatch.setattr(railyard.cli, "configure_logging", lambda settings: None)
    with captured_logs() as logs:
        result = runner.invoke(app, ["worker"])
    assert result.exit_code == 0, result.output
    events = {e["event"]: e for e in logs if e["event"].startswith("worker_")}
    assert list(events) == ["worker_started", "worker_stopped"]
    for event in events.values():
        assert event["store"] == f"SQLite at {env / 'var' / 'railyard.sqlite3'}"
        assert event["services"] == ["intake", "release", "change_control", "metrics", "notify"]


def test_an_unknown_user_is_named_as_given_not_by_an_internal_id(env: Path) -> None:
    assert runner.invoke(app, ["bootstrap"]).exit_code == 0
    for command in (
        ["users", "deactivate", "nobody", "--reason", "left"],
        ["tokens", "issue", "nobody"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 1
        assert "no user 'nobody'" in result.output
        assert " with id " not in result.output
