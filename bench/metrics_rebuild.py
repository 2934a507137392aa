"""Metrics at 10k, 100k and 1M events on PostgreSQL.

For each size, on a fresh schema filled with a synthetic contract-shaped history
(`bench/_synthetic.py`, a constant rate of about 7 requests a day, so a bigger log is a
longer history and the smallest still covers every window the endpoints look at):

- the full rebuild of the metrics view, in events/s, against a raw psycopg read of the
  same events with orjson decoding (the ratio is the figure; target >= 0.5; the raw read
  is also timed with the cyclic collector paused, as view batches run, and in
  PostgreSQL's binary format, as the rebuild reads: the like-for-like ratio), and against
  the shared ProjectionGroup driving a projection that does nothing (the machinery's own
  ceiling on the same events);
- the peak memory (max RSS) of the process doing the rebuild, each size in its own
  process, against the same process before it started;
- how rebuild time grows with the number of events (microseconds per event);
- the median latency of every metrics endpoint for the last whole month of each log, in rounds that
  alternate between the sizes (target: at 1M within 1.5x of 10k).

The rebuild and the raw reads alternate in `RAILYARD_BENCH_ROUNDS` rounds (default 3): a
busy moment on a shared machine hits both sides of a ratio. A small log takes more rounds
(about as many as a second of rebuilding allows, up to 15): its rounds last a tenth of a
second, and a single one moved by 0.34-0.51 between rounds of the same run.
`RAILYARD_BENCH_SIZES=10000,100000` picks sizes; `DATABASE_URL` picks the server.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import resource
import statistics
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from fastapi.testclient import TestClient

from bench._environment import quick
from bench._synthetic import synthetic
from railyard.app import all_components
from services.metrics.facts import TOPICS
from services.metrics.views import BATCH_SIZE, MetricsViews
from shared.application import acting_as
from shared.http.app import create_app
from shared.logging import configure_logging
from shared.platform import Platform
from shared.settings import load_settings
from shared.store.collector import collector_paused
from shared.store.log import EventLog
from shared.store.projections import Projection, ProjectionGroup

SIZES = tuple(
    int(s) for s in os.environ.get("RAILYARD_BENCH_SIZES", "10000,100000,1000000").split(",")
)
URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REPEATS = 9
ROUNDS = 1 if quick() else int(os.environ.get("RAILYARD_BENCH_ROUNDS", "3"))
MOST_ROUNDS = 15


def rounds_for(events: int) -> int:
    """ROUNDS, or more for a small log: about a million events rebuilt in all (10k: 15
    rounds of a tenth of a second each, besides starting their processes)."""
    if quick():
        return ROUNDS
    return max(ROUNDS, min(MOST_ROUNDS, 1_000_000 // max(1, events)))


# About 50 events a day: the smallest store spans some 200 days, so every window the
# endpoints look at (up to about 150 days) is full at every size.
REQUESTS_PER_DAY = 7


def _settings(schema: str) -> Any:
    return load_settings(database_url=URL, db_schema=schema, pool_size=4, log_level="warning",
                         statement_timeout_ms=3_600_000, read_your_writes_max_lag=0)  # fmt: skip


def _start(events: int) -> date:
    """Where a history of `events` starts so that it ends before today (the service
    refuses questions as of a day still to come): the days the generator takes for them,
    measured on up to 20,000 events (it is reproducible) and extrapolated beyond, with a
    margin, back from today."""
    probe = min(events, 20_000)
    stamps = [
        e.state["timestamp"][:10] for e in synthetic(probe, requests_per_day=REQUESTS_PER_DAY)
    ]
    span = (date.fromisoformat(stamps[-1]) - date.fromisoformat(stamps[0])).days + 1
    days = span * events / probe * (1 if probe == events else 1.1)
    return date.today() - timedelta(days=math.ceil(days) + 7)


def fill(schema: str, events: int) -> dict[str, Any]:
    """A fresh schema holding `events` synthetic events, inserted with COPY."""

    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    log = EventLog(_settings(schema))
    log.close()
    started = time.perf_counter()
    last = ""
    with psycopg.connect(URL) as conn, conn.cursor() as cur:
        columns = "(originator_id, originator_version, topic, state)"
        with cur.copy(f'COPY "{schema}".railyard_events {columns} FROM STDIN') as copy:
            for e in synthetic(events, start=_start(events), requests_per_day=REQUESTS_PER_DAY):
                copy.write_row((e.aggregate_id, e.version, e.topic, orjson.dumps(e.state)))
                last = e.state["timestamp"]
    return {"insert_s": round(time.perf_counter() - started, 1), "last_event_at": last}


def raw_read(schema: str, collector: bool = True, binary: bool = False) -> tuple[float, float]:
    """Events/s of reading every event with a server-side cursor and decoding its JSON,
    with psycopg's defaults (text format) and CPython's cyclic collector as the interpreter
    starts it (`collector=False`: paused, as view batches run, decision 90; `binary`: the
    rows in PostgreSQL's binary format, as the rebuild reads them, where a bytea column
    comes as its bytes rather than hex-encoded). Also the CPU time it took per event, in µs."""
    if not collector:
        with collector_paused():
            return raw_read(schema, binary=binary)
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    with psycopg.connect(URL) as conn, conn.cursor(name="raw", binary=binary) as cur:
        cur.itersize = 5_000
        cur.execute(
            f"SELECT notification_id, originator_id, originator_version, topic, state"
            f' FROM "{schema}".railyard_events ORDER BY notification_id'
        )
        for row in cur:
            orjson.loads(row[4])
            count += 1
    return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rebuild_child(schema: str, queue: Any) -> None:

    log = EventLog(_settings(schema))
    views = MetricsViews(log)
    views.group.setup()
    before = _rss_kb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:  # the resident set, every 20 ms, while the rebuild runs
        while not done.wait(0.02):
            peak[0] = max(peak[0], _rss_kb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started, cpu = time.perf_counter(), time.process_time()
    read = views.group.rebuild()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    done.set()
    sampler.join()
    log.close()
    queue.put({"events": read, "seconds": elapsed, "cpu_s": cpu, "rss_before_kb": before,
               "rss_peak_kb": max(peak[0], _rss_kb())})  # fmt: skip


def rebuild(schema: str) -> dict[str, Any]:
    """The whole metrics view folded again, in a process of its own (for its memory)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_rebuild_child, args=(schema, queue))
    child.start()
    result: dict[str, Any] = queue.get()
    child.join()
    return result


