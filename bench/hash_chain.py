"""What the log's hash chain costs a write, on PostgreSQL.

One-event saves (a submitted change request each) through `EventLog.save`, with 1 and 4
writer threads, into two fresh schemas in one process: one with the hash chain (our
insert: one round trip, the chain extended by a database function), one whose recorder
uses the library's own insert without the chain (the baseline). Blocks
of 48 saves alternate between the two (and which goes first), so the load on a shared
machine falls on both alike. The figure is the ratio of the chained throughput to the
baseline's; the median over blocks and its quartiles show the noise.

`RAILYARD_BENCH_HASH_EVENTS` (default 4,800) sets events per variant; `DATABASE_URL`
picks the server.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

from services.intake.domain import Category, ChangeRequest, SizeEstimate
from shared.domain import attributed_to
from shared.settings import DEFAULT_SUBSYSTEMS, load_settings
from shared.store.log import EventLog
from shared.store.recorders import RailyardPostgresRecorder

URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
EVENTS = int(os.environ.get("RAILYARD_BENCH_HASH_EVENTS", "4800"))
BLOCK = 48


class _Unchained(RailyardPostgresRecorder):
    """The write path without the chain: the library's own insert."""

    def _insert_at_once(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        library_insert = PostgresApplicationRecorder.insert_events.__wrapped__
        # (functools.wraps in the library's retry decorator keeps the undecorated method)
        result: Sequence[int] | None = library_insert(self, stored_events, **kwargs)
        return result


def _request() -> ChangeRequest:
    return ChangeRequest.submit(
        title="Bill shock alerts by SMS",
        description="Text customers when their bill passes a limit they set.",
        justification="Bill shock drives 8% of call-centre volume.",
        department="Sales",
        sponsor="Val Sales",
        category=Category.BUSINESS_PROJECT,
        subsystems=["Billing", "CRM"],
        size_estimate=SizeEstimate.M,
        desired_date=date(2027, 3, 1),
        requester="vp.sales",
        catalogue=DEFAULT_SUBSYSTEMS,
    )


def _log(schema: str, writers: int) -> EventLog:
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return EventLog(
        load_settings(database_url=URL, db_schema=schema, pool_size=writers, log_level="warning")
    )


def _block(log: EventLog, writers: int) -> float:
    with attributed_to("vp.sales"):
        requests = [_request() for _ in range(BLOCK)]

    def write(chunk: list[ChangeRequest]) -> None:
        for request in chunk:
            log.save(request)

    threads = [threading.Thread(target=write, args=(requests[i::writers],)) for i in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _compare(writers: int) -> dict[str, Any]:
    schemas = {name: f"bench_hash_{name}_{uuid.uuid4().hex[:8]}" for name in ("chained", "plain")}
    logs = {name: _log(schema, writers) for name, schema in schemas.items()}
    logs["plain"].recorder.__class__ = _Unchained
    times: dict[str, list[float]] = {"chained": [], "plain": []}
    try:
        for block in range(EVENTS // BLOCK):
            order = ["chained", "plain"] if block % 2 == 0 else ["plain", "chained"]
            for name in order:
                times[name].append(_block(logs[name], writers))
    finally:
        for log in logs.values():
            log.close()
        with psycopg.connect(URL, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    ratios = [p / c for p, c in zip(times["plain"], times["chained"], strict=True)]
    q = statistics.quantiles(ratios, n=4)
    events = BLOCK * len(ratios)
    return {
        "writers": writers,
        "events_per_variant": events,
        "chained_events_per_s": round(events / sum(times["chained"])),
        "baseline_events_per_s": round(events / sum(times["plain"])),
        "ratio": round(sum(times["plain"]) / sum(times["chained"]), 3),
        "ratio_median_of_blocks": round(statistics.median(ratios), 3),
        "ratio_quartiles": [round(q[0], 3), round(q[2], 3)],
    }


def run(results: Path) -> dict[str, Any]:
    return {"writes": [_compare(writers) for writers in (1, 4)]}
