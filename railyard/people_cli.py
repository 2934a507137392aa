"""`railyard users ...` and `railyard tokens ...`: the admin's people and tokens, as the
HTTP API's `/api/users` and `/api/tokens` have them, with the same checks."""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Column

from railyard.console import err, out, print_rows, say
from shared.application import acting_as
from shared.domain import RuleViolation
from shared.identity.domain import MAX_REASON, Role, Team, check_username, is_email
from shared.platform import Platform

PlatformFactory = Callable[..., AbstractContextManager[Platform]]

TOKEN_ID = re.compile(r"[0-9a-fA-F]{16}")
"""A token's id, as `tokens list` shows it and `ry_<id>_<secret>` holds it."""

users_app = typer.Typer(help="People and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="API tokens: issue (shown once), list and revoke.", no_args_is_help=True
)


def _a_reason(value: str) -> str:
    """As the HTTP API checks it: stripped, something besides spaces, at most MAX_REASON
    characters (an empty reason was written into the person's history)."""
    stripped = value.strip()
    if not stripped or len(stripped) > MAX_REASON:
        raise typer.BadParameter(
            f"a reason is needed: at most {MAX_REASON} characters, not only spaces"
            f" ({len(stripped)} given); nothing was changed"
        )
    return stripped


# Required, as the API's `reason` is (annotations are read at module level).
Reason = Annotated[str, typer.Option(help="Why (kept in the user's history).", callback=_a_reason)]


def _an_email(value: str | None) -> str | None:
    """As the HTTP API checks it (POST /api/users): name@domain, at most 254 characters."""
    if value is not None and not is_email(value):
        raise typer.BadParameter(f"{value!r} is not an email address (name@example.com)")
    return value


def _new_password() -> str:
    """Asked twice, never echoed, as the browser asks: a typo is not a password nobody
    knows."""
    secret = getpass.getpass("New password: ")
    if getpass.getpass("The same password again: ") != secret:
        say("the two passwords differ: nothing was set", "red")
        raise typer.Exit(1)
    return secret


def _a_token_id(value: str) -> str:
    """16 hexadecimal characters, as `tokens list` shows them: anything else names no
    token, and is said as a mistake in the command, not as a token that is not there."""
    if not TOKEN_ID.fullmatch(value.strip()):
        raise typer.BadParameter(
            f"{value!r} is not a token id: a token id is 16 hexadecimal characters (0-9, a-f),"
            " as `railyard tokens list USER` shows them (in a token, the part after 'ry_')"
        )
    return value.strip().lower()


def _minute(instant: str) -> str:
    """2026-12-06T04:30:12.123+00:00 as 2026-12-06 04:30 (UTC)."""
    return datetime.fromisoformat(instant).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _known(platform: Platform, username: str, *, active: bool = False) -> None:
    """A user that is not there (or, when `active`, is deactivated) is said before
    anything is asked or done."""
    user = platform.directory.user(username)
    if user is None:
        say(f"refused (user_not_found): no user {username!r} (railyard users list)", "red")
        raise typer.Exit(1)
    if active and not user.active:
        say(
            f"refused (user_deactivated): {username} is deactivated: reactivate them first"
            f" (railyard users reactivate {username} --reason ...)",
            "red",
        )
        raise typer.Exit(1)


def register(app: typer.Typer, platform: PlatformFactory, actor: Callable[[], str]) -> None:
    """Add `users` and `tokens` to the `railyard` CLI."""
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    _users(platform, actor)
    _user_state(platform, actor)
    _tokens(platform, actor)


