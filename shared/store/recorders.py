"""The library's application recorders, extended with what Railyard writes atomically
alongside events: idempotency keys, reaction ledger entries and the hash chain.

All three run inside the insert's transaction, so an idempotency key (or an event's hash)
is stored if and only if the events it belongs to are. The hash chain is extended after
the events are inserted, while the insert still holds the log's write lock, so it never
forks (shared/store/chain.py). The PostgreSQL insert takes the library's `LOCK TABLE ...
IN EXCLUSIVE MODE` (positions commit in order, so a reader paging by position never misses
an event), and does the claim, the lock, the events and their hashes in one statement, a
database function of ours (decisions 96 and 97); the library's own database-function
mode stays off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from psycopg import Connection, Pipeline
from psycopg.errors import LockNotAvailable, QueryCanceled
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

from shared.store.chain import (
    EXTEND_FUNCTION,
    HASHES_TABLE,
    HASHES_TABLE_DDL,
    ChainWriter,
    extend_function_ddl,
    sql_chain_head,
    sql_content_hash,
    sql_insert_link,
)
from shared.store.errors import StoreUnavailable

log = structlog.get_logger(__name__)

EVENTS_TABLE = "railyard_events"
IDEMPOTENCY_TABLE = "railyard_idempotency"
POSITIONS_TABLE = "railyard_positions"
REACTIONS_TABLE = "railyard_reactions"
SECRETS_TABLE = "railyard_secrets"


@dataclass(frozen=True)
class Claim:
    """An idempotency key claimed by one write, with the response it produced."""

    scope: str
    key: str
    fingerprint: str
    status: int
    response: str
    recorded_at: str


@dataclass(frozen=True)
class ReactionMark:
    """A reaction's processing of one log position, written with the reaction's events."""

    name: str
    position: int


# Tables both backends share, in the common SQL subset.
COMMON_TABLES = (
    f"CREATE TABLE IF NOT EXISTS {IDEMPOTENCY_TABLE} ("
    " scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " status INTEGER NOT NULL, response TEXT NOT NULL, recorded_at TEXT NOT NULL,"
    " PRIMARY KEY (scope, key))",
    f"CREATE TABLE IF NOT EXISTS {POSITIONS_TABLE} ("
    " name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {REACTIONS_TABLE} ("
    " name TEXT NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (name, position))",
    HASHES_TABLE_DDL,
    # Created here, by the migrate step, because the role the services run as may not
    # create tables (shared/store/secrets.py fills it on first use).
    f"CREATE TABLE IF NOT EXISTS {SECRETS_TABLE} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
# Tables whose rows, once written, are never changed or removed.
APPEND_ONLY_TABLES = (EVENTS_TABLE, HASHES_TABLE)

_INSERT_CLAIM = (
    f"INSERT INTO {IDEMPOTENCY_TABLE} (scope, key, fingerprint, status, response, recorded_at)"
    " VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
)
_INSERT_MARK = f"INSERT INTO {REACTIONS_TABLE} (name, position) VALUES ({{p}}, {{p}})"


APPEND_FUNCTION = "railyard_append"
_NO_CLAIM = (None,) * 6


def append_function_ddl(schema: str, id_type: str, channel: str) -> str:
    """A PostgreSQL function that appends events as one statement: the claim or reaction
    mark, then (when there are events) the library's insert as it does it (`SET LOCAL
    lock_timeout`, `LOCK TABLE ... IN EXCLUSIVE MODE`, `NOTIFY`, the rows) and their
    links of the hash chain, hashed from the values it was given; it returns the events'
    positions in order and how many events the chain took on (more than its own when
    events before them had no hash). Called in autocommit, the statement is the
    transaction (decision 97). `schema` is a quoted identifier, `id_type` the aggregate
    id's column type, `channel` the library's notification channel. No braces: the text
    goes through `SQL.format`."""
    events, hashes = f"{schema}.{EVENTS_TABLE}", f"{schema}.{HASHES_TABLE}"
    content = sql_content_hash("positions[i]", "ids[i]", "versions[i]", "topics[i]", "states[i]")
    return (
        f"CREATE OR REPLACE FUNCTION {schema}.{APPEND_FUNCTION}("
        f"ids {id_type}[], versions BIGINT[], topics TEXT[], states BYTEA[],"
        " claim_scope TEXT, claim_key TEXT, claim_fingerprint TEXT, claim_status INTEGER,"
        " claim_response TEXT, claim_recorded_at TEXT, mark_name TEXT, mark_position BIGINT,"
        " lock_wait TEXT) RETURNS TABLE (positions BIGINT[], hashed BIGINT)"
        " LANGUAGE plpgsql AS $$ DECLARE head BIGINT; previous BYTEA; content BYTEA;"
        " i INTEGER; BEGIN"
        " IF claim_scope IS NOT NULL THEN"
        f" INSERT INTO {schema}.{IDEMPOTENCY_TABLE}"
        " (scope, key, fingerprint, status, response, recorded_at) VALUES (claim_scope,"
        " claim_key, claim_fingerprint, claim_status, claim_response, claim_recorded_at);"
        " END IF;"
        " IF mark_name IS NOT NULL THEN"
        f" INSERT INTO {schema}.{REACTIONS_TABLE} (name, position)"
        " VALUES (mark_name, mark_position); END IF;"
        " IF cardinality(ids) > 0 THEN"
        " PERFORM set_config('lock_timeout', lock_wait, true);"
        f" LOCK TABLE {events} IN EXCLUSIVE MODE;"
        f" PERFORM pg_notify('{channel}', '');"
        f" WITH inserted AS (INSERT INTO {events}"
        " (originator_id, originator_version, topic, state)"
        " SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id)"
        " SELECT array_agg(notification_id ORDER BY notification_id) INTO positions"
        " FROM inserted;"
        f" {sql_chain_head(hashes)}"
        # Events before these without a hash (written by a process predating the chain):
        # the chain takes them all on, from the table, in order. A bounded range, so the
        # cached plan is an index scan however large the log grows.
        f" IF EXISTS (SELECT 1 FROM {events}"
        " WHERE notification_id > head AND notification_id < positions[1]) THEN"
        f" hashed := {schema}.{EXTEND_FUNCTION}(); ELSE"
        " FOR i IN 1 .. cardinality(ids) LOOP"
        f" content := {content};"
        " previous := sha256(previous || content);"
        f" {sql_insert_link(hashes, 'positions[i]', 'ids[i]', 'versions[i]')}"
        " END LOOP; hashed := cardinality(ids); END IF;"
        " END IF; RETURN NEXT; END $$"
    )


def _claim_params(claim: Claim) -> tuple[Any, ...]:
    return (
        claim.scope,
        claim.key,
        claim.fingerprint,
        claim.status,
        claim.response,
        claim.recorded_at,
    )


class RailyardSQLiteRecorder(SQLiteApplicationRecorder):
    """SQLite: the embedded default. Triggers refuse UPDATE and DELETE on events and hashes."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        super().__init__(datastore, events_table_name=EVENTS_TABLE)
        self.chain = ChainWriter(
            events=EVENTS_TABLE, hashes=HASHES_TABLE, position="rowid", param="?"
        )

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.extend(COMMON_TABLES)
        for table in APPEND_ONLY_TABLES:
            for operation in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} "
                    f"BEFORE {operation} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END"
                )
        return statements

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        claim: Claim | None = kwargs.get("claim")
        mark: ReactionMark | None = kwargs.get("mark")
        if claim is not None:
            c.execute(_INSERT_CLAIM.format(p="?"), _claim_params(claim))
        if mark is not None:
            c.execute(_INSERT_MARK.format(p="?"), (mark.name, mark.position))
        ids = super()._insert_events(c, stored_events, **kwargs)
        # Still in the insert's write transaction: no other writer can be between.
        _caught_up(self.chain.extend(c, ids or (), stored_events))
        return ids

    def extend_chain(self) -> int:
        """Hash every event after the chain's head (a store written before the chain
        existed); returns how many. One write transaction, so writers wait meanwhile."""
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")  # take the write lock before reading the head
            try:
                count = self.chain.extend(cursor)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return count


# A pooled connection idle for longer than this is checked with an empty query before
# use; one in steady use is not (decision 0082).
PING_AFTER_IDLE_S = 1.0


class PipelineSafeConnection(Connection[DictRow]):
    """A pooled connection that is closed, not reused, after a pipeline of it failed.

    psycopg prepares a statement on a connection once it has run it a few times; the
    server then parses and plans it once instead of on every execution (over half of
    PostgreSQL's work for an approval). In a pipeline, though, when one statement fails
    (inserts were pipelined until decision 97; a view's batch still is) the server skips
    the rest, and psycopg could take a statement it sent there to be prepared as
    prepared: the connection's next use of it failed with 'prepared statement "_pg3_N"
    does not exist'. Such a
    connection is closed (`RailyardPostgresDatastore.get_connection`) and the pool makes
    a new one: a failed write is rare, a planned statement is every request (decision 94)."""

    piped = False
    """Whether a pipeline ran on it since it was taken from the pool."""

    @contextmanager
    def pipeline(self) -> Iterator[Pipeline]:
        self.piped = True
        with super().pipeline() as pipeline:
            yield pipeline


class RailyardPostgresDatastore(PostgresDatastore):
    """Adds a statement timeout to every pooled connection, so no request waits forever,
    drops a connection whose pipeline failed (`PipelineSafeConnection`), and checks a
    connection before use only when it has been idle (see PING_AFTER_IDLE_S)."""

    def __init__(self, *args: Any, statement_timeout_ms: int, **kwargs: Any) -> None:
        self.statement_timeout_ms = statement_timeout_ms
        super().__init__(*args, **kwargs)
        # The library names its connection class when it builds the pool; the pool opens
        # later (open=False), so every connection it makes is of this class.
        self.pool.connection_class = PipelineSafeConnection
        if self.pre_ping:
            # The library's pre_ping checks on every checkout: a round trip more for each
            # of the dozen short transactions of a request.
            self.pool._check = _check_if_idle  # psycopg_pool keeps its check callback here

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        with super().get_connection() as conn:
            if isinstance(conn, PipelineSafeConnection):
                conn.piped = False
            try:
                yield conn
            except psycopg.Error:
                if isinstance(conn, PipelineSafeConnection) and conn.piped:
                    conn.close()  # its prepared statements may be out of step with the server
                raise
            finally:
                conn._railyard_idle_since = time.monotonic()  # type: ignore[attr-defined]  # our mark on psycopg's connection

    def after_connect_func(self) -> Callable[[Connection[Any]], None]:
        library_setup = super().after_connect_func()
        timeout = SQL("SET statement_timeout = {0}").format(int(self.statement_timeout_ms))

        def after_connect(conn: Connection[Any]) -> None:
            library_setup(conn)
            conn.cursor().execute(timeout)

        return after_connect


class RailyardPostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL: append-only enforced by triggers the service role cannot disable."""

    # Reconnect quickly after a dropped connection, but give up within a bounded time:
    # the client gets a 503 with Retry-After rather than a request that hangs.
    connection_retries = 3
    connection_retry_wait_s = 0.2

    def __init__(self, datastore: PostgresDatastore) -> None:
        if datastore.enable_db_functions:
            # Its insert function bypasses the hooks below: no claims, no hash chain,
            # and no table lock (readers would miss events).
            raise ValueError("the library's database-function insert mode must stay off")
        super().__init__(datastore, events_table_name=EVENTS_TABLE)
        schema = Identifier(datastore.schema)
        self.sql_create_statements.extend(
            SQL(s).format() for s in _qualified(COMMON_TABLES, datastore)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.railyard_refuse_change() "
                "RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'the event log is append-only: % refused', TG_OP "
                "USING ERRCODE = 'insufficient_privilege'; END $$"
            ).format(schema=schema)
        )
        for guarded in APPEND_ONLY_TABLES:
            for name, when in (
                (
                    f"{guarded}_append_only",
                    "BEFORE UPDATE OR DELETE ON {schema}.{table} FOR EACH ROW",
                ),
                (
                    f"{guarded}_no_truncate",
                    "BEFORE TRUNCATE ON {schema}.{table} FOR EACH STATEMENT",
                ),
            ):
                self.sql_create_statements.append(
                    SQL(
                        "CREATE OR REPLACE TRIGGER {name} " + when + " "
                        "EXECUTE FUNCTION {schema}.railyard_refuse_change()"
                    ).format(name=Identifier(name), schema=schema, table=Identifier(guarded))
                )
        quoted = f'"{datastore.schema}".'
        self.sql_create_statements.append(
            SQL(
                extend_function_ddl(
                    f'"{datastore.schema}"', quoted + EVENTS_TABLE, quoted + HASHES_TABLE
                )
            ).format()
        )
        self._extend_chain = SQL("SELECT {schema}.{function}() AS hashed").format(
            schema=schema, function=Identifier(EXTEND_FUNCTION)
        )
        id_type = datastore.originator_id_type
        self.sql_create_statements.append(
            SQL(append_function_ddl(f'"{datastore.schema}"', id_type, self.channel_name)).format()
        )
        # A plain string, parsed once by psycopg (a composed statement is rendered again on
        # every execution); arrays in binary, so an event's state is sent as it is.
        self._append_statement = (
            f'SELECT positions, hashed FROM "{datastore.schema}".{APPEND_FUNCTION}('
            f"%b::{id_type}[], %b::BIGINT[], %b::TEXT[], %b::BYTEA[], %s::TEXT, %s::TEXT,"
            " %s::TEXT, %s::INTEGER, %s::TEXT, %s::TEXT, %s::TEXT, %s::BIGINT, %s::TEXT)"
        )
        self._lock_wait = f"{datastore.lock_timeout}s"

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The library retries lost connections ten times, and also retries a lock
        # timeout; ours retries only the connection, a few times, so a write ends
        # within the configured lock timeout plus a bounded reconnect time.
        attempt = 0
        while True:
            try:
                return self._insert_at_once(stored_events, **kwargs)
            except (InterfaceError, OperationalError) as exc:
                if isinstance(exc.__cause__, LockNotAvailable | QueryCanceled):
                    raise StoreUnavailable("the event log is busy (lock timeout)") from exc
                attempt += 1
                if attempt >= self.connection_retries:
                    raise StoreUnavailable(f"the database is unreachable: {exc}") from exc
                time.sleep(self.connection_retry_wait_s * attempt)

    def _insert_at_once(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The claim or reaction mark, the table lock, the events, their hashes and the
        commit in one statement: `railyard_append` (decision 97), called in autocommit, so
        the statement is its transaction. A part that fails (a claim or a version already
        taken, a lock timeout) fails it all and nothing is stored."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            row = self._append(curs, stored_events, kwargs.get("claim"), kwargs.get("mark"))
        if not stored_events:
            return None
        ids = [int(position) for position in row["positions"]] if row else []
        if len(ids) != len(stored_events):
            raise RuntimeError(f"{len(stored_events)} events inserted, {len(ids)} positions back")
        _caught_up(int(row["hashed"]) - len(ids) if row else 0)
        return ids

    def _append(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        claim: Claim | None,
        mark: ReactionMark | None,
    ) -> DictRow | None:
        curs.execute(
            self._append_statement,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
                *(_claim_params(claim) if claim is not None else _NO_CLAIM),
                mark.name if mark is not None else None,
                mark.position if mark is not None else None,
                self._lock_wait,
            ),
        )
        row: DictRow | None = curs.fetchone()
        return row

    def extend_chain(self) -> int:
        """Hash every event after the chain's head (a store written before the chain
        existed) with the inserts' own function; returns how many. Under the insert's
        table lock, so writers wait."""
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._lock_table(curs)
            curs.execute(self._extend_chain)
            row = curs.fetchone()
            return int(row["hashed"]) if row else 0


def _caught_up(count: int) -> None:
    if count:
        # Events written without a hash by a process that predates the chain (a rolling
        # upgrade), now hashed by this write: worth an operator's notice.
        log.warning("event_hashes_caught_up", events=count)


def _qualified(statements: Sequence[str], datastore: PostgresDatastore) -> list[str]:
    schema = datastore.schema
    out = []
    for statement in statements:
        qualified = statement
        for table in (
            IDEMPOTENCY_TABLE,
            POSITIONS_TABLE,
            REACTIONS_TABLE,
            HASHES_TABLE,
            SECRETS_TABLE,
        ):
            qualified = qualified.replace(f"EXISTS {table} ", f'EXISTS "{schema}".{table} ')
        out.append(qualified)
    return out


def _check_if_idle(conn: Connection[Any]) -> None:
    idle_since: float | None = getattr(conn, "_railyard_idle_since", None)
    if idle_since is None or time.monotonic() - idle_since > PING_AFTER_IDLE_S:
        ConnectionPool.check_connection(conn)
