"""The pages in-process (TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from railyard.app import all_components
from shared.application import acting_as
from shared.http.app import create_app
from shared.platform import Platform
from shared.web.install import install_web
from tests.conftest import People, make_settings, register_people

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REFERENCE = re.compile(r'<span class="ref">([A-Z]+-\d+)</span>')


@dataclass
class Web:
    platform: Platform
    people: People
    app: FastAPI
    base_url: str = "http://testserver"

    def client(self, base_url: str | None = None) -> TestClient:
        return TestClient(
            self.app, base_url=base_url or self.base_url, raise_server_exceptions=False
        )

    def sign_in(self, client: TestClient, username: str, password: str = PASSWORD) -> str:
        """Sign in; returns the session's CSRF token."""
        csrf = csrf_of(client.get("/signin").text)
        answer = client.post(
            "/signin",
            data={"csrf_token": csrf, "username": username, "password": password},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        # The account page: the start page counts what waits, reading every view.
        return csrf_of(client.get("/account").text)

    def submit(self, as_: str, address: str, data: dict[str, str]) -> Response:
        """A form of the site posted by `as_`, signed in, with the session's CSRF token;
        the answer as it comes (a redirect is not followed)."""
        with self.client() as client:
            csrf = self.sign_in(client, as_)
            return client.post(address, data={"csrf_token": csrf, **data}, follow_redirects=False)

    def events(self) -> int:
        return len(self.platform.log.entries(0, 1_000_000))


def listed(web: Web, address: str, as_: str) -> list[str]:
    """The references (REQ-12, CHG-7) a page at `address` shows, in its order."""
    with web.client() as client:
        web.sign_in(client, as_)
        page = client.get(address)
    assert page.status_code == 200, page.text
    return REFERENCE.findall(page.text)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def build_web(platform: Platform) -> Web:
    people = register_people(platform)
    with acting_as("test-setup"):
        for username in people.tokens:
            platform.identity.set_password(username, PASSWORD)
    components = all_components(platform)
    app = create_app(platform, components, run_followers=False)
    install_web(app, platform, components)
    return Web(platform, people, app)


@pytest.fixture
def web(platform: Platform) -> Web:
    return build_web(platform)


@pytest.fixture
def strict_web(backend: str, tmp_path: Path) -> Iterator[Web]:
    """Sign-in limits small enough to reach in a test."""
    for settings in make_settings(
        backend, tmp_path, signin_limit_per_address=4, signin_limit_per_user=3
    ):
        platform = Platform.build(settings)
        try:
            yield build_web(platform)
        finally:
            platform.close()


@pytest.fixture
def new_york(backend: str, tmp_path: Path) -> Iterator[Web]:
    """A business in New York: dates and times on the pages are New York's."""
    for settings in make_settings(backend, tmp_path, timezone="America/New_York"):
        platform = Platform.build(settings)
        try:
            yield build_web(platform)
        finally:
            platform.close()


@pytest.fixture
def hasty_web(backend: str, tmp_path: Path) -> Iterator[Web]:
    """Reads catch a view up only when it is at most 10 events behind (the people are
    caught up, as a worker would have)."""
    for settings in make_settings(backend, tmp_path, read_your_writes_max_lag=10):
        platform = Platform.build(settings)
        try:
            web = build_web(platform)
            platform.directory.group.catch_up()
            yield web
        finally:
            platform.close()
