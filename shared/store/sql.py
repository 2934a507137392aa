"""One small SQL surface over the two backends, for views, positions and idempotency keys.

Statements are written once with `:name` parameters and the subset of SQL that SQLite and
PostgreSQL share (TEXT, BIGINT, DOUBLE PRECISION, `INSERT ... ON CONFLICT`). Connections
come from the `eventsourcing` datastore, so a process has one pool per database.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol

import psycopg
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteDatastore
from psycopg.rows import tuple_row

from shared.store.errors import translate_errors

Params = Mapping[str, Any]
Row = dict[str, Any]

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=2_048)
def to_pyformat(statement: str) -> str:
    """`:name` -> `%(name)s`, leaving PostgreSQL casts (`::text`) alone.

    Literals are not parsed: bind any value containing `:word` as a parameter. Cached:
    a process runs the same few hundred statements over and over, and the substitution
    was 4-7% of a served command's CPU."""

    return _NAMED.sub(r"%(\1)s", statement.replace("%", "%%"))


class Cursor(Protocol):
    """The few cursor operations views need, the same on both backends."""

    def execute(self, statement: str, params: Params | None = None) -> None: ...
    def executemany(self, statement: str, rows: Sequence[Params]) -> None: ...
    def fetchall(self) -> list[Row]: ...
    def fetchone(self) -> Row | None: ...
    def scalar(self, statement: str, params: Params | None = None) -> Any: ...
    def tuples(self, statement: str, params: Params | None = None) -> list[tuple[Any, ...]]: ...
    def tuples_in(
        self, statement: str, column: str, values: Collection[str]
    ) -> list[tuple[Any, ...]]: ...
    def upsert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], key: str = "id"
    ) -> None: ...
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...
    def pipeline(self) -> AbstractContextManager[None]: ...
    @property
    def rowcount(self) -> int: ...


_SQLITE_IN_CHUNK = 500  # below SQLite's default limit of bound parameters


def _upsert_statement(table: str, columns: Sequence[str], key: str, source: str) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return f"INSERT INTO {table} ({', '.join(columns)}) {source} ON CONFLICT ({key}) {action}"


class SqlDatabase(Protocol):
    backend: str

    def transaction(self, *, write: bool = False) -> AbstractContextManager[Cursor]: ...

    def script(self, build: Callable[[Cursor], None]) -> None:
        """Run, in one write transaction, the statements `build` executes (it reads no
        result)."""


