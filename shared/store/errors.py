"""Failures of the store that a caller can act on."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import psycopg
import psycopg_pool
from eventsourcing import persistence


class StoreUnavailable(Exception):
    """The database did not answer in time (lost connection, lock held too long).

    Nothing was acknowledged; the client may retry (with its Idempotency-Key)."""

    retry_after_s = 2


class WriteConflict(Exception):
    """Another writer changed the aggregate first; the caller's write was not stored."""

    def __init__(self, aggregate_id: UUID, current_version: int | None) -> None:
        super().__init__(f"aggregate {aggregate_id} was changed by another writer")
        self.aggregate_id = aggregate_id
        self.current_version = current_version


_SQLITE_BUSY = ("database is locked", "database table is locked", "busy")


def is_unavailable(exc: BaseException) -> bool:
    """True for failures that mean 'the store is not reachable or too busy now'."""
    if isinstance(exc, StoreUnavailable | psycopg_pool.PoolTimeout | psycopg.OperationalError):
        return True
    if isinstance(exc, psycopg.InterfaceError):
        return True
    if isinstance(exc, persistence.InterfaceError | persistence.OperationalError):
        cause = exc.__cause__
        if isinstance(cause, sqlite3.OperationalError):
            return any(marker in str(cause).lower() for marker in _SQLITE_BUSY)
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return any(marker in str(exc).lower() for marker in _SQLITE_BUSY)
    return False


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            raise StoreUnavailable(
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            ) from exc
        raise


def connection_problem(url: str, timeout_s: int = 3) -> str | None:
    """Why PostgreSQL at `url` refuses a connection, in its own words on one line (the
    pool says only that it "couldn't get a connection"); None when it accepts one."""
    try:
        psycopg.connect(url, connect_timeout=timeout_s).close()
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None
