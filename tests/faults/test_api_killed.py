"""An API process killed with `kill -9` while clients write: nothing acknowledged is lost,
nothing is written twice, and a retry after the restart gets the first answer."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import People
from tests.faults.rebuild import differences_from_rebuild
from tests.faults.writers import Writers, send, submissions, title_of
from tests.processes import Deployment

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("faults"),
    pytest.mark.timeout(120),
]


def test_api_killed_during_writes_loses_no_acknowledged_write_and_retries_replay(
    deployment: Deployment, people: People
) -> None:
    """kill -9 under six writing clients; after the restart the same keys replay."""
    api = deployment.api()
    writers = Writers([api.url], people, threads=6, stop_on_no_answer=True).start()
    writers.wait_for(40)
    api.kill()
    attempts = writers.stop()
    acknowledged = [a for a in attempts if a.acknowledged]
    unanswered = [a for a in attempts if a.status is None]
    assert {a.status for a in attempts} <= {201, None}, [a.answer for a in attempts]
    assert unanswered, "the kill should cut some writes off mid-flight"

    log = deployment.platform()
    written = submissions(log)
    for attempt in acknowledged:
        assert written[title_of(attempt.key)] == 1, attempt.key
    assert max(written.values()) == 1

    api.restart()
    head = deployment.head()
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for attempt in acknowledged:
            again = send(client, people, attempt.key, attempt.as_, attempt.body)
            assert (again.status, again.answer) == (attempt.status, attempt.answer)
            assert again.headers.get("idempotent-replayed") == "true"
        assert deployment.head() == head, "a replayed retry wrote something"
        for attempt in unanswered:
            again = send(client, people, attempt.key, attempt.as_, attempt.body)
            assert again.status == 201, again.answer

    written = submissions(log)
    assert written == {title_of(a.key): 1 for a in attempts}
    deployment.wait_caught_up()
    assert differences_from_rebuild(deployment) == []
