"""Scaled out as docker-compose runs it, one step further: two API processes and two
workers, separate processes on one PostgreSQL schema, started together, connected as the
service role that `railyard migrate --grant-to` prepared. Commands go through both APIs
at once; afterwards every view, read through either API, is what a rebuild from the log
gives, and nothing is lost or doubled (two workers race for every batch and reaction)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from railyard.app import all_components
from shared.http.app import create_app
from tests.builders import request_payload
from tests.conftest import People
from tests.faults.flows import complete, ok, plan_bundles, ready_to_deploy, schedule
from tests.faults.rebuild import rebuilt_copy, view_differences
from tests.faults.writers import Attempt, Writers, send, submissions, title_of
from tests.processes import Deployment, LiveApi

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("faults"),
    pytest.mark.timeout(150),
]

READS = (
    "/api/requests?limit=500",
    "/api/requests/counts",
    "/api/triage-queue",
    "/api/bundles",
    "/api/plan",
    "/api/changes",
    "/api/metrics/throughput",
    "/api/metrics/work-in-progress",
    "/api/metrics/releases",
)


def accept_through_both(apis: list[LiveApi], request_id: str) -> list[int]:
    """The release manager accepts the same request through both APIs at the same moment."""
    barrier = threading.Barrier(len(apis))
    body = {"owner": "dev.alice", "size_points": 2}

    def accept(api: LiveApi) -> int:
        barrier.wait()
        return api.post(f"/api/requests/{request_id}/accept", "rm", json=body).status_code

    with ThreadPoolExecutor(len(apis)) as pool:
        return sorted(pool.map(accept, apis))


def submit_through_both(apis: list[LiveApi], people: People, key: str) -> list[Attempt]:
    """The same request, with the same Idempotency-Key, through both APIs at once."""
    barrier = threading.Barrier(len(apis))
    body = request_payload(title=title_of(key))

    def submit(api: LiveApi) -> Attempt:
        barrier.wait()
        return send(api.client, people, key, "vp.sales", body)

    with ThreadPoolExecutor(len(apis)) as pool:
        return list(pool.map(submit, apis))


def answers(read: Any) -> dict[str, Any]:
    return {path: ok(read(path)) for path in READS}


def test_two_apis_and_two_workers_converge_to_the_rebuild_with_nothing_lost_or_doubled(
    deployment: Deployment,
) -> None:
    """Submit, triage, schedule and deploy through either API; the workers follow."""
    deployment.migrate(cli=True)
    people = deployment.register_people()
    processes = [
        deployment.api("api-a", followers=False, start=False),
        deployment.api("api-b", followers=False, start=False),
        deployment.worker("worker-1", start=False),
        deployment.worker("worker-2", start=False),
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.wait_ready()
    apis = [LiveApi(p.url, people) for p in processes[:2]]

    writers = Writers([a.url for a in apis], people, threads=4).start()
    bundles = plan_bundles(apis[0], 3)
    shipped = ready_to_deploy(apis[1], bundles[0], ["Ships first", "Ships too"])
    writers.wait_for(30)
    raced = [a.answer["id"] for a in writers.attempts[:10] if a.acknowledged]
    outcomes = [accept_through_both(apis, request_id) for request_id in raced]
    twins = [submit_through_both(apis, people, f"twin-{n}") for n in range(5)]
    complete(apis[0], shipped)
    for n, request_id in enumerate(raced):
        schedule(apis[n % 2], bundles[1 + n % 2], request_id)
    attempts = writers.stop()

    assert outcomes == [[200, 409]] * len(raced)
    for pair in twins:  # one write and its replay, whichever process came first
        assert [a.status for a in pair] == [201, 201], [a.answer for a in pair]
        assert pair[0].answer == pair[1].answer
    assert all(a.status == 201 for a in attempts), {a.status for a in attempts}
    deployment.wait_caught_up()

    platform = deployment.platform()
    expected = {title_of(a.key): 1 for a in [*attempts, *(pair[0] for pair in twins)]}
    expected |= dict.fromkeys(("Ships first", "Ships too"), 1)
    assert submissions(platform) == expected
    assert ok(apis[0].get(f"/api/bundles/{shipped.bundle_id}", "rm"))["status"] == "deployed"
    for request_id in shipped.request_ids:
        detail = ok(apis[1].get(f"/api/requests/{request_id}", "rm"))
        assert [h["type"] for h in detail["history"]].count("ChangeRequest.Delivered") == 1

    through_a = answers(lambda path: apis[0].get(path, "rm"))
    through_b = answers(lambda path: apis[1].get(path, "rm"))
    assert through_a == through_b
    assert through_a["/api/requests?limit=500"]["total"] == len(expected)
    with rebuilt_copy(deployment) as rebuilt:
        assert view_differences(deployment, rebuilt) == []
        app = create_app(rebuilt, all_components(rebuilt), run_followers=False)
        with TestClient(app) as client:
            again = answers(lambda path: client.get(path, headers=people.headers("rm")))
    assert again == through_a
