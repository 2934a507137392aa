"""The one append-only event log every service writes to and anyone may read.

`EventLog` owns the backend (SQLite by default, PostgreSQL when `DATABASE_URL` is set),
the library's recorder, mapper and repository, and the rules for saving:
optimistic concurrency, idempotency claims stored with the events, and deciding from
the log itself whether a write whose acknowledgement was lost did in fact commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import orjson
import structlog
from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    Mapper,
    Notification,
    StoredEvent,
    Transcoder,
)
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.conninfo import conninfo_to_dict

from shared.domain import NotFound
from shared.settings import Settings
from shared.store.errors import (
    StoreUnavailable,
    WriteConflict,
    connection_problem,
    translate_errors,
)
from shared.store.recorders import (
    EVENTS_TABLE,
    IDEMPOTENCY_TABLE,
    POSITIONS_TABLE,
    REACTIONS_TABLE,
    Claim,
    RailyardPostgresDatastore,
    RailyardPostgresRecorder,
    RailyardSQLiteRecorder,
    ReactionMark,
)
from shared.store.sql import (
    DDL_LOCK_KEY,
    PostgresDatabase,
    SqlDatabase,
    SQLiteDatabase,
    unicode_lower,
)

A = TypeVar("A", bound=Aggregate)
logger = structlog.get_logger(__name__)


class PlainJSONTranscoder(Transcoder):
    """Events are stored as plain JSON, readable by any consumer without our classes.

    Event attributes are JSON-native by convention (dates as ISO strings, ids as
    strings); the event's `timestamp` is the one datetime, restored by the mapper.
    """

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class RailyardMapper(Mapper[UUID]):
    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event = super().to_domain_event(stored_event)
        timestamp = event.__dict__.get("timestamp")
        if isinstance(timestamp, str):
            event.__dict__["timestamp"] = datetime.fromisoformat(timestamp)
        return event


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Each event applied to the aggregate in turn: the library's `project_aggregate`
    without its `assert isinstance(event, CanMutateProtocol)`, a runtime protocol check
    that cost more than applying the event (40-90 µs an event; every event of an
    aggregate is applied on every load)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class ClaimTaken(Exception):
    """The idempotency key was already used; `claim` is what was stored under it."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(f"idempotency key {claim.key!r} already used")
        self.claim = claim


class AlreadyProcessed(Exception):
    """A reaction's work for this log position is already in the log."""


_new_tuple = tuple.__new__
_TOPIC_NAMES: dict[str, tuple[str, str]] = {}
"""topic -> (aggregate type, event type), e.g. ("ChangeRequest", "ChangeRequest.Submitted")."""


class LoggedEvent(NamedTuple):
    """One entry of the log as a consumer sees it.

    Immutable like the row it comes from. A named tuple rather than a frozen dataclass:
    views build one per event they read, and a frozen dataclass's __init__ cost more than
    decoding the event's JSON (2.6 against 0.65 microseconds)."""

    position: int
    aggregate_id: str
    aggregate_type: str
    version: int
    type: str
    topic: str
    occurred_at: str
    actor: str
    correlation_id: str
    data: dict[str, Any]

    @classmethod
    def from_row(
        cls, position: int, originator_id: Any, version: int, topic: str, state: bytes
    ) -> LoggedEvent:
        data: dict[str, Any] = orjson.loads(state)
        occurred_at = data.pop("timestamp", "")
        actor = data.pop("actor", "")
        correlation_id = data.pop("correlation_id", "")
        data.pop("originator_topic", None)
        names = _TOPIC_NAMES.get(topic)
        if names is None:
            qualname = topic.partition(":")[2]
            names = _TOPIC_NAMES[topic] = (qualname.partition(".")[0], qualname)
        if isinstance(originator_id, str) and len(originator_id) == 36:
            aggregate_id = originator_id  # already the canonical spelling (::text)
        elif isinstance(originator_id, UUID):
            aggregate_id = str(originator_id)
        else:
            aggregate_id = str(UUID(str(originator_id)))
        # tuple.__new__ directly: the named tuple's own __new__ is a Python function.
        return _new_tuple(
            cls,
            (position, aggregate_id, names[0], version, names[1], topic, occurred_at,
             actor, correlation_id, data),
        )  # fmt: skip

    @property
    def occurred(self) -> datetime:
        return datetime.fromisoformat(self.occurred_at)