class _Recorder:
    """A cursor that only keeps what is executed, for `PostgresDatabase.script`."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Params | None]] = []

    def execute(self, statement: str, params: Params | None = None) -> None:
        self.statements.append((statement, params))

    def __getattr__(self, name: str) -> Any:
        raise TypeError(f"a script's statements return nothing to read ({name})")


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

    def tuples(self, statement: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        self._cursor.execute(statement, dict(params or {}))
        return [tuple(row) for row in self._cursor.fetchall()]

    def tuples_in(
        self, statement: str, column: str, values: Collection[str]
    ) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        wanted = list(values)
        for start in range(0, len(wanted), _SQLITE_IN_CHUNK):
            chunk = wanted[start : start + _SQLITE_IN_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            self._cursor.execute(f"{statement} {column} IN ({marks})", chunk)
            out.extend(tuple(row) for row in self._cursor.fetchall())
        return out

    def upsert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], key: str = "id"
    ) -> None:
        if rows:
            values = f"VALUES ({', '.join('?' for _ in columns)})"
            self._cursor.executemany(_upsert_statement(table, columns, key, values), rows)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            values = f"VALUES ({', '.join('?' for _ in columns)})"
            self._cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) {values}", rows)

    def pipeline(self) -> AbstractContextManager[None]:
        return nullcontext()  # in-process: there are no round trips to save

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


NUL, REPLACEMENT = "\x00", "\ufffd"


def _without_nul(params: Params) -> dict[str, Any]:
    """The parameters, any NUL character in a text (or a list of texts) replaced by
    U+FFFD: PostgreSQL's text cannot hold one, and a view that cannot take an event would
    stop following the log. The log itself keeps the event as it was (its state is bytes);
    the API and the pages refuse such text before it is recorded."""
    out = dict(params)
    for name, value in out.items():
        if type(value) is str:
            if NUL in value:
                out[name] = value.replace(NUL, REPLACEMENT)
        elif type(value) is list:
            out[name] = _texts_without_nul(value)
    return out


def _texts_without_nul(values: list[Any]) -> list[Any]:
    """The list itself when no text of it holds NUL, else a copy with U+FFFD for it."""
    if not any(type(v) is str and NUL in v for v in values):
        return values
    return [v.replace(NUL, REPLACEMENT) if type(v) is str else v for v in values]


_SEPARATOR, _NULL = "\x1e", "\x1f"
"""Between the values of a column sent as one text, and standing for NULL: control
characters no JSON text holds unescaped, nor any identifier or instant."""
_SPLIT = "string_to_array(%s::text, E'\\x1e', E'\\x1f')"
_ARRAY = "%b::text[]"


def _columns(rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """The rows as `SELECT * FROM unnest(...)`, each column one parameter (`_column`)."""
    sent = [_column(values) for values in zip(*rows, strict=True)]
    return f"SELECT * FROM unnest({', '.join(s for s, _ in sent)})", [p for _, p in sent]


def _column(values: tuple[Any, ...]) -> tuple[str, Any]:
    """A column as one text the server splits at a separator, or, when a value holds the
    separator, is the NULL mark or is not a text, as a text array in binary. psycopg dumps
    an array element by element in Python: that cost a rebuild's writer 5 of its 12 ms of
    CPU for 2,000 records, where joining a column into one text is a single call."""
    if _NULL in values:
        return _ARRAY, _texts_without_nul(list(values))
    try:
        joined = _SEPARATOR.join([_NULL if value is None else value for value in values])
    except TypeError:
        return _ARRAY, _texts_without_nul(list(values))
    if joined.count(_SEPARATOR) == len(values) - 1:
        return _SPLIT, joined.replace(NUL, REPLACEMENT) if NUL in joined else joined
    return _ARRAY, _texts_without_nul(list(values))


class _PostgresCursor:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def execute(self, statement: str, params: Params | None = None) -> None:
        self._cursor.execute(to_pyformat(statement), _without_nul(params or {}))

    def executemany(self, statement: str, rows: Sequence[Params]) -> None:
        self._cursor.executemany(to_pyformat(statement), [_without_nul(r) for r in rows])

    # The pool's connections make each row a new dict (eventsourcing's dict_row): copying
    # it again cost a duplicate check some 5% of its CPU (325 open titles each time).
    def fetchall(self) -> list[Row]:
        rows: list[Row] = self._cursor.fetchall()
        return rows

    def fetchone(self) -> Row | None:
        row: Row | None = self._cursor.fetchone()
        return row

    def scalar(self, statement: str, params: Params | None = None) -> Any:
        self.execute(statement, params)
        row = self._cursor.fetchone()
        return None if row is None else next(iter(row.values()))

    def tuples(self, statement: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        # Plain tuples, in binary: a dict per row costs more than the rest of reading it,
        # and a bytea column in text comes hex-encoded (twice the bytes, then decoded).
        with self._cursor.connection.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(to_pyformat(statement), dict(params or {}), binary=True)
            return cursor.fetchall()

    def tuples_in(
        self, statement: str, column: str, values: Collection[str]
    ) -> list[tuple[Any, ...]]:
        # One array parameter, whatever the number of values: a statement of its own
        # for each list length is parsed (by psycopg and the server) every time.
        with self._cursor.connection.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(f"{statement} {column} = ANY(%b::text[])", [list(values)], binary=True)
            return cursor.fetchall()

    def upsert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], key: str = "id"
    ) -> None:
        """One statement for every row (without prepared statements, see recorders.py,
        executemany has the server parse and plan the statement again for each row);
        values are texts or None, sent as `_columns` sends them."""
        if rows:
            source, params = _columns(rows)
            self._cursor.execute(_upsert_statement(table, columns, key, source), params)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """New rows, sent as `upsert` sends them."""
        if rows:
            source, params = _columns(rows)
            self._cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) {source}", params)

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """Statements executed inside are sent without waiting for each one's result (libpq's
        pipeline mode): a fetch waits for what was sent before it, an error is raised at the
        next fetch or at the end. For a batch of writes whose results nobody reads."""
        with self._cursor.connection.pipeline():
            yield

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


def _lower(value: object) -> str | None:
    return None if value is None else str(value).lower()


class UnicodeSQLitePool(SQLiteConnectionPool):
    """SQLite's own LOWER() folds ASCII letters only: a search for "ünïcode" missed
    "Ünïcode". Each connection's LOWER() is Python's, which folds every letter, as
    PostgreSQL's does in a UTF-8 database."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        # eventsourcing keeps the sqlite3 connection private and offers no hook for
        # functions; this pool is the one place that makes connections.
        raw: sqlite3.Connection = connection._sqlite_conn
        raw.create_function("lower", 1, _lower, deterministic=True)
        return connection


