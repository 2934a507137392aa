"""The metrics view: every request, bundle, production change and deployment report as
one row each, folded from the whole log in batches, and read back by period.

A batch loads the rows its events touch, folds the events in memory with the same
`Folder` a consumer's replay uses, and writes the changed rows back in bulk, in the
group's transaction (so exactly once, and resumable). A rebuild holds its records in
memory instead, reads none back, and writes what changed whenever the writer is free
(decision 104); on a long log it lets go of the records long settled once they are
written, and reads one back only if a later event touches it (decision 118). A query
loads only the rows that can matter to the periods it asks about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import Any, TypeVar

import orjson

from services.metrics.domain.calendar import to_utc
from services.metrics.domain.records import (
    BundleRecord,
    ChangeRecord,
    DeploymentRecord,
    History,
    RankingRecord,
    Record,
    RequestRecord,
    window,
)
from services.metrics.facts import TOPICS, Folder, Touched
from services.metrics.facts.base import Fact, Recall
from shared import contracts as c
from shared.store.log import EventLog, LoggedEvent
from shared.store.projections import Handler, ProjectionGroup, StagedProjection
from shared.store.read_ahead import Undecoded
from shared.store.sql import Cursor

REQUESTS, BUNDLES, CHANGES = "metrics_requests", "metrics_bundles", "metrics_changes"
DEPLOYMENTS, RANKINGS = "metrics_deployments", "metrics_rankings"
COUNTS = "metrics_counts"
"""Running counts the fold carries from batch to batch: the submissions met so far, which
number the requests (REQ-n)."""
SUBMITTED = "requests_submitted"
BATCH_SIZE = 20_000
HOLD_EVENTS_AT_MOST: int | None = None
"""A rebuild of a log this long (None: of any length) keeps its records in memory, reads
none back, and writes when it can (decision 104)..."""
LET_GO_ABOVE = 5_000
"""...and whenever it holds more records than this, writes them even if its writer is
still busy, and lets go of those written before that are settled (decision 118): each
deployment report, and each request, bundle or change that ended SETTLED_DAYS before
the latest event folded. A later event about one reads it back (a rating long after the
delivery). Of 1M contract-shaped events' 190,000 records, some 4,000-8,000 are held at a
time..."""
SETTLED_DAYS = 30
HOLD_RECORDS_AT_MOST = 40_000
"""...unless more than this many are not settled (more work open at once than this):
then batch by batch, reading back the records each batch touches."""
WRITE_ONCE_AT_MOST = BATCH_SIZE
"""A held rebuild of a log no longer than this writes every record once, after its last
fold; a longer one writes whenever its writer is free (decision 107)."""
WRITE_CHUNK = 256
"""Records serialised and sent at a time by a write that serialises them itself: the
server inserts each chunk while the next is serialised."""

R = TypeVar("R", bound=Record)
SUBMITTED_TOPIC, CANCELLED_TOPIC = c.REQUEST_SUBMITTED.topic, c.BUNDLE_CANCELLED.topic

# Each table: its columns besides id and data, and how a record fills them.
COLUMNS: dict[str, tuple[str, ...]] = {
    REQUESTS: ("submitted_at", "ended_at", "rated_at"),
    BUNDLES: ("ended_at",),
    CHANGES: ("ended_at",),
    DEPLOYMENTS: ("at",),
    RANKINGS: (),
}


_SENT = {table: ("id", *columns, "data") for table, columns in COLUMNS.items()}
"""Each table's columns as a write sends them."""

# Each table's extra columns read off a record in one call.
_EXTRA = {table: attrgetter(*columns) for table, columns in COLUMNS.items() if columns}


def _row(table: str, record: Record) -> tuple[Any, ...]:
    # orjson writes a dataclass's fields directly, much faster than building a dict first.
    data = orjson.dumps(record).decode()
    columns = COLUMNS[table]
    if not columns:
        return (record.id, data)
    extra = _EXTRA[table](record)
    if len(columns) == 1:
        return (record.id, extra, data)
    return (record.id, *extra, data)


