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
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import structlog

from shared.store.collector import collector_paused
from shared.store.log import EventLog, LoggedEvent
from shared.store.read_ahead import Ahead, Batch, Reader, Undecoded
from shared.store.recorders import POSITIONS_TABLE
from shared.store.sql import Cursor, Params, Row, lock_for_ddl
from shared.store.view import Handler, Projection, StagedProjection, event_topic, topic_of

__all__ = [
    "Handler",
    "Projection",
    "ProjectionGroup",
    "StagedProjection",
    "event_topic",
    "topic_of",
]

log = structlog.get_logger(__name__)


ANALYZE_FROM_EVENTS = 100_000
"""A rebuild of a log this long leaves PostgreSQL's planner statistics of its views (every
row is new; until autovacuum analyses them, if it runs at all, they are planned blind):
1M events' metrics view gave a month in 42 ms blind and 15 analysed, 400,000 events' in
24 and 11, 100,000 events' in 12 and 9 (in 15 either way another day), and analysing a
10k view took 7 ms of its 130 ms rebuild."""


class _FirstFold:
    """What a rebuild's first fold starts from, handed over once: held in the rebuild's
    own frames, it would keep every record the folds add to it alive until the rebuild
    returns (freeing 20,000 records took 20 ms), instead of freeing them while the last
    write runs."""

    def __init__(self, folded: Any) -> None:
        self._folded = folded
        self.holding = folded is not None

    def take(self) -> Any:
        folded, self._folded = self._folded, None
        return folded


