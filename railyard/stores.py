"""Which event store a command uses, said before it uses it.

Every command finds the store from the directory it runs in (`./var/`, or
`RAILYARD_DATA_DIR`) or `DATABASE_URL`: run from another directory, it found (or made)
another store, and read or wrote it without a word.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import typer

from railyard.console import say
from shared.settings import Settings


def store_name(settings: Settings) -> str:
    """The event store a command uses, as a person finds it again (no password)."""
    if settings.backend == "postgres":
        where = urlsplit(settings.database_url or "")
        at = f"{where.hostname or 'localhost'}:{where.port or 5432}{where.path}"
        return f"PostgreSQL {at} (schema {settings.db_schema})"
    return f"SQLite at {settings.sqlite_path.resolve()}"


def missing_store(settings: Settings) -> bool:
    """Whether the embedded store is not there yet (opening it would make an empty one)."""
    return settings.backend == "sqlite" and not settings.sqlite_path.is_file()


def refuse_missing_store(settings: Settings, code: int = 1, hint: str = "") -> None:
    """A command with nothing to read in a new store says so rather than making one
    (`hint`: what to do if a new store is what was meant)."""
    if not missing_store(settings):
        return
    say(
        f"there is no event store at {settings.sqlite_path.resolve()}: run the command in the"
        " directory the server runs in (the repository's, for `make run`), or set"
        f" RAILYARD_DATA_DIR to the store's directory (or DATABASE_URL to its database){hint}",
        "red",
    )
    raise typer.Exit(code)


def name_the_store(settings: Settings) -> None:
    """One line on stderr, before anything is read or written."""
    say(f"event store: {store_name(settings)}")
