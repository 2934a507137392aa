"""Consumers tailing the log while two API processes write to it see every event exactly
once, in log order: one pages `GET /api/events?after=`, one follows the SSE stream."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import People
from tests.faults.writers import SUBMITTED, Writers
from tests.processes import Deployment

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("faults"),
    pytest.mark.timeout(120),
]


class Tail:
    """A consumer on its own thread, reading until it has seen position `until`."""

    def __init__(self, url: str, people: People) -> None:
        self.url = url
        self.people = people
        self.events: list[dict[str, Any]] = []
        self.until: int | None = None  # set once the writers are done
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def done(self) -> bool:
        last = self.events[-1]["position"] if self.events else 0
        return self.until is not None and last >= self.until

    def _run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=30) as client:
                self.read(client)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def read(self, client: httpx.Client) -> None:
        raise NotImplementedError


class Pager(Tail):
    def read(self, client: httpx.Client) -> None:
        after = 0
        while not self.done():
            page = client.get(
                "/api/events",
                params={"after": after, "limit": 25},
                headers=self.people.headers("rm"),
            )
            if page.status_code == 429:  # a consumer honours a rate limit and carries on
                threading.Event().wait(float(page.headers.get("retry-after", "1")))
                continue
            assert page.status_code == 200, page.text
            body = page.json()
            self.events.extend(body["events"])
            after = body["next_after"]
            if not body["events"]:
                threading.Event().wait(0.02)


class Streamer(Tail):
    def read(self, client: httpx.Client) -> None:
        with client.stream(
            "GET", "/api/events/stream?after=0", headers=self.people.headers("metrics.mo")
        ) as stream:
            assert stream.status_code == 200
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    self.events.append(orjson.loads(line.removeprefix("data:").strip()))
                if self.done():
                    return


def test_a_reader_tailing_the_feed_during_writes_sees_every_event_once_in_order(
    deployment: Deployment, people: People
) -> None:
    """Paging and streaming both see the log exactly as it is stored, gaps and all."""
    first = deployment.api("api-a")
    second = deployment.api("api-b", followers=False)
    tails: list[Tail] = [Pager(first.url, people), Streamer(second.url, people)]
    for tail in tails:
        tail.thread.start()
    writers = Writers([first.url, second.url], people, threads=6).start()
    writers.wait_for(150)
    attempts = writers.stop()
    assert all(a.status == 201 for a in attempts), {a.status for a in attempts}

    head = deployment.head()
    for tail in tails:
        tail.until = head
    for tail in tails:
        tail.thread.join(60)
        assert not tail.thread.is_alive(), f"{type(tail).__name__} did not reach {head}"
        assert tail.error is None, repr(tail.error)

    stored = [
        (e.position, e.aggregate_id, e.type) for e in deployment.platform().log.entries(0, 10**6)
    ]
    acknowledged = sorted(a.answer["id"] for a in attempts)
    for tail in tails:
        seen = [(e["position"], e["aggregate_id"], e["type"]) for e in tail.events]
        assert seen == stored, type(tail).__name__
        submitted = sorted(e["aggregate_id"] for e in tail.events if e["type"] == SUBMITTED)
        assert submitted == acknowledged
