"""Someone holds the event log's table lock: writes give up with a 503 within the
configured deadline, while reads, the consumer feed and its live stream keep answering."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest

from tests.conftest import People
from tests.faults.writers import send, submissions, title_of
from tests.processes import Deployment

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("faults"),
    pytest.mark.timeout(120),
]

LOCK_TIMEOUT_S = 1
# A correctness bound, not a benchmark: far above the lock timeout, far below "forever"
# (and below the statement timeout, set high here so that only the lock timeout can end
# the wait).
DEADLINE_S = LOCK_TIMEOUT_S + 9


def first_streamed_event(client: httpx.Client, people: People) -> dict[str, object]:
    with client.stream(
        "GET", "/api/events/stream?after=0&max_events=1", headers=people.headers("rm")
    ) as stream:
        assert stream.status_code == 200
        for line in stream.iter_lines():
            if line.startswith("data:"):
                event: dict[str, object] = orjson.loads(line.removeprefix("data:").strip())
                return event
    raise AssertionError("the stream ended without an event")


def test_writes_end_in_503_within_the_lock_deadline_while_reads_and_the_feed_answer(
    deployment: Deployment, people: People
) -> None:
    """LOCK TABLE railyard_events IN EXCLUSIVE MODE, held open by someone else."""
    api = deployment.api(
        RAILYARD_WRITE_LOCK_TIMEOUT_S=str(LOCK_TIMEOUT_S), RAILYARD_STATEMENT_TIMEOUT_MS="60000"
    )
    with httpx.Client(base_url=api.url, timeout=60) as client:
        before = send(client, people, "before", "vp.sales")
        assert before.status == 201
        request_id = before.answer["id"]
        head = deployment.head()

        with deployment.sql() as locker, locker.transaction():
            locker.execute(f'LOCK TABLE "{deployment.schema}".railyard_events IN EXCLUSIVE MODE')
            with ThreadPoolExecutor(4) as pool:
                blocked = list(
                    pool.map(lambda n: send(client, people, f"locked-{n}", "vp.sales"), range(4))
                )
            for attempt in blocked:
                assert attempt.status == 503, attempt.answer
                assert attempt.headers["content-type"] == "application/problem+json"
                assert int(attempt.headers["retry-after"]) > 0
                assert attempt.elapsed_s < DEADLINE_S, attempt.elapsed_s

            started = time.monotonic()
            mine = client.get(f"/api/requests/{request_id}", headers=people.headers("vp.sales"))
            assert mine.status_code == 200
            assert mine.json()["title"] == title_of("before")
            listed = client.get("/api/requests", headers=people.headers("rm"))
            assert listed.status_code == 200
            assert [r["id"] for r in listed.json()["items"]] == [request_id]
            feed = client.get("/api/events?after=0&limit=1000", headers=people.headers("rm"))
            assert feed.status_code == 200
            assert feed.json()["events"][-1]["position"] == head
            assert first_streamed_event(client, people)["position"] == 1
            assert time.monotonic() - started < DEADLINE_S
            assert deployment.head() == head, "a write got past the lock"

        # Released: the refused writes, retried with their keys, now succeed once.
        for attempt in blocked:
            again = send(client, people, attempt.key, attempt.as_, attempt.body)
            assert again.status == 201, again.answer
            assert "idempotent-replayed" not in again.headers  # the 503 stored no claim
        assert submissions(deployment.platform()) == {
            title_of(key): 1 for key in ["before", *(a.key for a in blocked)]
        }
