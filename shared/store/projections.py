"""Views folded from the log, tracked so each event is applied exactly once.

A `ProjectionGroup` reads the log in batches and applies each batch to its projections
in one database transaction together with their new positions: a crash loses the whole
batch or none of it, a restarted follower resumes where the last commit left it, and a
position never goes back. Any process may advance a group (the API before a read, a
worker in the background): the positions' rows are locked for the batch, so two
processes never apply the same event twice.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import structlog

from shared.store.log import EventLog, LoggedEvent
from shared.store.recorders import POSITIONS_TABLE
from shared.store.sql import Cursor, lock_for_ddl

log = structlog.get_logger(__name__)

Handler = Callable[[Cursor, LoggedEvent], None]


class Projection(ABC):
    """One read model: its tables, and how each event type changes them."""

    name: ClassVar[str]
    """Tracking name; bump its version suffix when the view's shape changes."""

    tables: ClassVar[tuple[str, ...]] = ()
    """The tables it owns, dropped on rebuild."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._handlers = dict(self.handlers())

    def t(self, name: str) -> str:
        return self.log.table(name)

    @abstractmethod
    def create(self, cur: Cursor) -> None:
        """Create the view's tables if they do not exist."""

    @abstractmethod
    def handlers(self) -> Mapping[str, Handler]:
        """Event topic -> handler. Events with other topics are skipped undecoded."""

    def handles(self, topic: str) -> bool:
        return topic in self._handlers

    def topics(self) -> frozenset[str] | None:
        """The topics this projection reads; None when it reads every event (one that
        overrides `handles` is taken to, as it may accept any topic)."""
        if type(self).handles is not Projection.handles:
            return None
        return frozenset(self._handlers)

    def apply_batch(self, cur: Cursor, events: Sequence[LoggedEvent]) -> None:
        """Apply a batch in log order. Override to fold in memory and write in bulk."""
        for event in events:
            self._handlers[event.topic](cur, event)

    def drop(self, cur: Cursor) -> None:
        for table in self.tables:
            cur.execute(f"DROP TABLE IF EXISTS {self.t(table)}")