class _Moved(Exception):
    """Another process moved the group's positions while a batch was folded."""


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
        self._names = {f"ry_n{i}": name for i, name in enumerate(names)}
        self._in = ", ".join(f":{key}" for key in self._names)
        self._positions = log.table(POSITIONS_TABLE)
        self._ready = False
        self._freshness = self._freshness_query()
        self._narrow: dict[frozenset[str], tuple[str, dict[str, Any]]] = {}
        self._clear: dict[frozenset[str] | None, tuple[int, int]] = {}
        """Per set of topics checked (None: all the group reads): (position, head) of this
        process's last check that found none of them after the position, up to the head."""
        self._read_topics: dict[str, bool] = {}

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
                cur.execute(
                    f"SELECT name FROM {self._positions} WHERE name IN ({self._in})", self._names
                )
                known = {r["name"] for r in cur.fetchall()}
                for projection in self.projections:
                    if projection.name not in known:
                        # A name not seen before (a view's new version, decision 2): the
                        # tables an older version left are not this one's to fold onto.
                        projection.drop(cur)
                    projection.create(cur)
            for projection in self.projections:
                cur.execute(
                    f"INSERT INTO {self._positions} (name, position) VALUES (:name, 0)"
                    " ON CONFLICT (name) DO NOTHING",
                    {"name": projection.name},
                )
        self._ready = True

    def rebuild(self) -> int:
        """Drop every view of the group and fold the whole log again. The log's first
        batch is read, on another connection, while the views are dropped and created
        again (the DDL waits for the disk: a transaction that deletes files commits
        synchronously, and each new index is synced). A staged projection that can hold
        the whole view in memory (`empty`) starts folding meanwhile too."""
        self.setup()
        staged = self._staged()
        first = _FirstFold(None)
        if staged is not None and self.log.db.backend == "postgres":
            first = _FirstFold(staged.empty(self.log.head()))
        read = self._catch_up(None, far_behind=True, reset=True, first=first)
        analyze = self.log.db.backend == "postgres" and read >= ANALYZE_FROM_EVENTS
        if first.holding and not analyze:
            return read
        with self._lock, self.log.db.transaction(write=True) as cur:
            _commit_without_waiting(self.log, cur)
            if not first.holding:  # created without the indexes folding does not use
                lock_for_ddl(self.log.db, cur)
                for projection in self.projections:
                    projection.create(cur)  # what create_unindexed left out
            if analyze:
                for projection in self.projections:
                    projection.analyze(cur)
        return read

    def _reset(self, indexed: bool = False) -> None:
        """Every view of the group dropped and created empty, its position at 0;
        `indexed`: with every index (for a view written in a few large writes). One
        script, one round trip: it runs while another thread reads, or folds."""

        def statements(cur: Cursor) -> None:
            _commit_without_waiting(self.log, cur)
            lock_for_ddl(self.log.db, cur)
            self._lock_positions(cur)
            for projection in self.projections:
                projection.drop(cur)
                if indexed:
                    projection.create(cur)
                else:
                    projection.create_unindexed(cur)
            cur.execute(
                f"UPDATE {self._positions} SET position = 0 WHERE name IN ({self._in})",
                self._names,
            )

        self.log.db.script(statements)

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
        """Apply every event not yet applied; returns how many events were read.

        On PostgreSQL, once a batch comes back full (there is more to apply), the next
        batch is read and decoded on another connection while this one is applied; and a
        group of one `StagedProjection` then folds each batch while the one before it is
        written (`_catch_up_staged`)."""
        return self._catch_up(max_batches, far_behind=False)

    def _catch_up(
        self,
        max_batches: int | None,
        far_behind: bool,
        reset: bool = False,
        first: _FirstFold | None = None,
    ) -> int:
        """`reset`: every view is dropped and its position moved to 0 first (a rebuild);
        `first`: what its staged projection's first fold starts from (`empty()`)."""
        self.setup()
        if not self.projections:
            return 0
        total = 0
        batches = 0
        ahead: Ahead | None = None
        staged = self._staged()
        # A staged projection's folds decode each event as they reach it (`Undecoded`).
        reading = self._read_now if staged is None else self._read_undecoded_now
        reader = Reader(reading) if self.log.db.backend == "postgres" else None
        if far_behind and staged is not None and reader is not None:
            # A small first batch: folding starts sooner, and the stages overlap sooner.
            start = 0 if reset else self.position()
            ahead = reader.read_ahead(start, self._smallest_batch)
            # (and _catch_up_staged shrinks them again near the head)
        try:
            if reset and (first is None or not first.holding):
                with self._lock:
                    self._reset()
            with collector_paused():
                while max_batches is None or batches < max_batches:
                    if staged is not None and reader is not None and ahead is not None:
                        left = None if max_batches is None else max_batches - batches
                        return total + self._catch_up_staged(staged, reader, ahead, left, first)
                    batches += 1
                    more = max_batches is None or batches < max_batches
                    read, ahead = self._apply_one_batch(ahead, reader if more else None)
                    total += read
                    if read < self.batch_size:
                        break
        finally:
            if reader is not None:
                reader.close()
        return total

    def _staged(self) -> StagedProjection[Any] | None:
        """The group's one projection, if it folds and writes in two steps and the pool
        has the three connections overlapping them takes (reading ahead, folding,
        writing)."""
        if len(self.projections) != 1 or self.log.settings.pool_size < 2:
            return None
        projection = self.projections[0]
        return projection if isinstance(projection, StagedProjection) else None

    def _catch_up_staged(
        self,
        projection: StagedProjection[Any],
        reader: Reader,
        ahead: Ahead,
        left: int | None,
        first: _FirstFold | None = None,
    ) -> int:
        """Fold batch N+1 while batch N is written, on another connection, in a thread.

        Each batch is still written in one transaction with its position, checked under
        the positions' lock to be where the batch starts, so exactly once holds as in
        `_apply_one_batch`. What batch N+1 folds comes from the log and from the rows
        batch N did not write (committed by batch N-1 or earlier, whose write has
        finished); the records batch N wrote are taken from N's fold, not read back. If
        another process moved the positions meanwhile, the write is refused and this
        catch-up stops: that process carries on from where it is.

        `first` (a rebuild that holds its records, see `StagedProjection.empty`): the
        views are reset by the writer while the first batches are folded, and a fold that
        `holds` is written later, together with those before it."""
        total = 0
        batches = 0
        previous: Any = first.take() if first is not None else None
        written: Future[None] | None = None
        writer = ThreadPoolExecutor(1, thread_name_prefix="view-writer")
        following: Ahead | None = ahead
        since = ahead.after  # where the events not yet written start
        unwritten: Batch | None = None  # the last batch folded, if not written yet
        folded: Any = None
        try:
            with self._lock:
                if first is not None and first.holding:  # a rebuild that holds its records
                    written = writer.submit(self._reset, True)  # dropped while they fold
                head = self.log.head()
                while following is not None and (left is None or batches < left):
                    batch = following.take(following.after) or reader.read(following.after, None)
                    if not batch.read:
                        break
                    batches += 1
                    following = None
                    if batch.full and (left is None or batches < left):
                        following = reader.read_ahead(batch.last, self._next_limit(batch, head))
                    with self.log.db.transaction() as cur:
                        folded = projection.fold(cur, batch.events, previous)
                    previous = folded
                    total += batch.read
                    unwritten = batch
                    busy = written is not None and not written.done()
                    if following is not None and projection.holds(folded, busy):
                        continue  # written with a later batch
                    written = self._hand_over(
                        writer, written, projection, since, batch, folded, following is None
                    )
                    since, unwritten = batch.last, None
                if unwritten is not None:  # the log ended on a full batch the fold held
                    written = self._hand_over(
                        writer, written, projection, since, unwritten, previous, True
                    )
                # What the last fold held is freed while the server writes it.
                previous = folded = None
                if written is not None:
                    written.result()
        except _Moved:
            log.info("catch_up_yielded", group=[p.name for p in self.projections])
        finally:
            if following is not None:
                following.future.cancel()
            writer.shutdown(wait=True)
        return total

    def _hand_over(
        self,
        writer: ThreadPoolExecutor,
        written: Future[None] | None,
        projection: StagedProjection[Any],
        since: int,
        batch: Batch,
        folded: Any,
        last: bool,
    ) -> Future[None]:
        """The events after `since` to the end of `batch`, folded, given to the writer
        once it has committed what it was given before (batch N-1 committed before N+1
        reads its rows). Prepared first, while the writer may still be busy: preparing
        reads nothing from the view. `last`: no fold follows it."""
        prepared = projection.prepare(folded, last)
        if written is not None:
            written.result()
        # Only where the batch ends: its events are freed once folded, not held until
        # the write commits (7,500 decoded events are some 10 MB).
        return writer.submit(self._write_staged, projection, since, batch.last, prepared)

    def _next_limit(self, batch: Batch, head: int) -> int:
        """Batches grow from small ones and shrink again towards the head seen at the
        start: the stages overlap early, and the last write, which nothing overlaps, is a
        short one."""
        near_end = max(self._smallest_batch, (head - batch.last) // 2)
        return min(self.batch_size, batch.limit * 2, near_end)

    @property
    def _smallest_batch(self) -> int:
        """Where a staged catch-up's batches start, and how small they shrink near the head."""
        return max(1, self.batch_size // 8)

    def _read_now(self, after: int, limit: int | None = None) -> Batch:
        with self.log.db.transaction() as cur:
            return self._read(cur, after, limit)

    def _read_undecoded_now(self, after: int, limit: int | None = None) -> Batch:
        with self.log.db.transaction() as cur:
            return self._read(cur, after, limit, decoded=False)

    def _write_staged(
        self, projection: StagedProjection[Any], since: int, last: int, folded: Any
    ) -> None:
        """The events after `since` up to `last`, folded, written."""
        # Pipelined: the writer waits for the server twice (the positions, then the end),
        # not once per statement; each wait is also a wait for the folding thread to hand
        # back the interpreter lock, up to its switch interval (5 ms).
        with self.log.db.transaction(write=True) as cur, cur.pipeline():
            _commit_without_waiting(self.log, cur)
            if any(p != since for p in self._locked_positions(cur).values()):
                raise _Moved
            projection.write(cur, folded)
            self._advance(cur, last)

    def ensure_fresh(self, reads: frozenset[str] | None = None) -> None:
        """Read-your-writes: catch up first when the views are only a little behind.

        One query tells how far behind the group is and whether any event it reads came
        after its position. Events it does not read need no catching up (most of a busy
        log, for a view like the users'): the group moves past them only once they pile
        up, with no event read and no view touched. A query that reads only what some
        topics write names them in `reads`: other events then need no catching up first."""
        if not self.projections:
            return
        statement, params = self._freshness_for(reads)
        with self.log.db.transaction() as cur:
            cur.execute(statement, params)
            row = cur.fetchone()
        assert row is not None
        self._after_check(row["position"], row["head"], row["pending"], reads)

    def fresh_rows(
        self, statement: str, params: Params, reads: frozenset[str] | None = None
    ) -> list[Row]:
        """The rows of `statement`, a read of this group's views, as fresh as
        `ensure_fresh(reads)` and then the read would give them, in their order: both in
        one statement, so one round trip and one snapshot, unless the check finds events
        to catch up first (then the read runs again after). For the reads every request
        makes (a token's holder, an approval's blackouts)."""
        if not self.projections:
            return self._fetch(statement, params)
        check, check_params = self._freshness_for(reads)
        if taken := check_params.keys() & params.keys():
            raise ValueError(f"parameter names taken by the freshness check: {sorted(taken)}")
        with self.log.db.transaction() as cur:
            # The numbering keeps the read's own order through the join (the one row of
            # the check, joined to every row of the read, or to none).
            cur.execute(
                f"SELECT f.position AS ry_position, f.head AS ry_head,"
                f" f.pending AS ry_pending, r.* FROM ({check}) f"
                f" LEFT JOIN (SELECT ROW_NUMBER() OVER () AS ry_n, q.* FROM ({statement}) q) r"
                " ON 1 = 1 ORDER BY r.ry_n",
                {**check_params, **params},
            )
            rows = cur.fetchall()
        first = rows[0]
        if self._after_check(first["ry_position"], first["ry_head"], first["ry_pending"], reads):
            return self._fetch(statement, params)
        if first["ry_n"] is None:
            return []
        hidden = ("ry_position", "ry_head", "ry_pending", "ry_n")
        return [{k: v for k, v in row.items() if k not in hidden} for row in rows]

    def _fetch(self, statement: str, params: Params) -> list[Row]:
        with self.log.db.transaction() as cur:
            cur.execute(statement, params)
            return cur.fetchall()

    def _freshness_for(self, reads: frozenset[str] | None) -> tuple[str, dict[str, Any]]:
        self.setup()
        if reads is None:
            statement, params = self._freshness
        else:
            if reads not in self._narrow:
                self._narrow[reads] = self._freshness_query(reads)
            statement, params = self._narrow[reads]
        since, clear_to = self._clear.get(reads, (0, 0))
        return statement, {**params, "ry_since": since, "ry_clear_to": clear_to}

    def _after_check(
        self, position: int | None, head: int | None, pending: Any, reads: frozenset[str] | None
    ) -> bool:
        """Act on a freshness check's answer; True when it caught the group up."""
        limit = self.log.settings.read_your_writes_max_lag
        lag = int(head or 0) - int(position or 0)
        if lag <= 0 or lag > limit:
            return False
        if pending:
            self.catch_up()
            return True
        known = self._clear.get(reads)
        # Keep the furthest head (two threads racing here may leave the older of their
        # two: still true of the log, only less to skip).
        if known is None or int(head or 0) > known[1]:
            self._clear[reads] = (int(position or 0), int(head or 0))
        if lag > limit // 2:
            if reads is None:
                self._move_past(int(head or 0))
            else:
                # Only some topics were looked at: events of the others may lie in between,
                # and moving past them would lose them for the group's other views. The
                # full check decides (catch up, or move past), once in so many events.
                self.ensure_fresh()
        return False

    def _freshness_query(self, reads: frozenset[str] | None = None) -> tuple[str, dict[str, Any]]:
        """The group's position, the log's head and whether an event the group reads (of
        `reads`, when given) lies between them, at most `limit` events on: one statement,
        so one snapshot.

        PostgreSQL answers the last by reading every event in that range (its position's
        index, then each event's topic from its row), so it costs what the distance
        costs: 0.13 -> 1.1 ms of PostgreSQL's CPU for a sign-in's check from 0 to 2,400
        events behind. What this process's last check found clear (`ry_since`,
        `ry_clear_to`: none of these topics after that position up to that head) is not
        read again while the group has not gone back before it (a rebuild): positions
        commit in order, so no event can join that range later (decision 99)."""
        topics: set[str] = set()
        for projection in self.projections:
            read = projection.topics()
            if read is None:
                topics = set()
                break
            topics |= read
        if reads is not None:
            topics = set(reads)
        keys = {f"ry_t{i}": topic for i, topic in enumerate(sorted(topics))}
        column, events = self.log.position_column, self.log.events_table
        among = f" AND e.topic IN ({', '.join(':' + k for k in keys)})" if keys else ""
        statement = (
            f"SELECT p.position AS position, (SELECT MAX({column}) FROM {events}) AS head,"
            f" EXISTS (SELECT 1 FROM {events} e WHERE e.{column} > CASE WHEN"
            " p.position >= :ry_since AND :ry_clear_to > p.position THEN :ry_clear_to"
            f" ELSE p.position END AND e.{column} <= p.position + :ry_limit{among}) AS pending"
            f" FROM (SELECT MIN(position) AS position FROM {self._positions}"
            f" WHERE name IN ({self._in})) p"
        )
        limit = self.log.settings.read_your_writes_max_lag
        return statement, {**self._names, **keys, "ry_limit": limit}

    def _move_past(self, head: int) -> None:
        """Advance to `head`, which the caller saw with nothing for this group before it.

        Positions commit in order (the library's table lock), so every event up to a head
        seen in a snapshot was in that snapshot: none of ours can be skipped."""
        with self._lock, self.log.db.transaction(write=True) as cur:
            _commit_without_waiting(self.log, cur)
            self._locked_positions(cur)  # in their order, before the update takes them
            self._advance(cur, head)

    def _locked_positions(self, cur: Cursor) -> dict[str, int]:
        """Each projection's position, its row locked until the transaction ends (SQLite's
        write transaction already holds the whole database)."""
        self._lock_positions(cur)
        return {r["name"]: int(r["position"]) for r in cur.fetchall()}

    def _lock_positions(self, cur: Cursor) -> None:
        """The positions' rows locked, their answer left unread (a script reads none).

        The rows are locked in the order of their names, whatever plan the server picks:
        in the order of a scan, two processes catching up the same group locked them in
        different orders and one of them failed with "deadlock detected" (a 503)."""
        lock = " ORDER BY name FOR UPDATE" if self.log.db.backend == "postgres" else ""
        cur.execute(
            f"SELECT name, position FROM {self._positions} WHERE name IN ({self._in}){lock}",
            self._names,
        )

    def _advance(self, cur: Cursor, to: int) -> None:
        """Move every position of the group forward to `to` (never back)."""
        cur.execute(
            f"UPDATE {self._positions} SET position = :to"
            f" WHERE name IN ({self._in}) AND position < :to",
            {**self._names, "to": to},
        )

    def _read(
        self, cur: Cursor, after: int, limit: int | None = None, decoded: bool = True
    ) -> Batch:
        """The next batch after `after`, each event some projection reads decoded (or, not
        `decoded`, left to decode as it is reached: `Undecoded`)."""
        rows = cur.tuples(
            f"SELECT {self.log.position_column}, CAST(originator_id AS TEXT),"
            f" originator_version, topic, state FROM {self.log.events_table}"
            f" WHERE {self.log.position_column} > :after"
            f" ORDER BY {self.log.position_column} LIMIT :limit",
            {"after": after, "limit": limit or self.batch_size},
        )
        if not rows:
            return Batch(after, [], after, 0, limit or self.batch_size)
        read = self._read_topics
        for topic in {row[3] for row in rows} - read.keys():
            read[topic] = any(p.handles(topic) for p in self.projections)
        kept = [row for row in rows if read[row[3]]]
        last, asked = int(rows[-1][0]), limit or self.batch_size
        if not decoded:
            return Batch(after, Undecoded(kept), last, len(rows), asked)
        decode = LoggedEvent.from_row
        events = [decode(p, o, v, t, bytes(state)) for p, o, v, t, state in kept]
        return Batch(after, events, last, len(rows), asked)

    def _apply_one_batch(
        self, ahead: Ahead | None = None, reader: Reader | None = None
    ) -> tuple[int, Ahead | None]:
        """Apply one batch in one transaction with the new positions. `ahead` is a batch
        read in advance (used only if it starts where the positions are); with `reader`,
        the batch after this one is read in advance while this one is applied."""
        with self._lock, self.log.db.transaction(write=True) as cur:
            _commit_without_waiting(self.log, cur)
            positions = self._locked_positions(cur)
            start = min(positions.values())
            batch = ahead.take(start) if ahead is not None else None
            if batch is None:
                batch = self._read(cur, start)
            if not batch.read:
                return 0, None
            following = None
            if reader is not None and batch.full:
                following = reader.read_ahead(batch.last)
            for projection in self.projections:
                after = positions[projection.name]
                if after == start and len(self.projections) == 1:
                    events = batch.events  # every event read is one it reads
                else:
                    handles = projection.handles
                    events = [e for e in batch.events if e.position > after and handles(e.topic)]
                if events:
                    projection.apply_batch(cur, events)
            self._advance(cur, batch.last)
            return batch.read, following


def _commit_without_waiting(log: EventLog, cur: Cursor) -> None:
    """A view's batch commits without waiting for its WAL to reach the disk. A crash may
    lose the last batches, each with its position in the same transaction, so they are
    applied again: views are derived from the log, whose own commits stay synchronous. The
    batch holds its positions' row locks until it commits, so not waiting for the disk
    shortens the time every other reader of the group waits (decision 0082)."""
    if log.db.backend == "postgres":
        cur.execute("SET LOCAL synchronous_commit TO OFF")