ENDPOINTS = ("", "/throughput", "/flow-times", "/work-in-progress", "/time-in-state",
             "/cumulative-flow", "/satisfaction", "/comparison", "/releases", "/dora",
             "/forecasts")  # fmt: skip


class _Reader:
    """One size's app and token, for latency rounds interleaved across sizes."""

    def __init__(self, schema: str, last_event_at: str) -> None:
        settings = _settings(schema)
        configure_logging(settings)
        self.platform = Platform.build(settings)
        with acting_as("bench"):
            self.platform.identity.register("bench.reader", "Bench", ["metrics_reader"])
            token = self.platform.identity.issue_token("bench.reader", "bench").token
        components = all_components(self.platform)
        # Only the views these routes read: the users (for the token) and metrics.
        metrics = [g for c in components if c.name == "metrics" for g in c.groups]
        for group in [self.platform.directory.group, *metrics]:
            group.catch_up()
        with psycopg.connect(URL, autocommit=True) as conn:  # what autovacuum soon does
            conn.execute(f'ANALYZE "{schema}".metrics_requests')
            for table in ("metrics_bundles", "metrics_changes", "metrics_deployments"):
                conn.execute(f'ANALYZE "{schema}".{table}')
        self.client = TestClient(create_app(self.platform, components, run_followers=False))
        self.client.__enter__()
        self.headers = {"Authorization": f"Bearer {token}"}
        as_of = last_event_at[:10]
        # The last whole month before it: every size is asked about as many days (the
        # month of the last event held 1 day of the 10k log one day, 17 of the 1M one).
        month = date.fromisoformat(as_of).replace(day=1) - timedelta(days=1)
        self.params = {"period": month.isoformat()[:7], "as_of": as_of, "unit": "week"}
        self.as_of = as_of

    def time(self, endpoint: str) -> float:
        query = {"as_of": self.as_of} if endpoint == "/forecasts" else self.params
        started = time.perf_counter()
        response = self.client.get(f"/api/metrics{endpoint}", params=query, headers=self.headers)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        return elapsed

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.platform.close()


