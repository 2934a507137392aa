"""The log's hash chain: each event's content hash, chained to the event before it.

For every event the recorder writes one row to `railyard_event_hashes`, in the insert
transaction that stores the event (so a committed event always has its row, and a
rolled-back one never does):

    content_hash = sha256("railyard.event.v1" + the five fields' lengths (8 bytes each,
                          big-endian) + position, aggregate id, version, topic, state)
    chain_hash   = sha256(previous event's chain_hash + content_hash)   (GENESIS first)

Keeping the two apart lets `railyard verify` say *why* an event does not match: its own
content changed, or the chain around it did (an event before it was removed or inserted).
Writers extend the chain while holding the log's write lock (PostgreSQL's table lock,
SQLite's write lock), so the chain never forks. Whoever holds the lock also hashes any
event after the chain's head that has no hash yet (written by an older Railyard, or
before the table existed), in position order, before its own.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

HASHES_TABLE = "railyard_event_hashes"
GENESIS = "0" * 64
_DOMAIN = b"railyard.event.v1"
_LENGTHS = struct.Struct(">5Q")  # each field's length, 8 bytes big-endian
_NO_UPPER_BOUND = 2**63 - 1

HASHES_TABLE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {HASHES_TABLE} ("
    " notification_id BIGINT PRIMARY KEY, originator_id TEXT NOT NULL,"
    " originator_version BIGINT NOT NULL, content_hash TEXT NOT NULL, chain_hash TEXT NOT NULL)"
)


class ChainAhead(Exception):
    """The chain records a position at or after the one the log just gave a new event.

    Only possible when rows were deleted from the end of the log and their positions were
    handed out again (SQLite reuses the highest rowid): the write is refused rather than
    chained over a position the chain already vouches for."""


def canonical_id(originator_id: Any) -> str:
    """The aggregate id as hashed: a UUID's hyphenated lower-case form on both backends
    (SQLite stores 32 hex digits, PostgreSQL a uuid)."""
    try:
        return str(originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id)))
    except ValueError:
        return str(originator_id)


def content_hash(position: int, originator_id: Any, version: int, topic: str, state: bytes) -> str:
    """sha256 over the event's fields, their lengths first, so no two events share bytes."""
    parts = (
        str(position).encode(),
        canonical_id(originator_id).encode(),
        str(version).encode(),
        topic.encode(),
        bytes(state),
    )
    header = _LENGTHS.pack(*(len(part) for part in parts))
    return hashlib.sha256(_DOMAIN + header + b"".join(parts)).hexdigest()


def chain_hash(previous: str, content: str) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(content)).hexdigest()


@dataclass(frozen=True)
class Link:
    """One row of the hash table."""

    position: int
    originator_id: str
    version: int
    content_hash: str
    chain_hash: str

    def row(self) -> tuple[int, str, int, str, str]:
        return (self.position, self.originator_id, self.version, self.content_hash, self.chain_hash)


def links(previous: str, events: Iterable[tuple[int, Any, int, str, bytes]]) -> list[Link]:
    """Chain (position, aggregate id, version, topic, state) tuples onto `previous`."""
    out = []
    for position, originator_id, version, topic, state in events:
        content = content_hash(position, originator_id, version, topic, state)
        previous = chain_hash(previous, content)
        out.append(Link(position, canonical_id(originator_id), version, content, previous))
    return out


EXTEND_FUNCTION = "railyard_extend_chain"


def extend_function_ddl(schema: str, events: str, hashes: str) -> str:
    """A PostgreSQL function that hashes every event after the chain's head, in position
    order, exactly as `links` does (sha256 is built in since PostgreSQL 11), and returns
    how many it hashed: the backfill of a store written before the chain, and an insert's
    catch-up of events another writer left without a hash. `schema`, `events` and
    `hashes` are quoted identifiers."""
    content = sql_content_hash(
        "e.notification_id", "e.originator_id", "e.originator_version", "e.topic", "e.state"
    )
    link = sql_insert_link(hashes, "e.notification_id", "e.originator_id", "e.originator_version")
    return (
        f"CREATE OR REPLACE FUNCTION {schema}.{EXTEND_FUNCTION}() RETURNS BIGINT"
        " LANGUAGE plpgsql AS $$ DECLARE head BIGINT; previous BYTEA; content BYTEA;"
        " hashed BIGINT := 0; e RECORD; BEGIN"
        f" {sql_chain_head(hashes)}"
        " FOR e IN SELECT notification_id, originator_id, originator_version, topic, state"
        f" FROM {events} WHERE notification_id > head ORDER BY notification_id LOOP"
        f" content := {content};"
        " previous := sha256(previous || content);"
        f" {link}"
        " hashed := hashed + 1; END LOOP; RETURN hashed; END $$"
    )


def sql_chain_head(hashes: str) -> str:
    """PL/pgSQL: the chain's head position and hash into `head` and `previous` (BIGINT,
    BYTEA), 0 and the genesis hash for an empty chain."""
    return (
        "SELECT h.notification_id, decode(h.chain_hash, 'hex') INTO head, previous"
        f" FROM {hashes} h ORDER BY h.notification_id DESC LIMIT 1;"
        f" IF head IS NULL THEN head := 0; previous := decode('{GENESIS}', 'hex'); END IF;"
    )