def unicode_lower(datastore: SQLiteDatastore) -> SQLiteDatastore:
    """The datastore, its pool replaced (before it made any connection) by one whose
    connections fold case as PostgreSQL does (`UnicodeSQLitePool`)."""
    pool = datastore.pool
    datastore.pool = UnicodeSQLitePool(
        db_name=pool.db_name,
        lock_timeout=pool.lock_timeout,
        pool_size=pool.pool_size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.pool_timeout,
        max_age=pool.max_age,
        pre_ping=pool.pre_ping,
    )
    return datastore


class SQLiteDatabase:
    backend = "sqlite"

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def script(self, build: Callable[[Cursor], None]) -> None:
        with self.transaction(write=True) as cur:
            build(cur)

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

    def script(self, build: Callable[[Cursor], None]) -> None:
        """The statements sent as one message, BEGIN to COMMIT: one round trip, where a
        transaction of separate statements waits for the server at least three times
        (BEGIN, the statements, COMMIT), and each wait, while another thread of the
        process decodes or folds, for the interpreter lock again: up to 5 ms each."""
        recorder = _Recorder()
        build(recorder)
        with translate_errors(), self.datastore.get_connection() as conn:
            bind = psycopg.ClientCursor(conn)
            body = ";\n".join(
                bind.mogrify(to_pyformat(statement), dict(params or {}))
                for statement, params in recorder.statements
            )
            try:
                # No parameters: the simple protocol, which runs several statements.
                conn.execute(f"BEGIN;\n{body};\nCOMMIT")
            except BaseException:
                conn.rollback()  # the BEGIN it ran is still open
                raise


def escape_like(value: str) -> str:
    """Match the text literally: LIKE's wildcards are escaped (used with ESCAPE '\\')."""
    return value.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def on_days(
    column: str, first: date | None, last: date | None, zone: tzinfo
) -> tuple[list[str], dict[str, str]]:
    """Conditions (and their parameters) for an instant `column` to fall on the business
    days `first` to `last` of `zone`, both counted, either left open. The column holds
    instants as the log spells them (UTC, `isoformat`: no microseconds when there are
    none), and so do the bounds: "2026-03-01T05:00:00+00:00" sorts at or before every
    instant of that second, with or without microseconds."""

    def begins(day: date) -> str:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC).isoformat()

    clauses, params = [], {}
    if first is not None:
        clauses.append(f"{column} >= :{column}_from")
        params[f"{column}_from"] = begins(first)
    if last is not None:
        clauses.append(f"{column} < :{column}_before")
        params[f"{column}_before"] = begins(last + timedelta(days=1))
    return clauses, params


DDL_LOCK_KEY = 0x5241494C  # "RAIL": serialises schema changes across processes


def lock_for_ddl(db: SqlDatabase, cur: Cursor) -> None:
    """Hold the schema lock until the transaction ends. PostgreSQL fails concurrent
    CREATE ... IF NOT EXISTS of the same object; SQLite's write lock already serialises."""
    if db.backend == "postgres":
        cur.execute(f"SELECT pg_advisory_xact_lock({DDL_LOCK_KEY})")
