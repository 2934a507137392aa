"""Per-user rate limits on the consumer feed and per-address ones on every sign-in: 429
problem+json with Retry-After past the limit, and nothing else changes for anyone else.

The limiter lives in the process, not the store, so these run on the embedded store only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from railyard.app import build_components
from services.metrics.replay import ReplayState, replay
from shared.http.app import create_app
from shared.platform import Platform
from shared.settings import load_settings
from shared.web.install import install_web
from tests.conftest import People, register_people
from tests.security.conftest import written

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Limited:
    client: TestClient
    people: People
    platform: Platform

    def feed(self, username: str, **params: Any) -> Any:
        return self.client.get("/api/events", params=params, headers=self.people.headers(username))


@pytest.fixture
def limited(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Limited]:
    """The platform's own routes (people, feed, sign-in) with the limits a test names."""
    overrides = dict(getattr(request, "param", {}))
    services = overrides.pop("services", ())
    settings = load_settings(database_url=None, data_dir=tmp_path / "var", **overrides)
    platform = Platform.build(settings)
    people = register_people(platform)
    components = build_components(platform, services)
    app = create_app(platform, components, run_followers=False)
    install_web(app, platform, components)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Limited(client, people, platform)
    finally:
        platform.close()


def assert_rate_limited(answer: Any) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["rule"] == "rate_limited"
    assert int(answer.headers["retry-after"]) >= 1


def limits(**values: Any) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("limited", [values], indirect=True)


@limits(feed_limit_per_user=3)
def test_feed_pages_are_limited_per_user(limited: Limited) -> None:
    """A consumer past its pages per minute waits; another consumer does not."""
    for _ in range(3):
        assert limited.feed("metrics.mo").status_code == 200
    assert_rate_limited(limited.feed("metrics.mo"))
    assert limited.feed("rm").status_code == 200


@limits(feed_stream_limit_per_user=2)
def test_live_tail_connections_are_limited_per_user(limited: Limited) -> None:
    def connect(username: str) -> Any:
        return limited.client.get(
            "/api/events/stream",
            params={"max_events": 1},
            headers=limited.people.headers(username),
        )

    for _ in range(2):
        assert connect("metrics.mo").status_code == 200
    assert_rate_limited(connect("metrics.mo"))
    assert connect("admin").status_code == 200
    assert limited.feed("metrics.mo").status_code == 200  # pages are counted apart


@limits(feed_limit_per_user=2)
def test_a_replay_waits_out_the_feed_limit_and_reads_every_event(limited: Limited) -> None:
    """`railyard replay` honours Retry-After instead of failing halfway."""
    clock = [0.0]
    waits: list[float] = []
    limited.platform.limits.feed_pages_per_user.clock = lambda: clock[0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limited.client.headers["Authorization"] = limited.people.headers("metrics.mo")["Authorization"]
    state = replay(limited.client, ReplayState(), page_size=10, sleep=sleep)
    assert state.position == limited.platform.log.head()
    assert waits
    assert min(waits) >= 1


def test_default_limits_admit_a_busy_consumer(limited: Limited) -> None:
    """The defaults are generous: a consumer reading a page a request for a while is fine."""
    statuses = {limited.feed("metrics.mo", limit=10).status_code for _ in range(200)}
    assert statuses == {200}


@limits(token_failure_limit_per_address=3)
def test_guessing_tokens_is_limited_per_address(limited: Limited) -> None:
    """Unknown tokens from one address: 401, then 429 even for a right one, writing nothing."""
    before = written(limited.platform)
    for n in range(3):
        bad = {"Authorization": f"Bearer ry_0123456789abcdef_{'x' * 40}{n}"}
        assert limited.client.get("/api/me", headers=bad).status_code == 401
    assert_rate_limited(limited.client.get("/api/me", headers=limited.people.headers("rm")))
    assert_rate_limited(limited.client.post("/api/users", json={}, headers=bad))
    assert written(limited.platform) == before


@limits(token_failure_limit_per_address=3)
def test_a_request_without_a_token_is_not_a_guess(limited: Limited) -> None:
    for _ in range(10):
        assert limited.client.get("/api/me").status_code == 401
    assert limited.client.get("/api/me", headers=limited.people.headers("rm")).status_code == 200


@limits(token_failure_limit_per_address=2, services=("release",))
def test_guessing_calendar_feed_secrets_counts_as_guessing_tokens(limited: Limited) -> None:
    """The calendar's secret in the address is a sign-in too, limited with bearer tokens."""
    client = limited.client
    issued = client.post("/api/calendar/feeds", json={}, headers=limited.people.headers("rm"))
    secret = issued.json()["token"]
    assert client.get("/api/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/calendar/feed.ics", params={"token": "rycal_guess"}).status_code == 401
    assert_rate_limited(client.get("/api/calendar/feed.ics", params={"token": secret}))
    assert_rate_limited(client.get("/api/me", headers=limited.people.headers("rm")))


def sign_in(client: TestClient, username: str, password: str) -> Any:
    csrf = CSRF.search(client.get("/signin").text)
    assert csrf
    return client.post(
        "/signin",
        data={"csrf_token": csrf.group(1), "username": username, "password": password},
        follow_redirects=False,
    )


@limits(signin_limit_per_user=3, signin_limit_per_address=1000)
def test_failed_sign_ins_are_limited_per_username(limited: Limited) -> None:
    """Guessing one person's password: 429 with Retry-After after the limit, even for the
    right password; someone else signs in as usual."""
    from shared.application import acting_as

    with acting_as("test-setup"):
        for username in ("rm", "qa.quinn"):
            limited.platform.identity.set_password(username, PASSWORD)
    client = limited.client
    for _ in range(3):
        assert sign_in(client, "rm", "not the password").status_code == 401
    refused = sign_in(client, "rm", PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert sign_in(client, "qa.quinn", PASSWORD).status_code == 303
