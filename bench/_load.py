"""A closed-loop load: N clients, each doing its next operation as soon as the last one
answered, with a latency per operation.

Each client is a thread with its own state (an HTTP keep-alive connection, say); the
operation is any callable, so the HTTP API and the library baseline are driven by the
same loop and measured the same way.
"""

from __future__ import annotations

import math
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Operation = Callable[[int], None]
"""One command by one client: called with the operation's number for that client."""


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank, as the metrics use: the smallest value with p% at or below it."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LoadResult:
    clients: int
    operations: int
    seconds: float
    latencies_s: list[float]
    client_cpu_s: float

    @property
    def ops_per_s(self) -> float:
        return self.operations / self.seconds

    def summary(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "operations": self.operations,
            "seconds": round(self.seconds, 3),
            "ops_per_s": round(self.ops_per_s, 1),
            "p50_ms": round(percentile(self.latencies_s, 50) * 1000, 2),
            "p99_ms": round(percentile(self.latencies_s, 99) * 1000, 2),
            # The load generator shares the machine with what it measures; its own CPU
            # per operation says how much of the machine it took.
            "client_cpu_ms_per_op": round(self.client_cpu_s / self.operations * 1000, 3),
        }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def drive(operations: Sequence[Operation], per_client: int, warmup: int = 0) -> LoadResult:
    """Run `per_client` operations on each client at once (after `warmup` unmeasured ones
    each), all clients starting together; failures are raised, not counted."""
    clients = len(operations)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    ready = threading.Barrier(clients + 1)
    finished = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        operation = operations[index]
        try:
            for n in range(warmup):
                operation(n)
        except BaseException as exc:
            errors.append(exc)
        ready.wait()
        try:
            if not errors:
                mine = latencies[index]
                for n in range(warmup, warmup + per_client):
                    started = time.perf_counter()
                    operation(n)
                    mine.append(time.perf_counter() - started)
        except BaseException as exc:
            errors.append(exc)
        finally:
            finished.wait()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    cpu_before = _cpu_s()
    started = time.perf_counter()
    finished.wait()
    elapsed = time.perf_counter() - started
    cpu = _cpu_s() - cpu_before
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    flat = [value for mine in latencies for value in mine]
    return LoadResult(clients, len(flat), elapsed, flat, cpu)


class Sustained:
    """Clients that keep going until told to stop: the background load of the lag bench."""

    def __init__(
        self, operations: Sequence[Operation], finished: tuple[type[BaseException], ...] = ()
    ) -> None:
        """`finished`: exceptions that end one client quietly (it has nothing left to do)."""
        self._operations = operations
        self._finished = finished
        self._stop = threading.Event()
        self.completed = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(op,), daemon=True) for op in operations
        ]

    def _client(self, operation: Operation) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                operation(n)
            except self._finished:
                return
            except BaseException as exc:
                self.errors.append(exc)
                return
            n += 1
            with self._lock:
                self.completed += 1

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        if self.errors:
            raise self.errors[0]