class ProjectionGroup:
    """Follows the log for a set of projections, batch by batch, exactly once."""

    def __init__(
        self, log: EventLog, projections: Iterable[Projection], batch_size: int = 1_000
    ) -> None:
        self.log = log
        self.projections = list(projections)
        self.batch_size = batch_size
        self._lock = threading.Lock()
        names = [p.name for p in self.projections]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate projection names: {names}")
        self._names = {f"n{i}": name for i, name in enumerate(names)}
        self._in = ", ".join(f":{key}" for key in self._names)
        self._positions = log.table(POSITIONS_TABLE)
        self._ready = False
        self._freshness = self._freshness_query()
        self._narrow: dict[frozenset[str], tuple[str, dict[str, Any]]] = {}

    # -- set-up and rebuild ---------------------------------------------------------

    def setup(self) -> None:
        if self._ready or not self.projections:
            self._ready = True
            return
        with self.log.db.transaction(write=True) as cur:
            # Without create_schema the tables are `railyard migrate`'s, and the role the
            # process connects as may not run even CREATE TABLE IF NOT EXISTS (PostgreSQL
            # checks the schema's CREATE privilege before it sees the table exists).
            if self.log.settings.create_schema:
                lock_for_ddl(self.log.db, cur)
                for projection in self.projections:
                    projection.create(cur)
            for projection in self.projections:
                cur.execute(
                    f"INSERT INTO {self._positions} (name, position) VALUES (:name, 0)"
                    " ON CONFLICT (name) DO NOTHING",
                    {"name": projection.name},
                )
        self._ready = True

    def rebuild(self) -> int:
        """Drop every view of the group and fold the whole log again."""
        with self._lock, self.log.db.transaction(write=True) as cur:
            lock_for_ddl(self.log.db, cur)
            for projection in self.projections:
                projection.drop(cur)
                projection.create(cur)
                cur.execute(
                    f"UPDATE {self._positions} SET position = 0 WHERE name = :name",
                    {"name": projection.name},
                )
        return self.catch_up()

    # -- following ------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        self.setup()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT name, position FROM {self._positions} WHERE name IN ({self._in})",
                self._names,
            )
            return {r["name"]: int(r["position"]) for r in cur.fetchall()}

    def position(self) -> int:
        """How far every projection of the group has read (the slowest one)."""
        positions = self.positions()
        return min(positions.values()) if positions else self.log.head()

    def lag(self) -> int:
        return max(0, self.log.head() - self.position())

    def catch_up(self, max_batches: int | None = None) -> int:
        """Apply every event not yet applied; returns how many events were read."""
        self.setup()
        if not self.projections:
            return 0
        total = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            read = self._apply_one_batch()
            total += read
            batches += 1
            if read < self.batch_size:
                break
        return total

    def ensure_fresh(self, reads: frozenset[str] | None = None) -> None:
        """Read-your-writes: catch up first when the views are only a little behind.

        One query tells how far behind the group is and whether any event it reads came
        after its position. Events it does not read need no catching up (most of a busy
        log, for a view like the users'): the group moves past them only once they pile
        up, with no event read and no view touched. A query that reads only what some
        topics write names them in `reads`: other events then need no catching up first."""
        if not self.projections:
            return
        self.setup()
        limit = self.log.settings.read_your_writes_max_lag
        if reads is None:
            statement, params = self._freshness
        else:
            if reads not in self._narrow:
                self._narrow[reads] = self._freshness_query(reads)
            statement, params = self._narrow[reads]
        with self.log.db.transaction() as cur:
            cur.execute(statement, {**params, "limit": limit})
            row = cur.fetchone()
        assert row is not None
        position, head = int(row["position"] or 0), int(row["head"] or 0)
        lag = head - position
        if lag <= 0 or lag > limit:
            return
        if row["pending"]:
            self.catch_up()
        elif lag > limit // 2:
            self._move_past(head)

    def _freshness_query(self, reads: frozenset[str] | None = None) -> tuple[str, dict[str, Any]]:
        """The group's position, the log's head and whether an event the group reads (of
        `reads`, when given) lies between them, at most `limit` events on: one statement,
        so one snapshot."""
        topics: set[str] = set()
        for projection in self.projections:
            read = projection.topics()
            if read is None:
                topics = set()
                break
            topics |= read
        if reads is not None:
            topics = set(reads)
        keys = {f"t{i}": topic for i, topic in enumerate(sorted(topics))}
        column, events = self.log.position_column, self.log.events_table
        among = f" AND e.topic IN ({', '.join(':' + k for k in keys)})" if keys else ""
        statement = (
            f"SELECT p.position AS position, (SELECT MAX({column}) FROM {events}) AS head,"
            f" EXISTS (SELECT 1 FROM {events} e WHERE e.{column} > p.position"
            f" AND e.{column} <= p.position + :limit{among}) AS pending"
            f" FROM (SELECT MIN(position) AS position FROM {self._positions}"
            f" WHERE name IN ({self._in})) p"
        )
        return statement, {**self._names, **keys}

    def _move_past(self, head: int) -> None:
        """Advance to `head`, which the caller saw with nothing for this group before it.

        Positions commit in order (the library's table lock), so every event up to a head
        seen in a snapshot was in that snapshot: none of ours can be skipped."""
        with self._lock, self.log.db.transaction(write=True) as cur:
            _commit_without_waiting(self.log, cur)
            cur.execute(
                f"UPDATE {self._positions} SET position = :head"
                f" WHERE name IN ({self._in}) AND position < :head",
                {**self._names, "head": head},
            )

    def _apply_one_batch(self) -> int:
        with self._lock, self.log.db.transaction(write=True) as cur:
            _commit_without_waiting(self.log, cur)
            lock = " FOR UPDATE" if self.log.db.backend == "postgres" else ""
            cur.execute(
                f"SELECT name, position FROM {self._positions} WHERE name IN ({self._in}){lock}",
                self._names,
            )
            positions = {r["name"]: int(r["position"]) for r in cur.fetchall()}
            start = min(positions.values())
            cur.execute(
                f"SELECT {self.log.position_column} AS position, originator_id,"
                f" originator_version, topic, state FROM {self.log.events_table}"
                f" WHERE {self.log.position_column} > :after"
                f" ORDER BY {self.log.position_column} LIMIT :limit",
                {"after": start, "limit": self.batch_size},
            )
            rows = cur.fetchall()
            if not rows:
                return 0
            batches: dict[str, list[LoggedEvent]] = {p.name: [] for p in self.projections}
            for row in rows:
                entry: LoggedEvent | None = None
                for projection in self.projections:
                    if row["position"] <= positions[projection.name]:
                        continue
                    if not projection.handles(row["topic"]):
                        continue
                    if entry is None:
                        entry = LoggedEvent.from_row(
                            row["position"],
                            row["originator_id"],
                            row["originator_version"],
                            row["topic"],
                            bytes(row["state"]),
                        )
                    batches[projection.name].append(entry)
            for projection in self.projections:
                if batches[projection.name]:
                    projection.apply_batch(cur, batches[projection.name])
            last = int(rows[-1]["position"])
            cur.execute(
                f"UPDATE {self._positions} SET position = :last"
                f" WHERE name IN ({self._in}) AND position < :last",
                {**self._names, "last": last},
            )
            return len(rows)


def topic_of(event_class: type[Any]) -> str:
    """The stored topic of an event class: its module and qualified name."""
    return f"{event_class.__module__}:{event_class.__qualname__}"


def event_topic(aggregate: type[Any], event_name: str) -> str:
    """The topic of `aggregate.<event_name>`, failing at import time if it was renamed.

    The `@event` decorator creates the event classes at run time, out of sight of mypy."""
    event_class = getattr(aggregate, event_name, None)
    if not isinstance(event_class, type):
        raise AttributeError(f"{aggregate.__qualname__} has no event {event_name!r}")
    return topic_of(event_class)


def _commit_without_waiting(log: EventLog, cur: Cursor) -> None:
    """A view's batch commits without waiting for its WAL to reach the disk. A crash may
    lose the last batches, each with its position in the same transaction, so they are
    applied again: views are derived from the log, whose own commits stay synchronous. The
    batch holds its positions' row locks until it commits, so not waiting for the disk
    shortens the time every other reader of the group waits (decision 0082)."""
    if log.db.backend == "postgres":
        cur.execute("SET LOCAL synchronous_commit TO OFF")
