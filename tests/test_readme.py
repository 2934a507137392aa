"""The README says what the API does: an integrating developer read it, and it was wrong."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import Api

README = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())


def test_readme_names_where_the_openapi_document_is(api: Api) -> None:
    client: TestClient = api.client
    assert client.get("/openapi.json").json()["openapi"].startswith("3.")
    assert "OpenAPI document at `/openapi.json`" in README


def test_readme_names_the_refusals_and_fields_a_client_meets() -> None:
    assert "Only a time in the future is refused" not in README
    assert "422 `deployed_too_long_ago`" in README
    assert "`POST /api/blackouts/{id}/lift` (`reason`, required)" in README
    assert '`POST /api/requests/{id}/rating` with `{"score": 1-5}`' in README
