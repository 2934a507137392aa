"""Fixtures: the same scenarios run on the embedded SQLite store and on PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _pytest.nodeid import NodeId
from fastapi.testclient import TestClient

from railyard.app import all_components
from shared.application import acting_as
from shared.http.app import create_app
from shared.platform import Component, Platform
from shared.settings import Settings, load_settings
from shared.store.projections import ProjectionGroup
from tests import reuse
from tests.postgres import fresh_schema, server_url

reuse.install()

# Passwords hashed with scrypt's least work in the tests (and the servers they start,
# which inherit the environment): OWASP's cost is 0.25 s of CPU per hash, and a web test
# gives eleven people a password. tests/web/test_password_hashing.py checks the default and
# that a hash made with other factors is upgraded at sign-in.
TEST_SCRYPT = "1024,8,1"
os.environ["RAILYARD_PASSWORD_SCRYPT"] = TEST_SCRYPT

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Name each test's xdist_group in its node id, as `--dist loadgroup` groups by.

    pytest-xdist 3.8 does this by setting `item._nodeid`, which pytest 9 no longer reads
    (a node's id is `item._id` now): the browser and fault suites' groups were silently
    ignored, and each ran on both workers at once (two live servers and Chromiums, fault
    tests killing processes side by side)."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if names and "@" not in item.nodeid:
            grouped = f"{item.nodeid}@{'_'.join(sorted(names))}"
            # pytest's own parser of node ids keeps the string as given.
            item._id = NodeId.parse(grouped)  # pytest 9's node id, as xdist set its predecessor


def postgres_url() -> str:
    url = server_url()
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is required when CI=true and none could be found or started")
        pytest.skip("no PostgreSQL server available (set DATABASE_URL to run these)")
    return url


def make_settings(backend: str, tmp_path: Path, **overrides: Any) -> Iterator[Settings]:
    if backend == "sqlite":
        yield load_settings(database_url=None, data_dir=tmp_path / "var", **overrides)
        return
    url = postgres_url()
    with fresh_schema(url) as schema:
        yield load_settings(database_url=url, db_schema=schema, pool_size=4, **overrides)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    yield from make_settings(backend, tmp_path)


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    built = Platform.build(settings)
    yield built
    built.close()


@pytest.fixture
def sqlite_platform(tmp_path: Path) -> Iterator[Platform]:
    for settings in make_settings("sqlite", tmp_path):
        built = Platform.build(settings)
        yield built
        built.close()


@pytest.fixture
def postgres_platform(tmp_path: Path) -> Iterator[Platform]:
    for settings in make_settings("postgres", tmp_path):
        built = Platform.build(settings)
        yield built
        built.close()


@pytest.fixture
def components(platform: Platform) -> list[Component]:
    return all_components(platform)


PEOPLE: dict[str, dict[str, Any]] = {
    "admin": {"roles": ["admin"]},
    "vp.sales": {"roles": ["requester"], "department": "Sales", "display_name": "Val Sales"},
    "vp.care": {"roles": ["requester"], "department": "Customer Care", "display_name": "Cara Care"},
    "rm": {"roles": ["release_manager"], "display_name": "Rita Release"},
    "dev.alice": {"roles": ["it_staff"], "team": "development", "display_name": "Alice Dev"},
    "qa.quinn": {"roles": ["it_staff"], "team": "qa", "display_name": "Quinn QA"},
    "ops.olga": {
        "roles": ["it_staff", "cab_member"],
        "team": "operations",
        "display_name": "Olga Ops",
    },
    "cab.carl": {"roles": ["cab_member"], "team": "development", "display_name": "Carl CAB"},
    "cab.dora": {"roles": ["cab_member"], "team": "qa", "display_name": "Dora CAB"},
    "metrics.mo": {"roles": ["metrics_reader"], "display_name": "Mo Metrics"},
    "pipeline": {"roles": ["pipeline"], "display_name": "Deploy pipeline"},
}


@dataclass
class People:
    """Registered users and a token for each."""

    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, username: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}", **extra}


def register_people(
    platform: Platform, *, password: str | None = None, tokens: bool = True
) -> People:
    """Everyone of PEOPLE, with a sign-in password when given and an API token each."""
    people = People()
    with acting_as("test-setup"):
        for username, profile in PEOPLE.items():
            platform.identity.register(
                username,
                profile.get("display_name", username),
                profile["roles"],
                profile.get("department"),
                profile.get("team"),
            )
            if password is not None:
                platform.identity.set_password(username, password)
            if tokens:
                people.tokens[username] = platform.identity.issue_token(username, "test").token
    return people


@pytest.fixture
def people(platform: Platform) -> People:
    return register_people(platform)


@dataclass
class Api:
    """A test client that knows everyone's token."""

    client: TestClient
    people: People
    platform: Platform

    def get(self, path: str, as_: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.people.headers(as_), **kwargs)

    def post(
        self, path: str, as_: str, json: Any = None, key: str | None = None, **kwargs: Any
    ) -> Any:
        headers = self.people.headers(as_)
        if key:
            headers["Idempotency-Key"] = key
        return self.client.post(path, json=json, headers=headers, **kwargs)

    def put(
        self, path: str, as_: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        sent = {**self.people.headers(as_), **(headers or {})}
        return self.client.put(path, json=json, headers=sent)


@pytest.fixture
def api(platform: Platform, components: list[Component], people: People) -> Iterator[Api]:
    app = create_app(platform, components, run_followers=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, people, platform)


def catch_up_at_once(*groups: ProjectionGroup) -> None:
    """Each group catches up on a thread of its own, all at once (as followers in several
    processes do); any failure is raised here."""
    errors: list[BaseException] = []

    def follow(group: ProjectionGroup) -> None:
        try:
            group.catch_up()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=follow, args=(g,)) for g in groups]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
