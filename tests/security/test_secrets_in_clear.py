"""Tokens and passwords are never stored or logged in clear: not in what the process
writes to its logs (structlog, in production JSON form), not in the event log, not in the
identity tables, nor in any other table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient

from railyard.app import build_app
from shared.application import acting_as
from shared.logging import configure_logging
from shared.platform import Platform
from shared.settings import Settings
from tests.builders import request_payload
from tests.conftest import Api
from tests.logs import forget_cached_loggers

PASSWORD = "Tr0ub4dor&3 horse battery"
WRONG_PASSWORD = "wrong-horse-battery-staple"
GUESSED_TOKEN = "ry_0123456789abcdef_" + "G" * 43
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def production_logging(settings: Settings) -> Iterator[None]:
    """What `railyard serve` configures: JSON lines on stderr, here at debug level."""
    saved = structlog.get_config()
    configure_logging(settings.model_copy(update={"log_format": "json", "log_level": "debug"}))
    forget_cached_loggers()
    try:
        yield
    finally:
        structlog.configure(**saved)
        forget_cached_loggers()


def every_table(platform: Platform) -> str:
    """Every row of every table of the store, as text."""
    log = platform.log
    with log.db.transaction() as cur:
        if log.db.backend == "postgres":
            cur.execute(
                "SELECT table_name AS name FROM information_schema.tables"
                " WHERE table_schema = :schema",
                {"schema": platform.settings.db_schema},
            )
        else:
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = sorted(row["name"] for row in cur.fetchall())
        assert {"railyard_events", "identity_users", "identity_tokens"} <= set(tables)
        dump = []
        for table in tables:
            cur.execute(f"SELECT * FROM {log.table(table)}")
            dump.append(repr(cur.fetchall()))
    return "\n".join(dump)


def sign_in(client: TestClient, **fields: str) -> Any:
    csrf = CSRF.search(client.get("/signin").text)
    assert csrf
    return client.post(
        "/signin", data={"csrf_token": csrf.group(1), **fields}, follow_redirects=False
    )


def test_tokens_and_passwords_appear_in_no_log_line_and_no_table(
    settings: Settings, production_logging: None, capfd: pytest.CaptureFixture[str]
) -> None:
    """Bearer tokens (good, revoked, guessed), passwords (right and wrong), calendar
    secrets: used every way the API and the pages take them, then looked for everywhere."""
    app = build_app(settings, run_followers=False)
    platform: Platform = app.state.platform
    with acting_as("test-setup"):
        platform.identity.register("admin", "Admin", ["admin"])
        platform.identity.register("vp.sales", "Val", ["requester"], "Sales")
        platform.identity.set_password("vp.sales", PASSWORD)
        admin_token = platform.identity.issue_token("admin", "test").token
    admin = {"Authorization": f"Bearer {admin_token}"}
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            issued = client.post("/api/users/vp.sales/tokens", json={}, headers=admin).json()
            vp = {"Authorization": f"Bearer {issued['token']}"}
            keyed = {**vp, "Idempotency-Key": "k-1"}
            assert client.post("/api/requests", json=request_payload(), headers=keyed).is_success
            assert client.get("/api/users", headers=vp).status_code == 403
            feed = client.post("/api/calendar/feeds", json={}, headers=vp).json()
            assert client.get(feed["subscribe_path"] + feed["token"]).status_code == 200
            revoked = client.post(
                f"/api/tokens/{issued['token_id']}/revoke", json={}, headers=admin
            )
            assert revoked.status_code == 200
            assert client.get("/api/me", headers=vp).status_code == 401
            guessed = {"Authorization": f"Bearer {GUESSED_TOKEN}"}
            assert client.get("/api/me", headers=guessed).status_code == 401
            assert sign_in(client, username="vp.sales", password=WRONG_PASSWORD).status_code == 401
            assert sign_in(client, username="vp.sales", password=PASSWORD).status_code == 303
            assert sign_in(client, token=admin_token).status_code == 303
            assert sign_in(client, token=issued["token"]).status_code == 401
        logged = capfd.readouterr()
        stored = every_table(platform)
    finally:
        platform.close()

    output = logged.out + logged.err
    assert "http_request_answered" in output  # the logs were captured
    secrets = {
        "a bearer token": admin_token,
        "a revoked bearer token": issued["token"],
        "a guessed token": GUESSED_TOKEN,
        "a password": PASSWORD,
        "a wrong password": WRONG_PASSWORD,
        "a calendar feed secret": feed["token"],
    }
    for what, secret in secrets.items():
        assert secret not in output, f"{what} was logged"
        assert secret not in stored, f"{what} is stored in clear"
        if secret.startswith("ry"):  # prefix_id_random: the id is public, the rest is not
            random_part = secret.split("_", 2)[2]
            assert random_part not in output, f"{what}'s secret part was logged"
            assert random_part not in stored, f"{what}'s secret part is stored"


def test_an_api_answer_with_a_secret_is_never_kept_by_a_cache(api: Api) -> None:
    """A new token's answer (and any other API answer) says no-store, as pages do."""
    issued = api.post("/api/users/vp.sales/tokens", "vp.sales", json={"label": "cli"})
    assert issued.status_code == 201
    assert issued.headers["cache-control"] == "no-store"
    assert api.get("/api/me", "vp.sales").headers["cache-control"] == "no-store"
