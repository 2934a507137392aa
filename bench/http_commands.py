"""Command throughput through the HTTP API against the `eventsourcing` library, on PostgreSQL.

In a fresh database (created and dropped here): `railyard serve --no-followers --workers N`
as a child process, and clients on keep-alive connections doing, as fast as answers come,

- submit: a VP's `POST /api/requests` (with an Idempotency-Key);
- approve: a CAB member's `POST /api/changes/{id}/approve` of a change awaiting two
  approvals (each change approved once, so each approval is one real command);

with 1, 4 and 16 clients. The baseline, in the same database and run, is the library's own
`Application` saving the same domain events from the same number of threads
(`bench/_library.py`). The figure is the ratio of the two rates at each concurrency
(target: at least 0.5 at 16 clients), with the p50 and p99 latency of each.

Every submission is checked for duplicates against the open requests, so the API meets a
fixed backlog (325 open requests, the case study's "in play"): after each API point the
requests it submitted are withdrawn again. Points alternate, baseline then API, so a busy
moment on a shared machine hits both.
`RAILYARD_BENCH_WORKERS` sets N (default: 2 per core, at most 4);
`RAILYARD_BENCH_ROUNDS` how many times each point is measured (the median is reported).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import _api as api
from bench import _library as lib
from bench import _scenario as scenario
from bench._environment import fresh_database, quick
from bench._load import LoadResult, Operation, drive
from bench._processes import serve

CLIENTS = (1, 4, 16)
SCHEMA = "railyard"


def workers() -> int:
    configured = os.environ.get("RAILYARD_BENCH_WORKERS")
    if configured:
        return int(configured)
    if quick():
        return 2
    return max(2, min(4, 2 * (os.cpu_count() or 1)))


def plan() -> tuple[dict[int, int], int, int, int]:
    """Operations per client at each concurrency (about the same number per point), warm-up
    operations per client, rounds, and the open backlog every submission is checked against
    for duplicates: the case study's 325 requests "believed to be in play"."""
    if quick():
        return {1: 6, 4: 3, 16: 2}, 1, 1, 20
    rounds = int(os.environ.get("RAILYARD_BENCH_ROUNDS", "3"))
    return {1: 240, 4: 60, 16: 15}, 2, rounds, 325


def _point(results: list[LoadResult]) -> dict[str, Any]:
    """The round with the median rate, with every round's rate for the spread."""
    ordered = sorted(results, key=lambda r: r.ops_per_s)
    middle = ordered[len(ordered) // 2]
    return {**middle.summary(), "rounds_ops_per_s": [round(r.ops_per_s, 1) for r in results]}


def _measure(
    library_ops: Callable[[int], Operation],
    api_ops: Callable[[int], Operation],
    per_client: dict[int, int],
    warmup: int,
    rounds: int,
    after_api: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    points: dict[str, Any] = {}
    for clients in CLIENTS:
        baseline: list[LoadResult] = []
        subject: list[LoadResult] = []
        for _ in range(rounds):
            n = per_client[clients]
            baseline.append(drive([library_ops(c) for c in range(clients)], n, warmup))
            subject.append(drive([api_ops(c) for c in range(clients)], n, warmup))
            api.close_clients()
            after_api()
        library_point, api_point = _point(baseline), _point(subject)
        ratio = statistics.median(
            s.ops_per_s / b.ops_per_s for s, b in zip(subject, baseline, strict=True)
        )
        points[str(clients)] = {
            "library": library_point,
            "api": api_point,
            "ratio": round(ratio, 3),
        }
        print(
            f"   {clients:>2} clients: library {library_point['ops_per_s']:>7.1f}/s"
            f"  api {api_point['ops_per_s']:>7.1f}/s  ratio {ratio:.2f}"
            f"  (api p50 {api_point['p50_ms']} ms, p99 {api_point['p99_ms']} ms)",
            flush=True,
        )
    return points


def run(results: Path) -> dict[str, Any]:
    per_client, warmup, rounds, backlog = plan()
    processes = workers()
    clients_needed = max(CLIENTS)
    approvals = sum(c * (per_client[c] + warmup) for c in CLIENTS) * rounds
    figures: dict[str, Any] = {
        "api_workers": processes,
        "operations_per_client": per_client,
        "warmup_per_client": warmup,
        "rounds": rounds,
        "open_backlog": backlog,
        "target": "api/library >= 0.5 at 16 clients",
    }
    submitted: list[str] = []
    with fresh_database("railyard_bench") as url:
        baseline = lib.library(url, pool_size=16)
        try:
            library_queue = scenario.Queue(scenario.raise_in_bulk(baseline.save, approvals))
            with api.Setup(url, SCHEMA, clients_needed) as setup:
                api_queue = scenario.Queue(setup.raise_changes(approvals))
                setup.seed_backlog(backlog)
                print(f"-- serving with {processes} API worker processes", flush=True)
                with serve(url, SCHEMA, processes) as server:
                    print("-- submit a change request", flush=True)
                    figures["submit"] = _measure(
                        lambda c: lib.submitter(baseline, c),
                        lambda c: api.submitter(server.base_url, setup.tokens, c, submitted),
                        per_client,
                        warmup,
                        rounds,
                        after_api=lambda: setup.withdraw(submitted),
                    )
                    print("-- approve a production change", flush=True)
                    figures["approve"] = _measure(
                        lambda c: lib.approver(baseline, c, library_queue),
                        lambda c: api.approver(server.base_url, setup.tokens, c, api_queue),
                        per_client,
                        warmup,
                        rounds,
                    )
        finally:
            api.close_clients()
            baseline.close()
    top = str(max(CLIENTS))
    figures["target_met"] = all(
        figures[command][top]["ratio"] >= 0.5 for command in ("submit", "approve")
    )
    return figures
