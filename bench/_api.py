"""The subject: Railyard's HTTP API, driven by clients with keep-alive connections
(`http.client`, light on the CPU it shares with the server).

The people, their tokens and the changes awaiting approval are set up through the
product's own use cases in this process (as `railyard users create ... --token` would),
and every view is caught up before the clock starts, as a worker would have done.
"""

from __future__ import annotations

import http.client
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import orjson

from bench import _scenario as scenario
from bench._load import Operation
from bench._processes import bench_settings, migrate
from railyard.app import all_components
from services.intake.domain import ChangeRequest
from shared.application import acting_as
from shared.domain import attributed_to
from shared.http.app import followers_for
from shared.logging import configure_logging
from shared.platform import Platform
from shared.store.followers import Followers


@dataclass
class Setup:
    """The product's schema with its people and tokens, ready to be served."""

    url: str
    schema: str
    clients: int
    tokens: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    _followers: Followers | None = None

    def __enter__(self) -> Setup:
        migrate(self.url, self.schema)
        settings = bench_settings(self.url, self.schema, create_schema=False)
        configure_logging(settings)
        self.platform = Platform.build(settings)
        identity = self.platform.identity
        with acting_as("bench"):
            identity.register(scenario.IMPLEMENTER, "Dev Bench", ["it_staff"], None, "development")
            for client in range(self.clients):
                name = scenario.requester(client)
                identity.register(name, name, ["requester"], scenario.department(client))
                self.tokens[name] = identity.issue_token(name, "bench").token
                name = scenario.cab_member(client)
                identity.register(name, name, ["cab_member"], None, scenario.CAB_TEAM)
                self.tokens[name] = identity.issue_token(name, "bench").token
        self.catch_up()
        return self

    def seed_backlog(self, count: int) -> None:
        """The open requests already waiting before the first submission."""
        assert self.platform is not None
        requests = scenario.backlog(count)
        for first in range(0, count, 1_000):
            self.platform.log.save(*requests[first : first + 1_000])
        self.catch_up()

    def withdraw(self, request_ids: list[str]) -> None:
        """Withdraw what the clients submitted, so the next point meets the same backlog."""
        assert self.platform is not None
        log = self.platform.log
        with attributed_to("bench"):
            for first in range(0, len(request_ids), 500):
                batch = [log.get(UUID(i), ChangeRequest) for i in request_ids[first : first + 500]]
                for request in batch:
                    request.withdraw("the benchmark restores its backlog", None)
                log.save(*batch)
        request_ids.clear()
        self.catch_up()

    def raise_changes(self, count: int) -> list[UUID]:
        assert self.platform is not None
        with acting_as(scenario.IMPLEMENTER):
            ids = scenario.raise_in_bulk(self.platform.log.save, count)
        self.catch_up()
        return ids

    def catch_up(self) -> None:
        """Every view and reaction up to the head of the log, as the worker keeps them."""
        assert self.platform is not None
        if self._followers is None:
            self._followers = followers_for(self.platform, all_components(self.platform))
        while self._followers.run_once() > 0:
            pass

    def __exit__(self, *_: object) -> None:
        if self.platform is not None:
            self.platform.close()


class Connection:
    """One client's keep-alive HTTP/1.1 connection, on the standard library's `http.client`.

    Real clients run on other machines; this one shares the two cores with the server and
    PostgreSQL, so it is kept light: httpx used 1.3-1.8 ms of CPU per request here, this
    a fraction of that (`client_cpu_ms_per_op` in the results says how much; decision
    0086). It speaks what the benchmark needs and nothing more: a JSON POST with a bearer
    token and an Idempotency-Key, the answer read whole. Connections are not kept between
    points: the server closes idle ones."""

    def __init__(self, base_url: str, token: str) -> None:
        address = urlsplit(base_url)
        self._http = http.client.HTTPConnection(
            address.hostname or "127.0.0.1", address.port or 80, timeout=60.0
        )
        self._authorization = f"Bearer {token}"

    def post(self, path: str, body: Any) -> tuple[int, bytes]:
        # http.client sends a bytes body with its headers in one segment, on a socket with
        # TCP_NODELAY: no wait for a delayed ACK.
        self._http.request(
            "POST",
            path,
            body=orjson.dumps(body),
            headers={
                "Authorization": self._authorization,
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
        response = self._http.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self._http.close()


_connections: list[Connection] = []


def _client(base_url: str, token: str) -> Connection:
    connection = Connection(base_url, token)
    _connections.append(connection)
    return connection


def close_clients() -> None:
    for connection in _connections:
        connection.close()
    _connections.clear()


def _expect(path: str, answer: tuple[int, bytes], status: int) -> bytes:
    if answer[0] != status:
        raise RuntimeError(
            f"POST {path} answered {answer[0]}: {answer[1][:500].decode(errors='replace')}"
        )
    return answer[1]


def submitter(
    base_url: str, tokens: dict[str, str], client: int, submitted: list[str]
) -> Operation:
    """A VP submitting requests, each with its own Idempotency-Key (as the README asks);
    the new requests' ids go to `submitted`."""
    http = _client(base_url, tokens[scenario.requester(client)])

    def submit(n: int) -> None:
        answer = http.post("/api/requests", scenario.submission(client, n))
        submitted.append(orjson.loads(_expect("/api/requests", answer, 201))["id"])

    return submit


def approver(
    base_url: str, tokens: dict[str, str], client: int, queue: scenario.Queue
) -> Operation:
    """A CAB member approving the next change in the queue, naming the revision reviewed."""
    http = _client(base_url, tokens[scenario.cab_member(client)])

    def approve(n: int) -> None:
        path = f"/api/changes/{queue.take()}/approve"
        _expect(path, http.post(path, {"revision": 1}), 200)

    return approve