def _users(platform: PlatformFactory, actor: Callable[[], str]) -> None:
    @users_app.command("create")
    def create_user(
        username: str,
        role: Annotated[list[Role], typer.Option(help="Repeat for several roles.")],
        department: Annotated[str | None, typer.Option(help="Required for requesters.")] = None,
        team: Annotated[
            Team | None,
            typer.Option(
                help="IT team: required for it_staff (operations staff approve operations changes)."
            ),
        ] = None,
        display_name: Annotated[str, typer.Option(help="Full name.")] = "",
        email: Annotated[str | None, typer.Option(callback=_an_email)] = None,
        token: Annotated[bool, typer.Option(help="Also issue a token and print it.")] = False,
        password: Annotated[bool, typer.Option(help="Prompt for a sign-in password.")] = False,
    ) -> None:
        """Register a user."""
        with platform() as built, acting_as(actor()):
            if password:  # what would refuse the user, said before the password is typed
                check_username(username)
                if built.directory.user(username) is not None:
                    raise RuleViolation("user_exists", f"user {username!r} already exists")
            secret = _new_password() if password else None
            built.identity.register(
                username,
                display_name,
                [r.value for r in role],
                department,
                team.value if team else None,
                email,
            )
            err.print(f"created {username} ({', '.join(r.value for r in role)})")
            if secret:
                built.identity.set_password(username, secret)
            if token:
                issued = built.identity.issue_token(username, "cli")
                out.print(issued.token, soft_wrap=True)

    @users_app.command("list")
    def list_users() -> None:
        """Every user with their roles."""
        with platform(existing=True) as built:
            rows = [
                (
                    user.username,
                    user.display_name,
                    ", ".join(user.roles),
                    user.department or "",
                    user.team or "",
                    "yes" if user.active else "no",
                )
                for user in built.directory.users()
            ]
        print_rows(out, ("username", "name", "roles", "department", "team", "active"), rows)

    @users_app.command("set-password")
    def set_password(username: str) -> None:
        """Set a user's sign-in password (asked twice, never echoed)."""
        with platform(existing=True) as built, acting_as(actor()):
            _known(built, username, active=True)  # before the password is asked for
            built.identity.set_password(username, _new_password())
            err.print("password set")


def _user_state(platform: PlatformFactory, actor: Callable[[], str]) -> None:
    @users_app.command("deactivate")
    def deactivate(username: str, reason: Reason) -> None:
        """Deactivate a user: their tokens and sessions end, and they cannot sign in."""
        with platform(existing=True) as built, acting_as(actor()):
            built.identity.deactivate(username, reason)
            err.print(f"deactivated {username}: their tokens and sessions have ended")

    @users_app.command("reactivate")
    def reactivate(username: str, reason: Reason) -> None:
        """Reactivate a user: back with the password they had; ended tokens stay ended."""
        with platform(existing=True) as built, acting_as(actor()):
            built.identity.reactivate(username, reason)
            err.print(
                f"reactivated {username}: the tokens the deactivation ended stay ended"
                f" (railyard tokens issue {username})"
            )


def _tokens(platform: PlatformFactory, actor: Callable[[], str]) -> None:
    @tokens_app.command("issue")
    def issue_token(
        username: str,
        label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
        expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650)] = None,
    ) -> None:
        """Issue a token for a user and print it (the only time it is shown)."""
        with platform(existing=True) as built, acting_as(actor()):
            issued = built.identity.issue_token(username, label, expires_in_days)
            err.print(f"token {issued.token_id} for {username}; shown only now:")
            out.print(issued.token, soft_wrap=True)

    @tokens_app.command("list")
    def list_tokens(username: str) -> None:
        """A user's tokens: the id to revoke one by, its label, and when it was issued,
        expires and was revoked (never the secret, which is not kept)."""
        with platform(existing=True) as built:
            _known(built, username)
            rows = [
                (
                    row.token_id,
                    row.label,
                    _minute(row.issued_at),
                    _minute(row.expires_at) if row.expires_at else "never",
                    _minute(row.revoked_at) if row.revoked_at else "",
                )
                for row in built.directory.tokens(username)
            ]
        # The id whole, whatever the width: it is what tokens revoke takes.
        id_column = Column("id", no_wrap=True, min_width=16)
        print_rows(out, (id_column, "label", "issued (UTC)", "expires", "revoked"), rows)

    @tokens_app.command("revoke")
    def revoke_token(
        token_id: Annotated[str, typer.Argument(callback=_a_token_id)],
        reason: Annotated[
            str, typer.Option(help="Why it is revoked.", callback=_a_reason)
        ] = "revoked from the CLI",
    ) -> None:
        """Revoke a token by its id (`railyard tokens list USER`; the 16 hex characters
        after 'ry_')."""
        with platform(existing=True) as built, acting_as(actor()):
            owner = built.directory.token_owner(token_id)
            if owner is None:
                say(
                    f"refused (token_not_found): no token has the id {token_id}"
                    " (railyard tokens list USER shows a user's tokens)",
                    "red",
                )
                raise typer.Exit(1)
            built.identity.revoke_token(owner, token_id, reason)
            err.print(f"revoked token {token_id} of {owner}")