def sql_insert_link(hashes: str, position: str, originator_id: str, version: str) -> str:
    """PL/pgSQL: the hash row of one event, from the variables `content` and `previous`."""
    return (
        f"INSERT INTO {hashes}"
        " (notification_id, originator_id, originator_version, content_hash, chain_hash)"
        f" VALUES ({position}, CAST({originator_id} AS TEXT), {version},"
        " encode(content, 'hex'), encode(previous, 'hex'));"
    )


def sql_content_hash(
    position: str, originator_id: str, version: str, topic: str, state: str
) -> str:
    """The SQL expression of `content_hash` over five SQL expressions (as bytes)."""
    parts = (
        f"convert_to(CAST({position} AS TEXT), 'UTF8')",
        f"convert_to(CAST({originator_id} AS TEXT), 'UTF8')",
        f"convert_to(CAST({version} AS TEXT), 'UTF8')",
        f"convert_to({topic}, 'UTF8')",
        state,
    )
    lengths = " || ".join(f"int8send(octet_length({part}))" for part in parts)
    return f"sha256('\\x{_DOMAIN.hex()}'::bytea || {lengths} || {' || '.join(parts)})"


class ChainWriter:
    """Extends the chain inside a writer's transaction, on the recorder's own cursor.

    `events` and `hashes` are the (qualified) table names, `position` the events' position
    column and `param` the driver's placeholder (`%s` or `?`). The caller must hold the
    log's write lock: that is what makes "read the head, then append after it" safe."""

    def __init__(
        self, *, events: str, hashes: str, position: str, param: str, batch_size: int = 1_000
    ) -> None:
        p = param
        self.batch_size = batch_size
        self.head_statement = (
            "SELECT h.notification_id AS head, h.chain_hash AS chain_hash,"
            f" (SELECT MIN(e.{position}) FROM {events} e"
            f"   WHERE e.{position} > COALESCE(h.notification_id, 0)) AS next_unhashed"
            " FROM (SELECT 1 AS one) one LEFT JOIN"
            f" (SELECT notification_id, chain_hash FROM {hashes}"
            "   ORDER BY notification_id DESC LIMIT 1) h ON 1 = 1"
        )
        self.unhashed_statement = (
            f"SELECT {position} AS position, originator_id, originator_version, topic, state"
            f" FROM {events} WHERE {position} > {p} AND {position} < {p}"
            f" ORDER BY {position} LIMIT {p}"
        )
        self.insert_statement = (
            f"INSERT INTO {hashes}"
            " (notification_id, originator_id, originator_version, content_hash, chain_hash)"
            " VALUES "
        )
        self.insert_row = f"({p}, {p}, {p}, {p}, {p})"

    def extend(
        self,
        cursor: Any,
        positions: Sequence[int] = (),
        stored_events: Sequence[StoredEvent] = (),
    ) -> int:
        """Hash every event after the chain's head, then `stored_events` just inserted at
        `positions` (hashed from memory: they are what was sent). Returns how many events
        written earlier had to be caught up. (PostgreSQL's inserts hash in the database:
        `extend_function_ddl`.)"""
        cursor.execute(self.head_statement)
        row = cursor.fetchone()
        head = int(row["head"] or 0)
        previous = str(row["chain_hash"] or GENESIS)
        next_unhashed = row["next_unhashed"]
        first_new = positions[0] if positions else None
        if first_new is not None and first_new <= head:
            raise ChainAhead(
                f"the hash chain already covers position {head}, but the log gave a new event"
                f" position {first_new}: rows were deleted from the end of the log"
                " (run `railyard verify`)"
            )
        caught_up = 0
        upper = first_new if first_new is not None else _NO_UPPER_BOUND
        if next_unhashed is not None and next_unhashed < upper:
            after = head
            while True:
                cursor.execute(self.unhashed_statement, (after, upper, self.batch_size))
                rows = cursor.fetchall()
                if not rows:
                    break
                batch = links(
                    previous,
                    (
                        (
                            r["position"],
                            r["originator_id"],
                            r["originator_version"],
                            r["topic"],
                            r["state"],
                        )
                        for r in rows
                    ),
                )
                self._insert(cursor, batch)
                previous, after = batch[-1].chain_hash, batch[-1].position
                caught_up += len(batch)
        if positions:
            if list(positions) != sorted(set(positions)):
                # The library pairs ids with events by order too; never hash a mismatch.
                raise RuntimeError(f"positions of one insert are not increasing: {positions}")
            self._insert(
                cursor,
                links(
                    previous,
                    (
                        (pos, e.originator_id, e.originator_version, e.topic, e.state)
                        for pos, e in zip(positions, stored_events, strict=True)
                    ),
                ),
            )
        return caught_up

    def _insert(self, cursor: Any, batch: Sequence[Link]) -> None:
        # One statement for the batch: cheaper for the driver than executemany, and
        # batches stay far below either backend's limit on parameters.
        rows = ", ".join([self.insert_row] * len(batch))
        cursor.execute(self.insert_statement + rows, [v for link in batch for v in link.row()])
