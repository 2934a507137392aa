"""PostgreSQL terminates the API's connections again and again under load: each request
either succeeds or is a 503 problem+json with Retry-After, the pool heals itself, and
nothing acknowledged is lost."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.conftest import People
from tests.faults.writers import Attempt, Writers, send, submissions, title_of
from tests.processes import Deployment

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("faults"),
    pytest.mark.timeout(120),
]

READS = ("/api/requests?limit=20", "/api/events?after=0&limit=50", "/api/requests/counts")


def read_until(stop: threading.Event, url: str, people: People, seen: list[Attempt]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        n = 0
        while not stop.is_set():
            path = READS[n % len(READS)]
            n += 1
            attempt = Attempt(path, {}, "rm", url)
            try:
                response = client.get(path, headers=people.headers("rm"))
            except httpx.TransportError as exc:
                attempt.error = repr(exc)
            else:
                attempt.status = response.status_code
                attempt.headers = dict(response.headers)
                attempt.answer = response.json()
            seen.append(attempt)


def terminate_backends(deployment: Deployment, application_name: str) -> int:
    """pg_terminate_backend, from a superuser connection, for every backend of a process."""
    with deployment.sql() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            [application_name],
        ).fetchall()
    return sum(1 for (done,) in rows if done)


def test_terminated_connections_answer_503_with_retry_after_and_the_pool_recovers(
    deployment: Deployment, people: People
) -> None:
    """Every failure under repeated pg_terminate_backend is a 503 that says when to retry."""
    api = deployment.api()
    pid = api.popen.pid if api.popen else None
    writers = Writers([api.url], people, threads=4).start()
    stop_reading = threading.Event()
    reads: list[Attempt] = []
    readers = [
        threading.Thread(target=read_until, args=(stop_reading, api.url, people, reads))
        for _ in range(2)
    ]
    for reader in readers:
        reader.start()
    writers.wait_for(10)
    terminated = 0
    for _ in range(20):
        terminated += terminate_backends(deployment, deployment.application_name("api"))
        time.sleep(0.25)
    attempts = writers.stop()
    stop_reading.set()
    for reader in readers:
        reader.join(60)
        assert not reader.is_alive(), "a read hangs"
    assert terminated >= 10, "the connections were not terminated again and again"

    failed = [a for a in [*attempts, *reads] if not a.acknowledged]
    for attempt in failed:
        assert attempt.status == 503, (attempt.key, attempt.status, attempt.error, attempt.answer)
        assert attempt.headers["content-type"] == "application/problem+json"
        assert int(attempt.headers["retry-after"]) > 0
        assert attempt.answer["rule"] == "store_unavailable"

    # The same process, without a restart, answers everything again.
    assert api.alive
    assert api.popen is not None
    assert api.popen.pid == pid
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for path in READS:
            assert client.get(path, headers=people.headers("rm")).status_code == 200
        for attempt in [a for a in attempts if not a.acknowledged]:
            again = send(client, people, attempt.key, attempt.as_, attempt.body)
            assert again.status == 201, again.answer
        for n in range(5):
            assert send(client, people, f"after-{n}", "vp.sales").status == 201

    written = submissions(deployment.platform())
    expected = {title_of(a.key): 1 for a in attempts} | {
        title_of(f"after-{n}"): 1 for n in range(5)
    }
    assert written == expected