class Entry(NamedTuple):
    """What a fold that reads only an event's topic, aggregate, time and data needs of
    it (`Undecoded.entries`): `data` as stored, with the metadata a LoggedEvent takes out
    of it (timestamp, actor, correlation id) left in. Making the LoggedEvent cost a
    rebuild of the metrics view as much as decoding the JSON."""

    topic: str
    aggregate_id: str
    occurred_at: str
    data: dict[str, Any]


REDACTED = "[redacted]"


def public_entry(entry: LoggedEvent) -> dict[str, Any]:
    """An entry as consumers see it (feed, webhooks): hashes of secrets are never served."""
    data = {k: (REDACTED if k.endswith("_hash") else v) for k, v in entry.data.items()}
    return {
        "position": entry.position,
        "aggregate_id": entry.aggregate_id,
        "aggregate_type": entry.aggregate_type,
        "version": entry.version,
        "type": entry.type,
        "topic": entry.topic,
        "occurred_at": entry.occurred_at,
        "actor": entry.actor,
        "correlation_id": entry.correlation_id,
        "data": data,
    }


class EventLog:
    """The shared log: save aggregates, load them, and page through every event."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db: SqlDatabase
        if settings.backend == "postgres":
            assert settings.database_url is not None
            params = conninfo_to_dict(settings.database_url)
            datastore = RailyardPostgresDatastore(
                dbname=str(params.get("dbname") or "postgres"),
                host=str(params.get("host") or "127.0.0.1"),
                port=str(params.get("port") or "5432"),
                user=str(params.get("user") or "postgres"),
                password=str(params.get("password") or ""),
                pool_size=settings.pool_size,
                max_overflow=settings.pool_size,
                connect_timeout=5,
                pre_ping=True,
                lock_timeout=settings.write_lock_timeout_s,
                schema=settings.db_schema,
                statement_timeout_ms=settings.statement_timeout_ms,
                idle_in_transaction_session_timeout=max(5, settings.write_lock_timeout_s * 2),
            )
            self.recorder: RailyardPostgresRecorder | RailyardSQLiteRecorder = (
                _recorder_once_connected(datastore, settings.startup_wait_s, settings.database_url)
            )
            self.db = PostgresDatabase(datastore)
            self.events_table = f'"{settings.db_schema}".{EVENTS_TABLE}'
            self.position_column = "notification_id"
            self.aggregate_id_column = "CAST(originator_id AS TEXT)"
            self._table_prefix = f'"{settings.db_schema}".'
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            sqlite = unicode_lower(
                SQLiteDatastore(
                    str(settings.sqlite_path),
                    lock_timeout=max(settings.write_lock_timeout_s, 5),
                    pool_size=settings.pool_size,
                    max_overflow=settings.pool_size,
                )
            )
            self.recorder = RailyardSQLiteRecorder(sqlite)
            self.db = SQLiteDatabase(sqlite)
            self.events_table = EVENTS_TABLE
            self.position_column = "rowid"
            self.aggregate_id_column = _SQLITE_AGGREGATE_ID
            self._table_prefix = ""
        self.mapper = RailyardMapper(transcoder=PlainJSONTranscoder())
        self.repository: Repository[UUID] = Repository(
            event_store=EventStore(self.mapper, self.recorder),
            cache_maxsize=2_000,
            fastforward=True,
        )
        self._schema_lock = threading.Lock()
        self.backfilled_hashes = 0  # events create_schema() found without a hash
        if settings.create_schema:
            self.create_schema()

    # -- schema ---------------------------------------------------------------------

    def table(self, name: str) -> str:
        """The qualified name of one of Railyard's own tables (views use this too)."""
        return f"{self._table_prefix}{name}"

    def create_schema(self) -> int:
        """Create the event table, its guards and Railyard's bookkeeping tables, then hash
        any event the chain does not cover yet. Returns how many events were hashed."""
        with self._schema_lock, translate_errors():
            if self.db.backend != "postgres":
                self.recorder.create_table()
            else:
                # Several processes may start at once: one creates, the others wait and find
                # everything in place (concurrent CREATE ... IF NOT EXISTS fails in PostgreSQL).
                assert isinstance(self.recorder, RailyardPostgresRecorder)
                with self.recorder.datastore.get_connection() as conn:
                    conn.execute(f"SELECT pg_advisory_lock({DDL_LOCK_KEY})")
                    try:
                        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.settings.db_schema}"')
                        self.recorder.create_table()
                    finally:
                        conn.execute(f"SELECT pg_advisory_unlock({DDL_LOCK_KEY})")
            hashed = self.recorder.extend_chain()
        self.backfilled_hashes += hashed
        if hashed:
            logger.info("event_hashes_backfilled", events=hashed)
        return hashed

    # -- writing --------------------------------------------------------------------

    def save(
        self, *aggregates: Aggregate, claim: Claim | None = None, mark: ReactionMark | None = None
    ) -> None:
        """Append every pending event of `aggregates` in one transaction.

        Raises WriteConflict when another writer got there first, ClaimTaken when the
        idempotency key was used by another write, AlreadyProcessed for a reaction mark
        already recorded, and StoreUnavailable when the database could not be reached.
        """
        events = [e for agg in aggregates for e in agg.collect_events()]
        if not events:
            return
        stored = [self.mapper.to_stored_event(e) for e in events]
        kwargs: dict[str, Any] = {}
        if claim is not None:
            kwargs["claim"] = claim
        if mark is not None:
            kwargs["mark"] = mark
        try:
            with translate_errors():
                self.recorder.insert_events(stored, **kwargs)
        except IntegrityError:
            self._explain_integrity_error(stored, claim, mark)

    def _explain_integrity_error(
        self, stored: Sequence[StoredEvent], claim: Claim | None, mark: ReactionMark | None
    ) -> None:
        # Decide from the log what happened; the exception alone cannot tell a real
        # conflict from the library's retry of a write that had already committed.
        first = stored[0]
        existing = self.recorder.select_events(
            first.originator_id, gt=first.originator_version - 1, lte=first.originator_version
        )
        if existing and existing[0].state == first.state and existing[0].topic == first.topic:
            return  # our own write: committed before its acknowledgement was lost
        if mark is not None and self.has_mark(mark):
            raise AlreadyProcessed(f"{mark.name} already processed position {mark.position}")
        if claim is not None:
            stored_claim = self.find_claim(claim.scope, claim.key)
            if stored_claim is not None:
                raise ClaimTaken(stored_claim)
        for event in stored:
            if event.originator_version > 1 or self._exists(event.originator_id):
                current = self.recorder.select_events(event.originator_id, desc=True, limit=1)
                version = current[0].originator_version if current else None
                if version is not None and version >= event.originator_version:
                    raise WriteConflict(_as_uuid(event.originator_id), version)
        raise WriteConflict(_as_uuid(first.originator_id), None)

    def _exists(self, originator_id: UUID | str) -> bool:
        return bool(self.recorder.select_events(originator_id, limit=1))

    # -- reading aggregates ---------------------------------------------------------

    def get(
        self,
        aggregate_id: UUID,
        kind: type[A],
        label: str | None = None,
        version: int | None = None,
    ) -> A:
        """Load an aggregate (as it stood at `version`, if given), or raise NotFound naming
        what was looked for."""
        aggregate: Aggregate | None
        try:
            with translate_errors():
                aggregate = self.repository.get(
                    aggregate_id, version=version, projector_func=project
                )
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, kind):
            what = label or kind.__name__
            raise NotFound(
                f"{_snake(kind.__name__)}_not_found", f"no {what} with id {aggregate_id}"
            )
        return aggregate

    def exists(self, aggregate_id: UUID) -> bool:
        with translate_errors():
            return aggregate_id in self.repository

    def created_as(self, aggregate_id: UUID) -> str | None:
        """The topic of the event that created an aggregate (None if there is none): what
        kind of thing an id names, for a service that may not load another's aggregates."""
        with self.db.transaction() as cur:
            return cur.scalar(  # type: ignore[no-any-return]  # a topic is stored as text
                f"SELECT topic FROM {self.events_table}"
                " WHERE originator_id = :id AND originator_version = 1",
                {"id": aggregate_id.hex if self.db.backend == "sqlite" else aggregate_id},
            )

    # -- reading the log ------------------------------------------------------------

    def head(self) -> int:
        """The highest position in the log (0 when empty)."""
        with self.db.transaction() as cur:
            value = cur.scalar(f"SELECT MAX({self.position_column}) FROM {self.events_table}")
        return int(value or 0)

    def read(self, after: int, limit: int) -> list[Notification]:
        """Up to `limit` stored events with positions greater than `after`, in order."""
        with translate_errors():
            return list(
                self.recorder.select_notifications(
                    start=after, limit=limit, inclusive_of_start=False
                )
            )

    def entries(self, after: int, limit: int) -> list[LoggedEvent]:
        return [
            LoggedEvent.from_row(n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in self.read(after, limit)
        ]

    def history(self, aggregate_id: UUID) -> list[LoggedEvent]:
        """Every event of one aggregate, with positions, oldest first."""
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT {self.position_column} AS position, originator_id, originator_version,"
                f" topic, state FROM {self.events_table} WHERE originator_id = :id"
                " ORDER BY originator_version",
                {"id": aggregate_id.hex if self.db.backend == "sqlite" else aggregate_id},
            )
            rows = cur.fetchall()
        return [
            LoggedEvent.from_row(
                r["position"],
                r["originator_id"],
                r["originator_version"],
                r["topic"],
                bytes(r["state"]),
            )
            for r in rows
        ]

    # -- idempotency and reaction bookkeeping ---------------------------------------

    def find_claim(self, scope: str, key: str) -> Claim | None:
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT scope, key, fingerprint, status, response, recorded_at"
                f" FROM {self.table(IDEMPOTENCY_TABLE)} WHERE scope = :scope AND key = :key",
                {"scope": scope, "key": key},
            )
            row = cur.fetchone()
        return Claim(**row) if row else None

    def has_mark(self, mark: ReactionMark) -> bool:
        with self.db.transaction() as cur:
            found = cur.scalar(
                f"SELECT 1 FROM {self.table(REACTIONS_TABLE)}"
                " WHERE name = :name AND position = :position",
                {"name": mark.name, "position": mark.position},
            )
        return found is not None

    def positions(self) -> dict[str, int]:
        """Every follower's position: how far each projection and reaction has read."""
        with self.db.transaction() as cur:
            cur.execute(f"SELECT name, position FROM {self.table(POSITIONS_TABLE)}")
            return {r["name"]: int(r["position"]) for r in cur.fetchall()}

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
        try:
            with self.db.transaction() as cur:
                cur.scalar("SELECT 1")
        except StoreUnavailable:
            raise
        except Exception as exc:  # any driver failure means "not reachable"
            raise StoreUnavailable(str(exc)) from exc

    def close(self) -> None:
        datastore = self.recorder.datastore
        datastore.close()


