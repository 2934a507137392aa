"""The admin's people and tokens from the command line: the checks the HTTP API makes,
and what the API can do that the CLI could not (deactivate, reactivate, list tokens)."""

from __future__ import annotations

import getpass
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from railyard.cli import app
from shared.identity.domain import TOKEN

runner = CliRunner()


@pytest.fixture
def env(env: Path) -> Path:
    """The store, with its first admin."""
    assert runner.invoke(app, ["bootstrap"]).exit_code == 0
    return env


def typed(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """getpass answering in turn; the prompts it was asked with."""
    prompts: list[str] = []
    replies = iter(answers)

    def ask(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(replies)

    monkeypatch.setattr(getpass, "getpass", ask)
    return prompts


def test_users_create_refuses_an_email_the_api_refuses(env: Path) -> None:
    result = runner.invoke(
        app, ["users", "create", "xy", "--role", "admin", "--email", "notanemail"]
    )
    assert result.exit_code == 2
    assert "'notanemail' is not an email address" in result.output
    assert "xy" not in runner.invoke(app, ["users", "list"]).stdout.split()
    ok = ["users", "create", "xy", "--role", "admin", "--email", "x@example.com"]
    assert runner.invoke(app, ok).exit_code == 0


def test_set_password_says_an_unknown_user_before_asking_for_a_password(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = typed(monkeypatch)
    result = runner.invoke(app, ["users", "set-password", "nobody"])
    assert result.exit_code == 1
    assert "user_not_found" in result.output
    assert prompts == []


def test_set_password_says_a_deactivated_user_before_asking_for_a_password(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password was asked for twice, and only then refused with user_deactivated."""
    runner.invoke(app, ["users", "create", "gone", "--role", "cab_member"])
    runner.invoke(app, ["users", "deactivate", "gone", "--reason", "left the company"])
    prompts = typed(monkeypatch)
    result = runner.invoke(app, ["users", "set-password", "gone"])
    assert result.exit_code == 1
    assert "user_deactivated" in result.output
    assert "railyard users reactivate gone" in result.output
    assert prompts == []


def test_create_with_a_password_says_a_taken_or_bad_name_before_asking_for_it(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password was asked for twice, and only then the name refused."""
    prompts = typed(monkeypatch)
    taken = runner.invoke(app, ["users", "create", "admin", "--role", "admin", "--password"])
    assert taken.exit_code == 1
    assert "user_exists" in taken.output
    bad = runner.invoke(app, ["users", "create", "Bad Name", "--role", "admin", "--password"])
    assert bad.exit_code == 2
    assert "invalid_username" in bad.output
    assert prompts == []
    typed(monkeypatch, "a long enough secret", "a long enough secret")
    made = runner.invoke(app, ["users", "create", "new.admin", "--role", "admin", "--password"])
    assert made.exit_code == 0, made.output


def test_set_password_asks_twice_and_sets_nothing_when_they_differ(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = typed(monkeypatch, "correct horse battery", "correct horse batery")
    result = runner.invoke(app, ["users", "set-password", "admin"])
    assert result.exit_code == 1
    assert "the two passwords differ: nothing was set" in result.output
    assert len(prompts) == 2
    typed(monkeypatch, "correct horse battery", "correct horse battery")
    assert runner.invoke(app, ["users", "set-password", "admin"]).exit_code == 0


def test_users_deactivate_and_reactivate_as_the_api_does(env: Path) -> None:
    created = runner.invoke(
        app, ["users", "create", "vp", "--role", "requester", "--department", "Sales", "--token"]
    )
    token_id = TOKEN.match(created.stdout.strip().splitlines()[-1]).group(1)  # type: ignore[union-attr]
    off = runner.invoke(app, ["users", "deactivate", "vp", "--reason", "left the company"])
    assert off.exit_code == 0, off.output
    assert "no" in runner.invoke(app, ["users", "list"]).stdout.split("vp", 1)[1].split("\n")[0]
    again = runner.invoke(app, ["users", "deactivate", "vp", "--reason", "twice"])
    assert again.exit_code == 1
    assert "Traceback" not in again.output
    on = runner.invoke(app, ["users", "reactivate", "vp", "--reason", "came back"])
    assert on.exit_code == 0, on.output
    tokens = runner.invoke(app, ["tokens", "list", "vp"]).stdout
    assert token_id in tokens  # the token the deactivation ended stays revoked
    assert runner.invoke(app, ["users", "reactivate", "vp", "--reason", "x"]).exit_code == 1
    assert (
        "user_active" in runner.invoke(app, ["users", "reactivate", "vp", "--reason", "x"]).output
    )
    missing = runner.invoke(app, ["users", "deactivate", "vp"])
    assert missing.exit_code == 2  # a reason is needed, as the API needs one


def test_tokens_list_gives_the_ids_tokens_revoke_takes(env: Path) -> None:
    issued = runner.invoke(
        app, ["tokens", "issue", "admin", "--label", "laptop", "--expires-in-days", "90"]
    )
    token_id = TOKEN.match(issued.stdout.strip().splitlines()[-1]).group(1)  # type: ignore[union-attr]
    listed = runner.invoke(app, ["tokens", "list", "admin"])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.stdout.splitlines() if token_id in line)
    assert "laptop" in line
    assert "never" not in line  # it expires
    assert "bootstrap" in listed.stdout
    assert "never" in listed.stdout
    assert runner.invoke(app, ["tokens", "revoke", token_id]).exit_code == 0
    revoked = runner.invoke(app, ["tokens", "list", "admin"]).stdout
    line = next(line for line in revoked.splitlines() if token_id in line)
    assert line.count("20") >= 3  # issued, expires and revoked dates
    nobody = runner.invoke(app, ["tokens", "list", "nobody"])
    assert nobody.exit_code == 1
    assert "user_not_found" in nobody.output


@pytest.mark.parametrize(
    "command",
    [
        ["users", "deactivate", "vp"],
        ["users", "reactivate", "vp"],
        ["tokens", "revoke", "TOKEN"],
    ],
)
@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_blank_or_overlong_reason_is_refused_as_the_api_refuses_it(
    env: Path, command: list[str], reason: str
) -> None:
    """The API needs a reason of 1 to 500 characters besides spaces; the CLI took an empty
    one and wrote it into the person's history. Now it says why and writes nothing."""
    created = runner.invoke(
        app, ["users", "create", "vp", "--role", "requester", "--department", "Sales", "--token"]
    )
    token_id = TOKEN.match(created.stdout.strip().splitlines()[-1]).group(1)  # type: ignore[union-attr]
    if command[1] == "reactivate":
        off = runner.invoke(app, ["users", "deactivate", "vp", "--reason", "on leave"])
        assert off.exit_code == 0, off.output
    before = (
        runner.invoke(app, ["users", "list"]).stdout,
        runner.invoke(app, ["tokens", "list", "vp"]).stdout,
    )
    refused = runner.invoke(
        app, [*(token_id if part == "TOKEN" else part for part in command), "--reason", reason]
    )
    assert refused.exit_code != 0
    assert "Traceback" not in refused.output
    said = " ".join(refused.output.replace("│", " ").split())
    assert "a reason is needed: at most 500 characters, not only spaces" in said
    after = (
        runner.invoke(app, ["users", "list"]).stdout,
        runner.invoke(app, ["tokens", "list", "vp"]).stdout,
    )
    assert after == before


def test_piped_users_list_prints_one_whole_tab_separated_line_per_user(env: Path) -> None:
    """`railyard users list | cat` drew an 80-column table and cut names ("vp.billing…"):
    piped, a header line and each user whole on one line, as `import requests` does."""
    name = "Valentina Billing, Vice President of Billing and Collections"
    created = runner.invoke(
        app,
        ["users", "create", "vp.billing.and.collections", "--role", "requester",
         "--department", "Billing and Collections", "--display-name", name],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0] == "username\tname\troles\tdepartment\tteam\tactive"
    assert f"vp.billing.and.collections\t{name}\trequester\tBilling and Collections\t\tyes" in (
        lines
    )
    assert "…" not in listed.stdout


def test_piped_tokens_list_prints_one_whole_tab_separated_line_per_token(env: Path) -> None:
    label = "the nightly deployment pipeline of the billing and collections team"
    issued = runner.invoke(app, ["tokens", "issue", "admin", "--label", label])
    token_id = TOKEN.match(issued.stdout.strip().splitlines()[-1]).group(1)  # type: ignore[union-attr]
    listed = runner.invoke(app, ["tokens", "list", "admin"])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0] == "id\tlabel\tissued (UTC)\texpires\trevoked"
    (line,) = [line for line in lines if line.startswith(f"{token_id}\t")]
    assert line.split("\t")[1] == label
    assert line.split("\t")[3:] == ["never", ""]


def test_on_a_terminal_users_list_is_a_table(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A person at a terminal reads a table, the store's text as written (not markup)."""
    from rich.console import Console

    from railyard import people_cli

    shown = io.StringIO()
    screen = Console(file=shown, force_terminal=True, width=200, color_system=None)
    monkeypatch.setattr(people_cli, "out", screen)
    runner.invoke(
        app, ["users", "create", "vp.x", "--role", "requester", "--department", "[Sales]"]
    )
    assert runner.invoke(app, ["users", "list"]).exit_code == 0
    table = shown.getvalue()
    assert "┃ username" in table
    assert "│ [Sales]" in table
