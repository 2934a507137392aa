"""Clients that keep writing while a fault happens, and what the log says they wrote.

Each writer thread submits change requests through the HTTP API, each with an
Idempotency-Key of its own and a title naming the key, so the log can be checked key by
key: one `ChangeRequest.Submitted` per key, never two.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.platform import Platform
from tests.builders import request_payload
from tests.conftest import People

SUBMITTED = "ChangeRequest.Submitted"
REQUESTERS = ("vp.sales", "vp.care")


def title_of(key: str) -> str:
    return f"Fault drill {key}"


@dataclass
class Attempt:
    """One write and what came back: `status` is None when no answer came at all."""

    key: str
    body: dict[str, Any]
    as_: str
    url: str
    status: int | None = None
    answer: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Writers:
    """Threads submitting requests round-robin over `urls` until stopped.

    With `stop_on_no_answer` a thread stops at its first write that gets no answer (its
    server is gone); otherwise it records the failure and carries on."""

    def __init__(
        self,
        urls: Sequence[str],
        people: People,
        threads: int = 6,
        *,
        stop_on_no_answer: bool = False,
        timeout_s: float = 30.0,
        prefix: str = "k",
    ) -> None:
        self.urls = list(urls)
        self.people = people
        self.count = threads
        self.stop_on_no_answer = stop_on_no_answer
        self.timeout_s = timeout_s
        self.prefix = prefix
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Writers:
        for n in range(self.count):
            thread = threading.Thread(target=self._write, args=(n,), daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self, timeout_s: float = 60.0) -> list[Attempt]:
        self._stop.set()
        return self.join(timeout_s)

    def join(self, timeout_s: float = 60.0) -> list[Attempt]:
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        hung = [t.name for t in self._threads if t.is_alive()]
        assert not hung, f"writer threads still waiting for an answer: {hung}"
        return list(self.attempts)

    def acknowledged(self) -> int:
        with self._lock:
            return sum(1 for a in self.attempts if a.acknowledged)

    def wait_for(self, acknowledged: int, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.acknowledged() < acknowledged:
            assert time.monotonic() < deadline, (
                f"only {self.acknowledged()} of {acknowledged} writes acknowledged: "
                f"{[(a.status, a.error) for a in self.attempts[-5:]]}"
            )
            time.sleep(0.05)

    def _write(self, n: int) -> None:
        as_ = REQUESTERS[n % len(REQUESTERS)]
        clients = [httpx.Client(base_url=url, timeout=self.timeout_s) for url in self.urls]
        try:
            sequence = 0
            while not self._stop.is_set():
                index = (n + sequence) % len(clients)
                key = f"{self.prefix}{n}-{sequence}"
                sequence += 1
                attempt = send(clients[index], self.people, key, as_)
                with self._lock:
                    self.attempts.append(attempt)
                if attempt.status is None and self.stop_on_no_answer:
                    return
        finally:
            for client in clients:
                client.close()


def send(
    client: httpx.Client, people: People, key: str, as_: str, body: dict[str, Any] | None = None
) -> Attempt:
    """Submit one request with `key` (again, when `body` is given) and record the answer."""
    body = body if body is not None else request_payload(title=title_of(key))
    attempt = Attempt(key, body, as_, str(client.base_url))
    started = time.monotonic()
    try:
        response = client.post(
            "/api/requests", json=body, headers=people.headers(as_, **{"Idempotency-Key": key})
        )
    except httpx.TransportError as exc:
        attempt.error = f"{type(exc).__name__}: {exc}"
    else:
        attempt.status = response.status_code
        attempt.headers = dict(response.headers)
        try:
            attempt.answer = response.json()
        except ValueError:
            attempt.answer = response.text
    attempt.elapsed_s = time.monotonic() - started
    return attempt


def submissions(platform: Platform) -> Counter[str]:
    """How many times each title was submitted, according to the log."""
    return Counter(
        e.data["title"] for e in platform.log.entries(0, 10_000_000) if e.type == SUBMITTED
    )


def submitted_ids(platform: Platform) -> Counter[str]:
    return Counter(
        e.aggregate_id for e in platform.log.entries(0, 10_000_000) if e.type == SUBMITTED
    )