class MetricsProjection(StagedProjection["Folded"]):
    # v2: requests carry their numbers. The tables keep their names: folding from the
    # start again creates every record afresh from the event that began it.
    name = "metrics.facts.v4"
    tables = (REQUESTS, BUNDLES, CHANGES, DEPLOYMENTS, RANKINGS, COUNTS)

    def create(self, cur: Cursor) -> None:
        self.create_unindexed(cur)
        for table, columns in COLUMNS.items():
            for column in columns:
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_{column} ON {self.t(table)} ({column})"
                )

    def analyze(self, cur: Cursor) -> None:
        # Only the columns its reads select by, from a small sample: the rows' JSON is
        # never a condition, and sampling it reads it out of line (1M events' view: 33 ms,
        # against 408 for every column at the default target).
        cur.execute("SET LOCAL default_statistics_target = 10")
        tables = ", ".join(f"{self.t(t)} ({', '.join(c)})" for t, c in COLUMNS.items() if c)
        cur.execute(f"ANALYZE {tables}")

    def create_unindexed(self, cur: Cursor) -> None:
        # The period indexes serve the queries; the fold finds rows by id alone.
        for table, columns in COLUMNS.items():
            extra = "".join(f", {c} TEXT" for c in columns)
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.t(table)} ("
                f" id TEXT PRIMARY KEY{extra}, data TEXT NOT NULL)"
            )
            if self.log.db.backend == "postgres":
                self._store_uncompressed(cur, table)
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(COUNTS)}"
            " (name TEXT PRIMARY KEY, value BIGINT NOT NULL)"
        )

    def _store_uncompressed(self, cur: Cursor, table: str) -> None:
        """A row over 2 kB (a bundle's record, with every request it scheduled) is moved out
        of line; PostgreSQL first tries to compress it (pglz), and on these records the try
        fails: writing 9 bundles' rows took 7.2 ms, 1.7 ms without the try. Set once per
        table (the check spares every later start the table lock ALTER takes), in one
        statement that returns nothing, so a rebuild's DDL is sent without waiting."""
        name = self.t(table)
        cur.execute(
            "DO $$BEGIN IF (SELECT attstorage FROM pg_attribute"
            f" WHERE attrelid = CAST('{name}' AS regclass) AND attname = 'data') <> 'e'"
            f" THEN ALTER TABLE {name} ALTER COLUMN data SET STORAGE EXTERNAL; END IF; END$$"
        )

    def handlers(self) -> Mapping[str, Handler]:
        # Events are folded a batch at a time in apply_batch; this names what is followed.
        return dict.fromkeys(TOPICS, self._one)

    def _one(self, cur: Cursor, event: LoggedEvent) -> None:
        self.apply_batch(cur, [event])

    def empty(self, events: int) -> Folded | None:
        # A rebuild reads no row back (but those it let go of), and writes each record
        # once or a few times instead of once per batch that touches it (decisions 104,
        # 107 and 118).
        if HOLD_EVENTS_AT_MOST is not None and events > HOLD_EVENTS_AT_MOST:
            return None
        return Folded(History(), {}, held=Held(once=events <= WRITE_ONCE_AT_MOST))

    def holds(self, folded: Folded, busy: bool) -> bool:
        held = folded.held
        if held is None or not held.holding:
            return False
        # Past LET_GO_ABOVE records, written now, even if the fold must wait for the
        # writer: only what is written can be let go of.
        return held.once or (busy and _records(folded.history) <= LET_GO_ABOVE)

    def fold(self, cur: Cursor, events: Sequence[LoggedEvent], previous: Folded | None) -> Folded:
        held = previous.held if previous is not None else None
        facts: Iterable[Fact] = events.entries() if isinstance(events, Undecoded) else events
        if previous is not None and held is not None and held.holding:
            history = previous.history  # none to read, but what it let go of and meets again
        else:
            facts = list(facts)  # gone through more than once: decoded once
            held, history = None, self._loaded(cur, facts, previous)
        counted = history.submitted
        folder = Folder(history)
        if held is not None:
            folder.recall = self._recaller(cur, history, held)
        folder.apply_all(facts)
        folder.release()
        if held is not None:
            held.latest = max(held.latest, folder.latest)
            holding = _records(history) <= HOLD_RECORDS_AT_MOST
            return Folded(history, {}, held=held.touched(folder.touched, holding))
        moved = history.submitted is not None and history.submitted != counted
        submitted = history.submitted if moved else None
        return Folded(history, _rows(history, folder.touched), submitted=submitted)

    def prepare(self, folded: Folded, last: bool = False) -> Folded:
        if folded.held is None:
            return folded
        # Each record the folds changed since the last write, once: inserted if new.
        new, changed = folded.held.unwritten()
        h, submitted = folded.history, folded.history.submitted or None
        if not last and _records(h) > LET_GO_ABOVE:
            # Written before this write, which has committed before the next fold reads.
            folded.held.let_go(h, new, changed)
        # Without the history, which the folding thread can then free while these are written.
        if last:  # serialised by the write, a chunk at a time, while it sends them
            records = {t: (_picked(h, new, t), _picked(h, changed, t)) for t in COLUMNS}
            return Folded(History(), {}, records=records, submitted=submitted)
        return Folded(History(), _rows(h, changed), new_rows=_rows(h, new), submitted=submitted)

    def write(self, cur: Cursor, folded: Folded) -> None:
        for table, rows in folded.new_rows.items():
            cur.insert(self.t(table), _SENT[table], rows)
        for table, rows in folded.rows.items():
            cur.upsert(self.t(table), _SENT[table], rows)
        for table, (new, changed) in folded.records.items():
            for send, records in ((cur.insert, new), (cur.upsert, changed)):
                while records:  # each chunk let go of once sent: freed while the server works
                    chunk, records[:WRITE_CHUNK] = records[:WRITE_CHUNK], []
                    send(self.t(table), _SENT[table], _rows_of(table, chunk))
        if folded.submitted is not None:
            cur.execute(
                f"INSERT INTO {self.t(COUNTS)} (name, value) VALUES (:name, :value)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                {"name": SUBMITTED, "value": folded.submitted},
            )

    def _loaded(self, cur: Cursor, events: Sequence[Fact], previous: Folded | None) -> History:
        history = History()
        wanted = Folder.references(events)
        held = previous.history if previous is not None else History()
        # The count of submissions so far, carried from the batch before, else read back
        # from the view if this batch numbers a request (what batch N-1 wrote has committed).
        history.submitted = previous.history.submitted if previous is not None else None
        if history.submitted is None and any(e.topic == SUBMITTED_TOPIC for e in events):
            history.submitted = self._count(cur, SUBMITTED)
        history.bundles = self.load(cur, BUNDLES, wanted.bundles, BundleRecord, held.bundles)
        for event in events:
            if event.topic == CANCELLED_TOPIC and event.aggregate_id in history.bundles:
                wanted.requests.update(history.bundles[event.aggregate_id].request_ids)
        history.requests = self.load(cur, REQUESTS, wanted.requests, RequestRecord, held.requests)
        history.changes = self.load(cur, CHANGES, wanted.changes, ChangeRecord, held.changes)
        if wanted.rankings:
            history.rankings = self.load(cur, RANKINGS, None, RankingRecord, held.rankings)
        return history

    def _recaller(self, cur: Cursor, history: History, held: Held) -> Recall:
        """Reads back, into `history`, a record a held rebuild let go of (`Held.let_go`)."""

        def recall(kind: str, record_id: str) -> Record | None:
            if record_id in held.missing:
                return None
            table = _TABLE[kind]
            found = self.load(cur, table, {record_id}, _RECORD[table]).get(record_id)
            if found is None:  # never written: an event about a record the log never began
                held.missing.add(record_id)
                return None
            getattr(history, kind)[record_id] = found
            getattr(held.written, kind).add(record_id)
            held.recalled += 1
            return found

        return recall

    def _count(self, cur: Cursor, name: str) -> int:
        cur.execute(f"SELECT value FROM {self.t(COUNTS)} WHERE name = :name", {"name": name})
        row = cur.fetchone()
        return int(row["value"]) if row is not None else 0

    def load(
        self,
        cur: Cursor,
        table: str,
        ids: set[str] | None,
        kind: type[R],
        held: Mapping[str, R] | None = None,
    ) -> dict[str, R]:
        """The records of `table` with these ids (all of them if None); those in `held`
        are taken from it, as they stand in memory, not read back."""
        found: dict[str, R] = {}
        held = held or {}
        rows: list[tuple[Any, ...]] = []
        if ids is None:
            rows = cur.tuples(f"SELECT data FROM {self.t(table)}")
        else:
            wanted = []
            for record_id in ids:
                if record_id in held:
                    found[record_id] = held[record_id]
                else:
                    wanted.append(record_id)
            if wanted:
                rows = cur.tuples_in(f"SELECT data FROM {self.t(table)} WHERE", "id", wanted)
        decode = kind.from_json
        for (data,) in rows:
            record = decode(orjson.loads(data))
            found[record.id] = record
        if ids is None:
            found.update(held)
        return found


