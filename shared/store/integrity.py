"""Verifying the log: walk every event in position order, recompute the hash chain, and
name the first event that does not match.

The walk reads the events and the hash records as two streams paged by position (constant
memory, any size of log) up to the head as it was when the walk began, so events appended
meanwhile are left for the next run. See docs/decisions/0070-a-hash-chain-beside-the-log.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from shared.store.chain import GENESIS, HASHES_TABLE, canonical_id, chain_hash, content_hash
from shared.store.log import EventLog

Reason = Literal[
    "content_changed",
    "hash_missing",
    "event_missing",
    "chain_broken",
    "anchor_mismatch",
    "anchor_missing",
]

WHY: dict[Reason, str] = {
    "content_changed": "its content no longer matches the hash recorded when it was written",
    "hash_missing": "no hash was recorded for it: it was added outside Railyard's writers,"
    " or its hash record was deleted",
    "event_missing": "its hash record remains but the event itself is gone: it was deleted",
    "chain_broken": "its hash does not follow from the event before it: an event between"
    " them was removed or inserted, or the hash records were rewritten",
    "anchor_mismatch": "the chain here differs from the anchor taken earlier: the log up to"
    " here was rewritten since (hashes recomputed to hide it)",
    "anchor_missing": "the anchor names a position the log does not hold",
}


@dataclass(frozen=True)
class Mismatch:
    """The first event that does not match, and why."""

    position: int
    aggregate_id: str
    version: int | None
    type: str
    reason: Reason

    @property
    def why(self) -> str:
        return WHY[self.reason]

    def describe(self) -> str:
        what = self.type or "event"
        version = f" version {self.version}" if self.version is not None else ""
        aggregate = f" of aggregate {self.aggregate_id}" if self.aggregate_id else ""
        return (
            f"position {self.position}: {what}{aggregate}{version}"
            f" ({self.reason.replace('_', ' ')}): {self.why}"
        )


@dataclass(frozen=True)
class Verification:
    """What a walk found: how many events matched, the head it reached, the first mismatch."""

    events: int
    head_position: int
    head_hash: str
    mismatch: Mismatch | None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


@dataclass(frozen=True)
class _Event:
    position: int
    originator_id: Any
    version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class _Record:
    position: int
    originator_id: str
    version: int
    content_hash: str
    chain_hash: str


class LogVerifier:
    """Recomputes the chain over the whole log; `anchors` (position -> chain hash from an
    earlier run) also catch an owner who rewrote the events and recomputed every hash."""

    def __init__(self, log: EventLog, *, batch_size: int = 5_000) -> None:
        self.log = log
        self.batch_size = batch_size
        position = log.position_column
        self._events_statement = (
            f"SELECT {position} AS position, originator_id, originator_version, topic, state"
            f" FROM {log.events_table} WHERE {position} > :after AND {position} <= :stop"
            f" ORDER BY {position} LIMIT :limit"
        )
        hashes = log.table(HASHES_TABLE)
        self._records_statement = (
            "SELECT notification_id AS position, originator_id, originator_version,"
            f" content_hash, chain_hash FROM {hashes}"
            " WHERE notification_id > :after AND notification_id <= :stop"
            " ORDER BY notification_id LIMIT :limit"
        )
        self._stop_statement = (
            f"SELECT (SELECT MAX({position}) FROM {log.events_table}) AS events,"
            f" (SELECT MAX(notification_id) FROM {hashes}) AS hashes"
        )

    def head(self) -> int:
        """The last position either table holds, read in one statement (one snapshot)."""
        with self.log.db.transaction() as cur:
            cur.execute(self._stop_statement)
            row = cur.fetchone()
        assert row is not None
        return max(int(row["events"] or 0), int(row["hashes"] or 0))

    def verify(
        self,
        anchors: Mapping[int, str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Verification:
        stop = self.head()
        pending = sorted((anchors or {}).items())
        events, records = self._events(stop), self._records(stop)
        event, record = next(events, None), next(records, None)
        previous, count, head = GENESIS, 0, 0
        mismatch: Mismatch | None = None
        while mismatch is None and (event is not None or record is not None):
            position = min(p.position for p in (event, record) if p is not None)
            if pending and pending[0][0] < position:
                mismatch = _unanchored(pending[0][0])
            elif record is None or (event is not None and event.position < record.position):
                assert event is not None
                mismatch = _named(event, "hash_missing")
            elif event is None or record.position < event.position:
                mismatch = self._deleted(record)
            else:
                anchor = pending.pop(0)[1] if pending and pending[0][0] == position else None
                reason = _compare(event, record, previous, anchor)
                if reason is not None:
                    mismatch = _named(event, reason)
                    break
                previous, count, head = record.chain_hash, count + 1, position
                if progress is not None and count % self.batch_size == 0:
                    progress(position, stop)
                event, record = next(events, None), next(records, None)
        if mismatch is None and pending:
            mismatch = _unanchored(pending[0][0])
        if mismatch is None and progress is not None:
            progress(stop, stop)
        return Verification(count, head, previous, mismatch)

    def _pages(self, statement: str, stop: int) -> Iterator[dict[str, Any]]:
        after = 0
        while True:
            with self.log.db.transaction() as cur:
                cur.execute(statement, {"after": after, "stop": stop, "limit": self.batch_size})
                rows = cur.fetchall()
            yield from rows
            if len(rows) < self.batch_size:
                return
            after = int(rows[-1]["position"])

    def _events(self, stop: int) -> Iterator[_Event]:
        # An owner's edit may leave any storage class or NULL behind: compare, never crash.
        for r in self._pages(self._events_statement, stop):
            state = r["state"]
            yield _Event(
                int(r["position"]),
                r["originator_id"],
                -1 if r["originator_version"] is None else int(r["originator_version"]),
                "" if r["topic"] is None else str(r["topic"]),
                state.encode() if isinstance(state, str) else bytes(state or b""),
            )

    def _records(self, stop: int) -> Iterator[_Record]:
        for r in self._pages(self._records_statement, stop):
            yield _Record(
                int(r["position"]),
                str(r["originator_id"]),
                int(r["originator_version"]),
                str(r["content_hash"]),
                str(r["chain_hash"]),
            )

    def _deleted(self, record: _Record) -> Mismatch:
        # The hash record remembers which aggregate and version stood there; the
        # aggregate's surviving events say what kind of aggregate it was.
        try:
            survivors = self.log.history(UUID(record.originator_id))
        except ValueError:
            survivors = []
        kind = survivors[0].aggregate_type if survivors else ""
        return Mismatch(
            record.position, record.originator_id, record.version, kind, "event_missing"
        )


def _compare(event: _Event, record: _Record, previous: str, anchor: str | None) -> Reason | None:
    """Why one event and its hash record do not match (None when they do)."""
    content = content_hash(
        event.position, event.originator_id, event.version, event.topic, event.state
    )
    if content != record.content_hash:
        return "content_changed"
    if chain_hash(previous, content) != record.chain_hash:
        return "chain_broken"
    if anchor is not None and anchor.lower() != record.chain_hash:
        return "anchor_mismatch"
    return None


def _named(event: _Event, reason: Reason) -> Mismatch:
    qualname = event.topic.partition(":")[2] or event.topic
    return Mismatch(
        event.position, canonical_id(event.originator_id), event.version, qualname, reason
    )


def _unanchored(position: int) -> Mismatch:
    return Mismatch(position, "", None, "", "anchor_missing")
