"""`railyard verify`: an auditor's check that no event was changed or removed since written."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from railyard.console import err, out, say
from railyard.stores import name_the_store
from shared.settings import Settings, SettingsError, load_settings
from shared.store.errors import StoreUnavailable, translate_errors
from shared.store.integrity import LogVerifier, Verification
from shared.store.log import EventLog

MISMATCH = 1
CANNOT_VERIFY = 2


def _anchors(values: list[str]) -> dict[int, str]:
    anchors = {}
    for value in values:
        position, _, digest = value.partition(":")
        if not position.isdigit() or len(digest) != 64:
            say(f"an anchor is POSITION:HASH (64 hex digits), not {value!r}", "red")
            raise typer.Exit(CANNOT_VERIFY)
        anchors[int(position)] = digest.lower()
    return anchors


def _settings() -> Settings:
    try:
        # Verifying only reads: never create tables or hash anything on the way in.
        settings = load_settings(create_schema=False)
    except SettingsError as exc:
        say(f"{exc}", "red")
        raise typer.Exit(CANNOT_VERIFY) from None
    if settings.backend == "sqlite" and not settings.sqlite_path.is_file():
        # Opening it would create an empty store (and its directory) and verify nothing.
        say(
            f"there is no event store at {settings.sqlite_path}: set RAILYARD_DATA_DIR"
            " (or DATABASE_URL) to the one to verify",
            "red",
        )
        raise typer.Exit(CANNOT_VERIFY)
    name_the_store(settings)
    return settings


def verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            help="POSITION:HASH printed by an earlier run (repeatable): the chain must still"
            " pass through it, which also catches an owner who recomputed every hash.",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=100, max=100_000, help="Rows per read.")] = 5_000,
) -> None:
    """Recompute the log's hash chain and name the first event that does not match.

    Walks the whole log. Exits 0 printing the event count and the head hash, 1 on a
    mismatch."""
    anchors = _anchors(anchor or [])
    log: EventLog | None = None
    try:
        with translate_errors():
            log = EventLog(_settings())
            verifier = LogVerifier(log, batch_size=batch_size)
            result = _walk(verifier, anchors)
    except StoreUnavailable as exc:
        say(f"the event store is unavailable: {exc}", "red")
        raise typer.Exit(CANNOT_VERIFY) from None
    except Exception as exc:  # a store without the chain's table: the driver's own error type
        if "railyard_event_hashes" not in str(exc):
            raise
        say("this store has no hash chain yet: run `railyard migrate` first", "red")
        raise typer.Exit(CANNOT_VERIFY) from None
    finally:
        if log is not None:
            log.close()
    _report(result)


def _walk(verifier: LogVerifier, anchors: dict[int, str]) -> Verification:
    with Progress(
        TextColumn("verifying the log"),
        BarColumn(),
        TextColumn("position {task.completed:,.0f} of {task.total:,.0f}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("verify", total=None)
        return verifier.verify(
            anchors,
            progress=lambda position, stop: progress.update(task, completed=position, total=stop),
        )


def _report(result: Verification) -> None:
    if result.mismatch is not None:
        say(f"verified {result.events} events, then:", "red")
        out.print(f"MISMATCH {result.mismatch.describe()}", soft_wrap=True, highlight=False)
        raise typer.Exit(MISMATCH)
    out.print(f"verified {result.events} events", highlight=False)
    out.print(f"head position {result.head_position}", highlight=False)
    out.print(f"head hash {result.head_hash}", highlight=False)
    err.print(
        "Keep the head position and hash somewhere the database's owner cannot write;"
        f" a later run with --anchor {result.head_position}:{result.head_hash}"
        " proves nothing up to it was rewritten.",
        soft_wrap=True,
    )
