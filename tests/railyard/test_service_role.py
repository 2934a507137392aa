"""A process connecting as the service role `railyard migrate --grant-to` prepared (as
docker-compose runs every API process and the worker) starts and serves: it creates no
table, because that role may not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from railyard.app import all_components, build_app
from railyard.cli import app
from shared.http.app import all_groups
from shared.settings import load_settings
from shared.store.migrate import grant_service_role
from shared.store.secrets import server_secret
from tests.conftest import postgres_url
from tests.postgres import SERVICE_ROLE, as_role, fresh_schema
from tests.processes import Deployment


def service_role_app(url: str, schema: str, tmp_path: Path) -> FastAPI:
    """An API process connected as the services' role, creating no table (as compose runs)."""
    settings = load_settings(
        database_url=as_role(url, SERVICE_ROLE),
        db_schema=schema,
        create_schema=False,
        pool_size=2,
        data_dir=tmp_path / "var",
    )
    return build_app(settings)


@contextmanager
def migrated(tmp_path: Path) -> Iterator[tuple[str, str, Deployment]]:
    """A schema of its own made by its owner, granted to the services' role: (server
    URL, schema, the owner's deployment)."""
    url = postgres_url()
    with fresh_schema(url) as schema:
        owner = Deployment(url, schema, tmp_path)
        owner.migrate()
        try:
            yield url, schema, owner
        finally:
            owner.close()


@contextmanager
def served_as_service_role(url: str, schema: str, tmp_path: Path) -> Iterator[TestClient]:
    app = service_role_app(url, schema, tmp_path)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        app.state.platform.close()


@pytest.mark.postgres
def test_a_process_of_the_service_role_starts_and_serves_without_creating_tables(
    tmp_path: Path,
) -> None:
    with migrated(tmp_path) as (url, schema, owner):
        with served_as_service_role(url, schema, tmp_path) as client:
            assert client.get("/readyz").status_code == 200
            people = owner.register_people()
            me = client.get("/api/me", headers=people.headers("rm"))
            assert me.json()["username"] == "rm"
            log = client.app.state.platform.log  # type: ignore[attr-defined]  # set by create_app
            key = server_secret(log, "webhook-signing")
        assert key == server_secret(owner.platform().log, "webhook-signing")


@pytest.mark.postgres
def test_views_rebuilt_by_the_owner_stay_open_to_the_service_role(tmp_path: Path) -> None:
    """`railyard rebuild-views`, run as the owner, drops every view's tables and makes
    them again: the services' role lost its privileges on them, and every signed-in call
    answered 500 until `migrate --grant-to` ran again. Migrate grants them by default."""
    with migrated(tmp_path) as (url, schema, owner):
        people = owner.register_people()
        platform = owner.platform()
        for group in all_groups(platform, all_components(platform)):
            group.rebuild()
        with served_as_service_role(url, schema, tmp_path) as client:
            me = client.get("/api/me", headers=people.headers("rm"))
            assert me.status_code == 200, me.text
            counts = client.get("/api/requests/counts", headers=people.headers("vp.sales"))
            assert counts.status_code == 200, counts.text


@pytest.mark.postgres
def test_granting_to_a_role_that_does_not_exist_says_to_create_it(tmp_path: Path) -> None:
    with (
        migrated(tmp_path) as (_, _, owner),
        pytest.raises(ValueError, match="there is no PostgreSQL role 'nobody_here'"),
    ):
        grant_service_role(owner.platform().log, "nobody_here")


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("as_service_role", "create_schema", "said"),
    [
        (False, False, "The tables are not made in schema"),  # migrate forgotten
        (True, True, "This role may not create the schema"),  # compose's role, by default
        (True, False, "This role lacks privileges on Railyard's tables"),  # grant forgotten
    ],
)
def test_serving_a_store_that_is_not_ready_says_why_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    as_service_role: bool,
    create_schema: bool,
    said: str,
) -> None:
    """Before its banner, `serve` builds the app once: what PostgreSQL refused is said in
    one line with what to do, not as a worker's traceback after "Railyard serving"."""
    url = postgres_url()
    with fresh_schema(url) as schema:
        if as_service_role and not create_schema:  # made, but not granted to the role
            owner = Deployment(url, schema, tmp_path)
            owner.migrate(grant=False)
            owner.close()
        monkeypatch.setenv("DATABASE_URL", as_role(url, SERVICE_ROLE) if as_service_role else url)
        monkeypatch.setenv("RAILYARD_DB_SCHEMA", schema)
        monkeypatch.setenv("RAILYARD_CREATE_SCHEMA", str(create_schema).lower())
        monkeypatch.setenv("RAILYARD_DATA_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("RAILYARD_PORT", "8000")  # serve --port sets it: restored after
        result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 1, result.output
    assert said in result.output
    assert "Traceback" not in result.output
    assert "Railyard serving" not in result.output


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_named_not_a_pool_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = postgres_url().rsplit("/", 1)[0] + "/railyard_no_such_database"
    monkeypatch.setenv("DATABASE_URL", missing)
    monkeypatch.setenv("RAILYARD_STARTUP_WAIT_S", "0")
    monkeypatch.setenv("RAILYARD_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["users", "list"])
    assert result.exit_code == 1
    assert "the event store is unavailable" in result.output
    assert 'database "railyard_no_such_database" does not exist' in result.output


@pytest.mark.postgres
def test_a_role_that_lost_its_insert_on_the_log_is_not_ready(tmp_path: Path) -> None:
    """Every write would fail with a 500: readiness says so, by privilege."""
    with (
        migrated(tmp_path) as (url, schema, _),
        served_as_service_role(url, schema, tmp_path) as client,
    ):
        assert client.get("/readyz").status_code == 200
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'REVOKE INSERT ON "{schema}".railyard_events FROM {SERVICE_ROLE}')
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["missing_privileges"] == ["INSERT on railyard_events"]
    assert "migrate --grant-to" in ready.json()["detail"]
