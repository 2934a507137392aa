"""One small SQL surface over the two backends, for views, positions and idempotency keys.

Statements are written once with `:name` parameters and the subset of SQL that SQLite and
PostgreSQL share (TEXT, BIGINT, DOUBLE PRECISION, `INSERT ... ON CONFLICT`). Connections
come from the `eventsourcing` datastore, so a process has one pool per database.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import psycopg
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from shared.store.errors import translate_errors

Params = Mapping[str, Any]
Row = dict[str, Any]

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def to_pyformat(statement: str) -> str:
    """`:name` -> `%(name)s`, leaving PostgreSQL casts (`::text`) alone.

    Literals are not parsed: bind any value containing `:word` as a parameter."""

    return _NAMED.sub(r"%(\1)s", statement.replace("%", "%%"))


class Cursor(Protocol):
    """The few cursor operations views need, the same on both backends."""

    def execute(self, statement: str, params: Params | None = None) -> None: ...
    def executemany(self, statement: str, rows: Sequence[Params]) -> None: ...
    def fetchall(self) -> list[Row]: ...
    def fetchone(self) -> Row | None: ...
    def scalar(self, statement: str, params: Params | None = None) -> Any: ...
    @property
    def rowcount(self) -> int: ...


class SqlDatabase(Protocol):
    backend: str

    def transaction(self, *, write: bool = False) -> AbstractContextManager[Cursor]: ...


class _SQLiteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, statement: str, params: Params | None = None) -> None:
        self._cursor.execute(statement, dict(params or {}))

    def executemany(self, statement: str, rows: Sequence[Params]) -> None:
        self._cursor.executemany(statement, [dict(r) for r in rows])

    def fetchall(self) -> list[Row]:
        return [dict(row) for row in self._cursor.fetchall()]

    def fetchone(self) -> Row | None:
        row = self._cursor.fetchone()
        return dict(row) if row is not None else None

    def scalar(self, statement: str, params: Params | None = None) -> Any:
        self.execute(statement, params)
        row = self._cursor.fetchone()
        return None if row is None else row[0]

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class _PostgresCursor:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def execute(self, statement: str, params: Params | None = None) -> None:
        self._cursor.execute(to_pyformat(statement), dict(params or {}))

    def executemany(self, statement: str, rows: Sequence[Params]) -> None:
        self._cursor.executemany(to_pyformat(statement), [dict(r) for r in rows])

    def fetchall(self) -> list[Row]:
        return [dict(row) for row in self._cursor.fetchall()]

    def fetchone(self) -> Row | None:
        row = self._cursor.fetchone()
        return dict(row) if row is not None else None

    def scalar(self, statement: str, params: Params | None = None) -> Any:
        self.execute(statement, params)
        row = self._cursor.fetchone()
        return None if row is None else next(iter(row.values()))

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class SQLiteDatabase:
    backend = "sqlite"

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Cursor]:
        # BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that
        # reads and then writes can fail at once with SQLITE_BUSY instead of waiting.
        with translate_errors(), self.datastore.get_connection(commit=write) as conn:
            raw = conn.cursor()
            raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _SQLiteCursor(raw.sqlite_cursor)
            except BaseException:
                conn.rollback()
                raise
            if write:
                conn.commit()
            else:
                conn.rollback()


class PostgresDatabase:
    backend = "postgres"

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Cursor]:
        with translate_errors(), self.datastore.get_connection() as conn:
            if not write:
                # The pool's connections are in autocommit mode. At READ COMMITTED every
                # statement takes its own snapshot inside a transaction too, so BEGIN and
                # COMMIT around reads bought no consistency, only two more round trips.
                yield _PostgresCursor(conn.cursor())
                return
            with conn.transaction():
                yield _PostgresCursor(conn.cursor())


DDL_LOCK_KEY = 0x5241494C  # "RAIL": serialises schema changes across processes


def lock_for_ddl(db: SqlDatabase, cur: Cursor) -> None:
    """Hold the schema lock until the transaction ends. PostgreSQL fails concurrent
    CREATE ... IF NOT EXISTS of the same object; SQLite's write lock already serialises."""
    if db.backend == "postgres":
        cur.execute(f"SELECT pg_advisory_xact_lock({DDL_LOCK_KEY})")