def latencies(readers: dict[str, _Reader]) -> dict[str, dict[str, float]]:
    """Median ms per size and endpoint for the last whole month. Rounds alternate
    between sizes, so a busy moment on a shared machine hits every size alike."""
    timings: dict[str, dict[str, list[float]]] = {s: {} for s in readers}
    for _ in range(REPEATS):
        for endpoint in ENDPOINTS:
            for size, reader in readers.items():
                timings[size].setdefault(endpoint or "/", []).append(reader.time(endpoint))
    return {
        size: {e: round(statistics.median(t) * 1000, 1) for e, t in per.items()}
        for size, per in timings.items()
    }


class _Null(Projection):
    """Follows the same topics and does nothing: what the projection machinery costs."""

    name = "bench.null.v1"

    def create(self, cur: Any) -> None:
        return None

    def handlers(self) -> dict[str, Any]:
        return dict.fromkeys(TOPICS, lambda cur, event: None)

    def apply_batch(self, cur: Any, events: Any) -> None:
        return None


def group_ceiling(schema: str) -> float:
    """Events/s of the shared ProjectionGroup reading and decoding the same events for a
    projection that does nothing: the fastest any projection could rebuild."""
    log = EventLog(_settings(schema))
    group = ProjectionGroup(log, [_Null(log)], batch_size=BATCH_SIZE)
    started = time.perf_counter()
    read = group.rebuild()
    elapsed = time.perf_counter() - started
    log.close()
    return read / elapsed