_KIND = {REQUESTS: "requests", BUNDLES: "bundles", CHANGES: "changes",
         DEPLOYMENTS: "deployments", RANKINGS: "rankings"}  # fmt: skip
"""Each table's records, as History and Touched name them."""
_TABLE = {kind: table for table, kind in _KIND.items()}
_RECORD: dict[str, type[Record]] = {REQUESTS: RequestRecord, BUNDLES: BundleRecord,
    CHANGES: ChangeRecord, DEPLOYMENTS: DeploymentRecord, RANKINGS: RankingRecord}  # fmt: skip


def _picked(h: History, t: Touched, table: str) -> list[Record]:
    """The records of `table` that `t` names."""
    kind = _KIND[table]
    records: dict[str, Record] = getattr(h, kind)
    return [records[i] for i in getattr(t, kind)]


def _rows_of(table: str, records: Sequence[Record]) -> list[tuple[Any, ...]]:
    return [_row(table, record) for record in records]


def _rows(h: History, t: Touched) -> dict[str, list[tuple[Any, ...]]]:
    return {table: _rows_of(table, _picked(h, t, table)) for table in COLUMNS}


def _days_before(instant: str, days: int) -> str:
    """`instant` (UTC, as the records keep it) less `days`, spelt the same way."""
    if not instant:
        return ""
    return to_utc((datetime.fromisoformat(instant) - timedelta(days=days)).isoformat())