_SQLITE_AGGREGATE_ID = (
    "(CASE WHEN length(originator_id) = 32 THEN lower(substr(originator_id, 1, 8) || '-' ||"
    " substr(originator_id, 9, 4) || '-' || substr(originator_id, 13, 4) || '-' ||"
    " substr(originator_id, 17, 4) || '-' || substr(originator_id, 21)) ELSE"
    " lower(originator_id) END)"
)
"""SQL for an event's aggregate id as `LoggedEvent.aggregate_id` spells it (the canonical
UUID, with its dashes): SQLite's log keeps the 32 hex digits alone."""


def _recorder_once_connected(
    datastore: RailyardPostgresDatastore, wait_s: float, url: str
) -> RailyardPostgresRecorder:
    """The recorder, whose creation takes the pool's first connection. A process starting
    beside others (or beside a database that is itself starting) may wait longer than the
    pool's timeout for it: it tries again until `wait_s` has passed, then gives up with
    StoreUnavailable, instead of exiting at the first timeout. A refusal no wait can
    change (no such database or role, a wrong password) gives up at once, saying it."""
    deadline = time.monotonic() + wait_s
    _refuse_if_never(connection_problem(url))  # one connection first: the pool's takes 5 s
    while True:
        try:
            with translate_errors():
                return RailyardPostgresRecorder(datastore)
        except StoreUnavailable as exc:
            why = connection_problem(url)
            _refuse_if_never(why)
            if time.monotonic() >= deadline:
                raise
            logger.warning("store_unavailable_at_start", error=why or str(exc))
            time.sleep(1.0)


PERMANENT = ("does not exist", "password authentication failed", "no password supplied")
"""What PostgreSQL says of a connection that waiting will not let in."""


def _refuse_if_never(why: str | None) -> None:
    if why is not None and any(marker in why for marker in PERMANENT):
        raise StoreUnavailable(why)


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
