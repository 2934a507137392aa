"""The metrics view: every request, bundle, production change and deployment report as
one row each, folded from the whole log in batches, and read back by period.

A batch loads the rows its events touch, folds the events in memory with the same
`Folder` a consumer's replay uses, and writes the changed rows back in bulk, in the
group's transaction (so exactly once, and resumable). A query loads only the rows that
can matter to the periods it asks about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

import orjson

from services.metrics.domain.calendar import start_of
from services.metrics.domain.records import (
    BundleRecord,
    ChangeRecord,
    DeploymentRecord,
    History,
    RankingRecord,
    Record,
    RequestRecord,
)
from services.metrics.facts import TOPICS, Folder
from shared.store.log import EventLog, LoggedEvent
from shared.store.projections import Handler, Projection, ProjectionGroup
from shared.store.sql import Cursor

REQUESTS, BUNDLES, CHANGES = "metrics_requests", "metrics_bundles", "metrics_changes"
DEPLOYMENTS, RANKINGS = "metrics_deployments", "metrics_rankings"
CHUNK = 500
BATCH_SIZE = 20_000

R = TypeVar("R", bound=Record)

# Each table: its columns besides id and data, and how a record fills them.
COLUMNS: dict[str, tuple[str, ...]] = {
    REQUESTS: ("submitted_at", "ended_at", "rated_at"),
    BUNDLES: ("ended_at",),
    CHANGES: ("ended_at",),
    DEPLOYMENTS: ("at",),
    RANKINGS: (),
}


def _row(table: str, record: Record) -> dict[str, Any]:
    # orjson writes a dataclass's fields directly, much faster than building a dict first.
    row: dict[str, Any] = {"id": record.id, "data": orjson.dumps(record).decode()}
    for column in COLUMNS[table]:
        row[column] = getattr(record, column)
    return row


class MetricsProjection(Projection):
    name = "metrics.facts.v1"
    tables = (REQUESTS, BUNDLES, CHANGES, DEPLOYMENTS, RANKINGS)

    def create(self, cur: Cursor) -> None:
        for table, columns in COLUMNS.items():
            extra = "".join(f", {c} TEXT" for c in columns)
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.t(table)} ("
                f" id TEXT PRIMARY KEY{extra}, data TEXT NOT NULL)"
            )
            for column in columns:
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_{column} ON {self.t(table)} ({column})"
                )

    def handlers(self) -> Mapping[str, Handler]:
        # Events are folded a batch at a time in apply_batch; this names what is followed.
        return dict.fromkeys(TOPICS, self._one)

    def _one(self, cur: Cursor, event: LoggedEvent) -> None:
        self.apply_batch(cur, [event])

    def apply_batch(self, cur: Cursor, events: Sequence[LoggedEvent]) -> None:
        history = History()
        requests: set[str] = set()
        bundles: set[str] = set()
        changes: set[str] = set()
        rankings = False
        for event in events:
            r, b, c = Folder.references(event)
            requests.update(r)
            bundles.update(b)
            changes.update(c)
            rankings = rankings or event.type.startswith("DepartmentRanking.")
        history.bundles = self.load(cur, BUNDLES, bundles, BundleRecord)
        for event in events:
            if event.type == "ReleaseBundle.Cancelled" and event.aggregate_id in history.bundles:
                requests.update(history.bundles[event.aggregate_id].request_ids)
        history.requests = self.load(cur, REQUESTS, requests, RequestRecord)
        history.changes = self.load(cur, CHANGES, changes, ChangeRecord)
        if rankings:
            history.rankings = self.load(cur, RANKINGS, None, RankingRecord)
        folder = Folder(history)
        folder.apply_all(events)
        touched = folder.touched
        self._save(cur, REQUESTS, [history.requests[i] for i in touched.requests])
        self._save(cur, BUNDLES, [history.bundles[i] for i in touched.bundles])
        self._save(cur, CHANGES, [history.changes[i] for i in touched.changes])
        self._save(cur, DEPLOYMENTS, [history.deployments[i] for i in touched.deployments])
        self._save(cur, RANKINGS, [history.rankings[i] for i in touched.rankings])

    def load(self, cur: Cursor, table: str, ids: set[str] | None, kind: type[R]) -> dict[str, R]:
        found: dict[str, R] = {}
        if ids is None:
            cur.execute(f"SELECT data FROM {self.t(table)}")
            rows = cur.fetchall()
        else:
            rows = []
            wanted = sorted(ids)
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                params = {f"i{n}": value for n, value in enumerate(chunk)}
                cur.execute(
                    f"SELECT data FROM {self.t(table)}"
                    f" WHERE id IN ({', '.join(':' + k for k in params)})",
                    params,
                )
                rows.extend(cur.fetchall())
        for row in rows:
            record = kind.from_json(orjson.loads(row["data"]))
            found[record.id] = record
        return found

    def _save(self, cur: Cursor, table: str, records: Iterable[Record]) -> None:
        rows = [_row(table, r) for r in records]
        if not rows:
            return
        columns = ("id", *COLUMNS[table], "data")
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        cur.executemany(
            f"INSERT INTO {self.t(table)} ({', '.join(columns)})"
            f" VALUES ({', '.join(':' + c for c in columns)})"
            f" ON CONFLICT (id) DO UPDATE SET {updates}",
            rows,
        )


class MetricsViews:
    """Reads the records that can matter to a window of business days."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.zone = log.settings.zone
        self.projection = MetricsProjection(log)
        self.group = ProjectionGroup(log, [self.projection], batch_size=BATCH_SIZE)

    def history(self, first: date, last: date) -> History:
        """Every record whose life overlaps `first`..`last` (plus a day's margin either
        side; the metrics themselves select exactly by business date)."""
        self.group.ensure_fresh()
        low = start_of(first - timedelta(days=1), self.zone)
        high = start_of(last + timedelta(days=2), self.zone)
        t = self.log.table
        p = self.projection
        window = {"low": low, "high": high}
        # One indexed range per condition (an OR of them lets the planner scan it all).
        open_or_ended = ("ended_at IS NULL", "ended_at >= :low")
        with self.log.db.transaction() as cur:
            requests = _select(
                cur, t(REQUESTS), RequestRecord, window,
                *(f"{c} AND submitted_at < :high" for c in (*open_or_ended, "rated_at >= :low")),
            )  # fmt: skip
            bundles = _select(cur, t(BUNDLES), BundleRecord, window, *open_or_ended)
            changes = _select(cur, t(CHANGES), ChangeRecord, window, *open_or_ended)
            deployments = _select(
                cur, t(DEPLOYMENTS), DeploymentRecord, window, "at >= :low AND at < :high"
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


def _records(rows: list[dict[str, Any]], kind: type[R]) -> dict[str, R]:
    out: dict[str, R] = {}
    for row in rows:
        record = kind.from_json(orjson.loads(row["data"]))
        out[record.id] = record
    return out