def _records(h: History) -> int:
    return len(h.requests) + len(h.bundles) + len(h.changes) + len(h.deployments)


_KINDS = tuple(f.name for f in fields(Touched))


@dataclass
class Held:
    """What a rebuild that holds its records in memory has written of them, and what
    its folds changed since; `holding` until it holds too many."""

    holding: bool = True
    once: bool = False
    """Every record written once, after the last fold (a log of at most
    WRITE_ONCE_AT_MOST events), instead of whenever the writer is free."""
    written: Touched = field(default_factory=Touched)
    changed: Touched = field(default_factory=Touched)
    latest: str = ""
    """The instant of the latest event folded."""
    missing: set[str] = field(default_factory=set)
    """Ids an event named that no record has (none to read back)."""
    let_go_of: int = 0
    """How many records were let go of (`let_go`)..."""
    recalled: int = 0
    """...and how many of them were read back."""

    def touched(self, touched: Touched, holding: bool) -> Held:
        for kind in _KINDS:
            getattr(self.changed, kind).update(getattr(touched, kind))
        self.holding = holding
        return self

    def let_go(self, h: History, new: Touched, again: Touched) -> None:
        """Takes out of `h` the records written before this write (`new` and `again`), and
        not changed since, that are settled: every deployment report (the fold never
        reads one back), and requests, bundles and changes that ended SETTLED_DAYS
        before the latest event folded. A later event about one reads it back."""
        cutoff = _days_before(self.latest, SETTLED_DAYS)
        for kind in ("requests", "bundles", "changes", "deployments"):
            records: dict[str, Any] = getattr(h, kind)
            written = getattr(self.written, kind)
            now, now_again = getattr(new, kind), getattr(again, kind)
            always = kind == "deployments"
            gone = [
                i for i, r in records.items()
                if i in written and i not in now and i not in now_again
                and (always or (r.ended_at is not None and r.ended_at < cutoff))
            ]  # fmt: skip
            for i in gone:
                del records[i]
                written.discard(i)
            self.let_go_of += len(gone)

    def unwritten(self) -> tuple[Touched, Touched]:
        """The records changed since the last write: those never written, and the others.
        All of them count as written from here on."""
        new, again = Touched(), Touched()
        for kind in _KINDS:
            changed, written = getattr(self.changed, kind), getattr(self.written, kind)
            setattr(new, kind, changed - written)
            setattr(again, kind, changed & written)
            written.update(changed)
        self.changed = Touched()
        return new, again