def measure_rebuild(schema: str, events: int) -> dict[str, Any]:
    """`rounds_for(events)` rounds of: the three raw reads (psycopg's defaults with the
    collector as started, the same with it paused, in binary), then the rebuild in a
    process of its own. Rates are the rounds' medians; the ratios, the median of each
    round's ratio (the two sides of a ratio measured seconds apart). The raw reads take
    turns at going first, so that whatever the last rebuild left PostgreSQL doing falls
    on each of them alike, not always on the headline's baseline."""
    rounds: list[dict[str, Any]] = []
    ceiling = group_ceiling(schema)
    reads = {"raw": {}, "raw_paused": {"collector": False}, "raw_binary": {"binary": True}}
    for n in range(rounds_for(events)):
        # What this process left for the collector is collected first: in a run before,
        # a collection slowed every fifth raw read at 10k (those rounds' ratios 1.0-1.2).
        gc.collect()
        first = n % len(reads)
        order = list(reads)[first:] + list(reads)[:first]
        measured = {name: raw_read(schema, **reads[name]) for name in order}
        (raw, raw_cpu), (raw_paused, _), (raw_binary, _) = (measured[k] for k in reads)
        built = rebuild(schema)
        rate = built["events"] / built["seconds"]
        print(f"   round {n + 1}: raw read {raw:,.0f}/s ({raw_paused:,.0f}/s with the"
              f" collector paused, {raw_binary:,.0f}/s in binary), metrics rebuild"
              f" {rate:,.0f}/s: {rate / raw:.2f} ({rate / raw_paused:.2f},"
              f" {rate / raw_binary:.2f})", flush=True)  # fmt: skip
        cpu = built["cpu_s"] / built["events"] * 1e6
        rounds.append({**built, "raw": raw, "raw_paused": raw_paused, "raw_binary": raw_binary,
                       "rate": rate, "raw_cpu_us": raw_cpu, "cpu_us": cpu})  # fmt: skip
    print(f"   projection machinery {ceiling:,.0f}/s", flush=True)

    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in rounds))

    def ratio(key: str) -> float:
        return round(float(statistics.median(r["rate"] / r[key] for r in rounds)), 3)

    seconds = median("seconds")
    events = rounds[0]["events"]
    peak = max(r["rss_peak_kb"] - r["rss_before_kb"] for r in rounds)
    return {
        "raw_read_events_per_s": round(median("raw")),
        "raw_read_collector_paused_events_per_s": round(median("raw_paused")),
        "projection_machinery_events_per_s": round(ceiling),
        "rebuild_events_per_s": round(median("rate")),
        "rebuild_to_raw_ratio": ratio("raw"),
        "rebuild_to_raw_collector_paused_ratio": ratio("raw_paused"),
        # The rebuild reads in binary format; the same raw read in it is the like-for-like
        # baseline (a bytea column in text comes hex-encoded: twice the bytes, then decoded).
        "raw_read_binary_events_per_s": round(median("raw_binary")),
        "rebuild_to_raw_binary_ratio": ratio("raw_binary"),
        "rounds": len(rounds),
        "rebuild_to_raw_ratio_rounds": [round(r["rate"] / r["raw"], 3) for r in rounds],
        "machinery_to_raw_ratio": round(ceiling / median("raw"), 3),
        "rebuild_to_machinery_ratio": round(median("rate") / ceiling, 3),
        "rebuild_s": round(seconds, 2),
        "rebuild_us_per_event": round(seconds / events * 1e6, 2),
        # CPU time per event, every thread of the process: less swayed by a busy machine.
        "rebuild_cpu_us_per_event": round(median("cpu_us"), 2),
        "raw_read_cpu_us_per_event": round(median("raw_cpu_us"), 2),
        "rss_before_mb": round(median("rss_before_kb") / 1024, 1),
        "rss_peak_mb": round(max(r["rss_peak_kb"] for r in rounds) / 1024, 1),
        "rebuild_memory_growth_mb": round(peak / 1024, 1),
    }


def run(results: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"sizes": {}}
    readers: dict[str, _Reader] = {}
    schemas: list[str] = []
    try:
        for size in SIZES:
            schema = f"bench_metrics_{size}_{uuid.uuid4().hex[:6]}"
            schemas.append(schema)
            print(f"-- {size} events: filling {schema}", flush=True)
            filled = fill(schema, size)
            figures["sizes"][str(size)] = {**filled, **measure_rebuild(schema, size)}
            readers[str(size)] = _Reader(schema, filled["last_event_at"])
        # Served for real, each size's app would be alone in a process of its own,
        # which freezes what it holds once it has started (decision 108); here the three
        # share one, where only the first app's start froze: the rest is frozen now, as
        # their own processes would have. The last reader to close unfreezes it all.
        gc.freeze()
        print("-- endpoint latency, sizes interleaved", flush=True)
        for label, ms in latencies(readers).items():
            figures["sizes"][label]["endpoint_ms"] = ms
    finally:
        for reader in readers.values():
            reader.close()
        with psycopg.connect(URL, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    sizes = figures["sizes"]
    small, large = str(min(SIZES)), str(max(SIZES))
    if small != large:
        figures["time_per_event_growth"] = round(
            sizes[large]["rebuild_us_per_event"] / sizes[small]["rebuild_us_per_event"], 2
        )
        figures["endpoint_latency_ratio"] = {
            e: round(sizes[large]["endpoint_ms"][e] / sizes[small]["endpoint_ms"][e], 2)
            for e in sizes[small]["endpoint_ms"]
        }
    return figures
