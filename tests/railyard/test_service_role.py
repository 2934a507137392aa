"""A process connecting as the service role `railyard migrate --grant-to` prepared (as
docker-compose runs every API process and the worker) starts and serves: it creates no
table, because that role may not."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from railyard.app import build_app
from shared.settings import load_settings
from shared.store.secrets import server_secret
from tests.conftest import postgres_url
from tests.postgres import SERVICE_ROLE, as_role, fresh_schema
from tests.processes import Deployment


@pytest.mark.postgres
def test_a_process_of_the_service_role_starts_and_serves_without_creating_tables(
    tmp_path: Path,
) -> None:
    url = postgres_url()
    with fresh_schema(url) as schema:
        owner = Deployment(url, schema, tmp_path)
        owner.migrate()
        settings = load_settings(
            database_url=as_role(url, SERVICE_ROLE),
            db_schema=schema,
            create_schema=False,
            pool_size=2,
            data_dir=tmp_path / "var",
        )
        app = build_app(settings)
        try:
            with TestClient(app) as client:
                assert client.get("/readyz").status_code == 200
                people = owner.register_people()
                me = client.get("/api/me", headers=people.headers("rm"))
                assert me.json()["username"] == "rm"
            key = server_secret(app.state.platform.log, "webhook-signing")
            assert key == server_secret(owner.platform().log, "webhook-signing")
        finally:
            app.state.platform.close()
            owner.close()