@dataclass
class Folded:
    """A batch folded: every record it read or changed, and the rows to write (`rows`
    upserted, `new_rows` inserted, `submitted` the count of submissions when it moved);
    `held`, in a rebuild that holds every record; `records`, the last write of such a
    rebuild: per table, the records to insert and those to upsert, serialised as they
    are sent (and taken out of these lists, so that each is freed once sent)."""

    history: History
    rows: dict[str, list[tuple[Any, ...]]]
    new_rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    records: dict[str, tuple[list[Record], list[Record]]] = field(default_factory=dict)
    held: Held | None = None
    submitted: int | None = None


class MetricsViews:
    """Reads the records that can matter to a window of business days."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.zone = log.settings.zone
        self.projection = MetricsProjection(log)
        self.group = ProjectionGroup(log, [self.projection], batch_size=BATCH_SIZE)

    def behind(self) -> int:
        """How many events of the log the view has still to fold, when a read does not
        catch it up first (more than RAILYARD_READ_YOUR_WRITES_MAX_LAG: a rebuild or an
        upgrade under way, or no worker running); 0 when its figures are complete."""
        lag = self.group.lag()
        return lag if lag > self.log.settings.read_your_writes_max_lag else 0

    def first_submitted(self) -> str | None:
        """When the first request the view holds was submitted (None before any)."""
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            first = cur.scalar(f"SELECT MIN(submitted_at) FROM {self.log.table(REQUESTS)}")
        return str(first) if first else None

    def history(self, first: date, last: date) -> History:
        """Every record whose life overlaps `first`..`last` (plus a day's margin either
        side; the metrics themselves select exactly by business date)."""
        self.group.ensure_fresh()
        low, high = window(first, last, self.zone)  # History.lived reads the same
        t = self.log.table
        p = self.projection
        between = {"low": low, "high": high}
        # One indexed range per condition (an OR of them lets the planner scan it all).
        open_or_ended = ("ended_at IS NULL", "ended_at >= :low")
        with self.log.db.transaction() as cur:
            requests = _select(
                cur, t(REQUESTS), RequestRecord, between,
                *(f"{c} AND submitted_at < :high" for c in (*open_or_ended, "rated_at >= :low")),
            )  # fmt: skip
            bundles = _select(cur, t(BUNDLES), BundleRecord, between, *open_or_ended)
            changes = _select(cur, t(CHANGES), ChangeRecord, between, *open_or_ended)
            deployments = _select(
                cur, t(DEPLOYMENTS), DeploymentRecord, between, "at >= :low AND at < :high"
            )
            rankings = p.load(cur, RANKINGS, None, RankingRecord)
        return History(requests, bundles, changes, deployments, rankings)


def _select(
    cur: Cursor, table: str, kind: type[R], params: dict[str, Any], *conditions: str
) -> dict[str, R]:
    found: dict[str, R] = {}
    for condition in conditions:
        cur.execute(f"SELECT id, data FROM {table} WHERE {condition}", params)
        for row in cur.fetchall():
            if row["id"] not in found:  # the conditions overlap; decode each row once
                found[row["id"]] = kind.from_json(orjson.loads(row["data"]))
    return found
