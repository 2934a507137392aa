"""The worker that runs every projection and reaction, killed with `kill -9` in the middle
of a batch and restarted, again and again, while commands keep coming: no follower's
position ever goes back, every view ends equal to a rebuild from the log, and no request
is delivered twice (nor counted twice by the metrics)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from shared.domain import attributed_to
from shared.platform import Platform
from tests.builders import new_request
from tests.conftest import People
from tests.faults.flows import Deployable, complete, ok, plan_bundles, ready_to_deploy
from tests.faults.rebuild import differences_from_rebuild
from tests.faults.writers import Writers
from tests.processes import Deployment, LiveApi

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.xdist_group("faults"),
    pytest.mark.timeout(150),
]

DELIVERED = "ChangeRequest.Delivered"
DEPLOYED = "ReleaseBundle.Deployed"


class PositionSampler:
    """Reads every follower's committed position from the database, over and over, and
    remembers any that went back."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.samples = 0
        self.went_back: list[tuple[str, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PositionSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        last: dict[str, int] = {}
        table = f'"{self.deployment.schema}".railyard_positions'
        with self.deployment.sql() as conn:
            while not self._stop.is_set():
                for name, position in conn.execute(f"SELECT name, position FROM {table}"):
                    if position < last.get(name, 0):
                        self.went_back.append((name, last[name], position))
                    last[name] = position
                self.samples += 1
                self._stop.wait(0.02)


def backlog(platform: Platform, requests: int) -> None:
    """Events the worker must fold: submitted requests, saved a hundred to a transaction."""
    for start in range(0, requests, 100):
        with attributed_to("vp.sales"):
            batch = [new_request(title=f"Backlog {start + n}") for n in range(100)]
        platform.log.save(*batch)


def kill_mid_batch(deployment: Deployment, worker_name: str, timeout_s: float = 15.0) -> bool:
    """kill -9 the worker as soon as it has a transaction open that has written something
    (a batch of views or a reaction not yet committed); True when one was caught open."""
    application = deployment.application_name(worker_name)
    deadline = time.monotonic() + timeout_s
    caught = False
    with deployment.sql() as conn:
        while time.monotonic() < deadline and not caught:
            caught = bool(
                conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = %s"
                    " AND backend_xid IS NOT NULL",
                    [application],
                ).fetchone()
            )
    worker = next(p for p in deployment.processes if p.name == worker_name)
    worker.kill()
    # PostgreSQL rolls back what the dead process left open; wait until it has, so that
    # the next kill can only see the new process's transactions.
    with deployment.sql() as conn:
        while conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", [application]
        ).fetchone():
            assert time.monotonic() < deadline + 10, "the killed worker's sessions linger"
            time.sleep(0.05)
    return caught


def test_worker_killed_mid_batch_never_goes_back_equals_a_rebuild_and_delivers_once(
    deployment: Deployment, people: People
) -> None:
    """Three kill -9s of the worker while bundles deploy and requests keep arriving."""
    api_process = deployment.api(followers=False)
    worker = deployment.worker()
    api = LiveApi(api_process.url, people)

    bundles = plan_bundles(api, 3)
    deployables: list[Deployable] = [
        ready_to_deploy(api, bundle, [f"Shipped {n}.{m}" for m in range(2)])
        for n, bundle in enumerate(bundles)
    ]
    platform = deployment.platform()

    caught_open = []
    with PositionSampler(deployment) as sampler:
        writers = Writers([api_process.url], people, threads=2).start()
        for deployable in deployables:
            complete(api, deployable)
            backlog(platform, 500)
            caught_open.append(kill_mid_batch(deployment, worker.name))
            worker.start()  # not waited for: the next kill waits for its first batch
        writers.stop()
        deployment.wait_caught_up(timeout=90)
    assert sampler.samples > 50
    assert sampler.went_back == []
    assert any(caught_open), "no kill landed inside an open batch"

    log = platform.log.entries(0, 10**7)
    delivered = Counter(e.aggregate_id for e in log if e.type == DELIVERED)
    shipped = [r for d in deployables for r in d.request_ids]
    assert delivered == dict.fromkeys(shipped, 1)
    deployed = Counter(e.aggregate_id for e in log if e.type == DEPLOYED)
    assert deployed == {d.bundle_id: 1 for d in deployables}
    for request_id in shipped:
        assert ok(api.get(f"/api/requests/{request_id}", "rm"))["status"] == "delivered"
    assert ok(api.get("/api/metrics/throughput", "metrics.mo"))["total"] == len(shipped)
    assert differences_from_rebuild(deployment) == []
