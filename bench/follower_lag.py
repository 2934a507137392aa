"""Follower lag: do the projections and reactions keep up with a sustained command load?

In a fresh database: `railyard serve --no-followers --workers N` and `railyard worker` as
processes of their own, and clients (half submitting requests, half approving changes)
keeping the API busy for a fixed time. Every ~100 ms one statement (one snapshot) reads
the log's head and every follower's position, and for each follower the time of the
oldest event it has not applied yet:

- lag in events: head minus the follower's position;
- lag in seconds: how long ago the oldest event it has not applied happened.

Reported per follower and overall: max and p95 of both during the load, whether the lag
stayed bounded (back to 0 once the load stopped) and how long the worker took to drain.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import _api as api
from bench import _scenario as scenario
from bench._environment import fresh_database, quick
from bench._load import Sustained, percentile
from bench._processes import serve, worker
from bench.http_commands import SCHEMA, workers
from shared.store.recorders import EVENTS_TABLE, POSITIONS_TABLE

SAMPLE_S = 0.1
DRAIN_TIMEOUT_S = 120.0


def plan() -> tuple[float, int, int, int]:
    """Seconds of load, clients, changes raised for the approvers, open backlog."""
    if quick():
        return 2.0, 2, 60, 20
    seconds = float(os.environ.get("RAILYARD_BENCH_LAG_SECONDS", "20"))
    return seconds, 8, 1_500, 325


class Sampler:
    """Reads head, positions and the age of each follower's oldest unapplied event."""

    def __init__(self, url: str) -> None:
        events = f'"{SCHEMA}".{EVENTS_TABLE}'
        self._statement = (
            "SELECT p.name, p.position, h.head, clock_timestamp() AS now,"
            " (SELECT convert_from(e.state, 'UTF8')::jsonb ->> 'timestamp'"
            f"   FROM {events} e WHERE e.notification_id > p.position"
            "   ORDER BY e.notification_id LIMIT 1) AS oldest"
            f' FROM "{SCHEMA}".{POSITIONS_TABLE} p,'
            f" (SELECT COALESCE(MAX(notification_id), 0) AS head FROM {events}) h"
        )
        self._conn = psycopg.connect(url, autocommit=True)
        self.samples: list[tuple[float, dict[str, tuple[int, float]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def head(self) -> int:
        """The log's head (call it only while the sampler is not running)."""
        row = self._conn.execute(
            f'SELECT COALESCE(MAX(notification_id), 0) FROM "{SCHEMA}".{EVENTS_TABLE}'
        ).fetchone()
        return int(row[0]) if row else 0

    def sample(self) -> dict[str, tuple[int, float]]:
        """Follower name -> (events behind, seconds behind)."""
        rows = self._conn.execute(self._statement).fetchall()
        lags: dict[str, tuple[int, float]] = {}
        for name, position, head, now, oldest in rows:
            behind = max(0, int(head) - int(position))
            seconds = 0.0
            if behind and oldest:
                seconds = max(0.0, (now - datetime.fromisoformat(oldest)).total_seconds())
            lags[str(name)] = (behind, seconds)
        return lags

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            self.samples.append((time.monotonic(), self.sample()))
            self._stop.wait(max(0.0, SAMPLE_S - (time.perf_counter() - started)))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def close(self) -> None:
        self._conn.close()


def drain(sampler: Sampler, timeout_s: float) -> float | None:
    """Seconds until every follower is at the head, or None if that took too long."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if all(events == 0 for events, _ in sampler.sample().values()):
            return time.monotonic() - started
        time.sleep(SAMPLE_S)
    return None


def summarise(samples: list[tuple[float, dict[str, tuple[int, float]]]]) -> dict[str, Any]:
    names = sorted({name for _, lags in samples for name in lags})
    per: dict[str, Any] = {}
    for name in names:
        events = [lags[name][0] for _, lags in samples if name in lags]
        seconds = [lags[name][1] for _, lags in samples if name in lags]
        per[name] = {
            "max_events": max(events),
            "p95_events": percentile(events, 95),
            "max_s": round(max(seconds), 3),
            "p95_s": round(percentile(seconds, 95), 3),
        }
    worst_events = [max(e for e, _ in lags.values()) for _, lags in samples if lags]
    worst_seconds = [max(s for _, s in lags.values()) for _, lags in samples if lags]
    third = max(1, len(worst_events) // 3)
    return {
        "samples": len(samples),
        "max_events": max(worst_events),
        "p95_events": percentile(worst_events, 95),
        "max_s": round(max(worst_seconds), 3),
        "p95_s": round(percentile(worst_seconds, 95), 3),
        # Bounded lag does not grow with time under a steady load: the worst lag in the
        # last third of the run beside the first third.
        "max_events_first_third": max(worst_events[:third]),
        "max_events_last_third": max(worst_events[-third:]),
        "followers": per,
    }


def run(results: Path) -> dict[str, Any]:
    seconds, clients, changes, backlog = plan()
    processes = workers()
    figures: dict[str, Any] = {
        "api_workers": processes,
        "clients": {"submitting": clients // 2, "approving": clients - clients // 2},
        "load_seconds": seconds,
        "sample_every_s": SAMPLE_S,
        "open_backlog": backlog,
    }
    submitted: list[str] = []
    with fresh_database("railyard_lag") as url, api.Setup(url, SCHEMA, clients) as setup:
        queue = scenario.Queue(setup.raise_changes(changes))
        setup.seed_backlog(backlog)
        sampler = Sampler(url)
        try:
            with serve(url, SCHEMA, processes) as server, worker(url, SCHEMA) as follower:
                if drain(sampler, DRAIN_TIMEOUT_S) is None:
                    raise RuntimeError(f"the worker never caught up:\n{follower.output()}")
                half = clients // 2
                operations = [
                    api.submitter(server.base_url, setup.tokens, c, submitted) for c in range(half)
                ] + [
                    api.approver(server.base_url, setup.tokens, c, queue)
                    for c in range(half, clients)
                ]
                load = Sustained(operations, finished=(scenario.Exhausted,))
                head_before = sampler.head()
                print(f"-- {seconds:.0f} s of load from {clients} clients", flush=True)
                sampler.start()
                started = time.monotonic()
                load.start()
                time.sleep(seconds)
                load.stop()
                elapsed = time.monotonic() - started
                sampler.stop()
                head_after = sampler.head()
                drained = drain(sampler, DRAIN_TIMEOUT_S)
                if follower.process.poll() is not None:
                    raise RuntimeError(f"the worker died:\n{follower.output()}")
        finally:
            sampler.close()
            api.close_clients()
    figures["commands"] = load.completed
    figures["commands_per_s"] = round(load.completed / elapsed, 1)
    figures["events_per_s"] = round((head_after - head_before) / elapsed, 1)
    figures["lag"] = summarise(sampler.samples)
    figures["drain_s"] = None if drained is None else round(drained, 2)
    figures["bounded"] = drained is not None
    lag = figures["lag"]
    print(
        f"   {figures['commands_per_s']}/s commands; lag max {lag['max_events']} events"
        f" / {lag['max_s']} s, p95 {lag['p95_events']} events / {lag['p95_s']} s;"
        f" drained in {figures['drain_s']} s",
        flush=True,
    )
    return figures
