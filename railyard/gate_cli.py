"""`railyard gate ...`: the deployment gate's command line (see railyard/gate.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from railyard.console import say
from railyard.gate import (
    EXIT_NOT_COVERED,
    GateError,
    check,
    client_for,
    named,
    report,
    run,
    why,
)

gate_app = typer.Typer(
    help="For deployment pipelines: no approved change, no deployment.", no_args_is_help=True
)

Url = Annotated[str, typer.Option(envvar="RAILYARD_URL", help="Railyard's base URL.")]
Token = Annotated[
    str, typer.Option(envvar="RAILYARD_TOKEN", help="A pipeline token.", show_default=False)
]
Subsystem = Annotated[str, typer.Option(help="The subsystem being deployed.")]
ChangeId = Annotated[
    str | None, typer.Option(help="The production change this deployment belongs to.")
]
Version = Annotated[str, typer.Option(help="The version being deployed.")]
IdempotencyKey = Annotated[
    str | None,
    typer.Option(
        envvar="RAILYARD_IDEMPOTENCY_KEY",
        help="A key of the pipeline's (e.g. the CI job id): re-running the step with it"
        " records the deployment once.",
    ),
]


EXAMPLE_INSTANT = "2026-12-06T21:30:00+00:00"


def _an_instant(value: str | None) -> str | None:
    """ISO 8601 with its offset, as `date -Iseconds` prints it (`Z` for UTC, seconds and
    fractions optional): a date alone or a time without an offset names no instant."""
    if value is None:
        return None
    example = f"e.g. {EXAMPLE_INSTANT} or 2026-12-06T21:30:00Z (date -Iseconds)"
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date and time: write it as {example}"
        ) from None
    if instant.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no offset (or no time): give the time and its offset, {example}"
        )
    return instant.isoformat()


def _fail(exc: GateError) -> typer.Exit:
    say(str(exc), "red")
    return typer.Exit(exc.exit_code)


@gate_app.command("check")
def gate_check(url: Url, token: Token, subsystem: Subsystem, change_id: ChangeId = None) -> None:
    """Exit 0 when an approved change covers deploying SUBSYSTEM now, else exit 1 (2 for a
    subsystem the catalogue does not have: the step is written wrongly)."""
    try:
        with client_for(url, token) as client:
            verdict = check(client, subsystem, change_id)
    except GateError as exc:
        raise _fail(exc) from None
    say(verdict.message)
    if not verdict.covered:
        raise typer.Exit(verdict.exit_code)
    print(verdict.change_id)


@gate_app.command("report")
def gate_report(
    url: Url,
    token: Token,
    subsystem: Subsystem,
    version: Version,
    change_id: ChangeId = None,
    idempotency_key: IdempotencyKey = None,
    deployed_at: Annotated[
        str | None,
        typer.Option(
            callback=_an_instant,
            metavar="INSTANT",
            help=f"When the deployment began, ISO 8601 with its offset: {EXAMPLE_INSTANT}"
            " or 2026-12-06T21:30:00Z, as `date -Iseconds` gives it (default: now).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Tell Railyard what was deployed (recorded always; flagged when not covered)."""
    with client_for(url, token) as client:
        try:
            began = datetime.fromisoformat(deployed_at) if deployed_at else None
            answer = report(client, subsystem, version, change_id, idempotency_key, began)
        except GateError as exc:
            raise _fail(exc) from None
        if answer["unauthorised"]:
            say(f"recorded as an UNAUTHORISED change: {why(client, answer)}", "red")
            raise typer.Exit(EXIT_NOT_COVERED)
        say(f"recorded deployment {answer['id']} under {named(client, answer['change_id'])}")


@gate_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def gate_run(
    ctx: typer.Context,
    url: Url,
    token: Token,
    subsystem: Subsystem,
    version: Version,
    change_id: ChangeId = None,
    idempotency_key: IdempotencyKey = None,
) -> None:
    """Check, run the deployment command after `--` only if covered, then report it."""
    if not ctx.args:
        say("give the deployment command after --", "red")
        raise typer.Exit(2)
    try:
        with client_for(url, token) as client:
            code = run(client, subsystem, version, list(ctx.args), say, change_id, idempotency_key)
    except GateError as exc:
        raise _fail(exc) from None
    raise typer.Exit(code)
