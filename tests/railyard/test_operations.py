"""What an operator watches: health, readiness, metrics and logs with request ids."""

from __future__ import annotations

import orjson
import pytest

from tests.builders import submit
from tests.conftest import Api


def test_healthz_and_readyz(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_readyz_is_503_when_views_fall_far_behind(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shared.http.app as app_module

    submit(api)
    monkeypatch.setattr(app_module, "READY_MAX_LAG", 0)
    for group in api.client.app.state.followers.groups:  # type: ignore[attr-defined]
        group.ensure_fresh = lambda: None
    response = api.client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_prometheus_metrics_count_requests_and_follower_lag(api: Api) -> None:
    submit(api)
    text = api.client.get("/metrics").text
    assert "railyard_http_requests_total" in text
    assert 'railyard_follower_lag_events{follower="intake.requests.v1"}' in text


def test_every_response_carries_a_request_id_and_echoes_a_given_one(api: Api) -> None:
    assert len(api.client.get("/healthz").headers["x-request-id"]) == 32
    echoed = api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"


def test_request_id_becomes_the_correlation_id_of_events(api: Api) -> None:
    response = api.client.post(
        "/api/requests",
        json=__import__("tests.builders", fromlist=["request_payload"]).request_payload(),
        headers={**api.people.headers("vp.sales"), "X-Request-ID": "req-777"},
    )
    request_id = response.json()["id"]
    detail = api.get("/api/events", "metrics.mo", params={"limit": 1000}).json()
    (event,) = [e for e in detail["events"] if e["aggregate_id"] == request_id]
    assert event["correlation_id"] == "req-777"


def test_openapi_document_is_served(api: Api) -> None:
    document = orjson.loads(api.client.get("/openapi.json").content)
    assert "/api/requests" in document["paths"]
    assert api.client.get("/docs").status_code == 200


def test_the_api_docs_page_needs_no_internet(api: Api) -> None:
    """FastAPI's /docs loads Swagger UI from a CDN: offline, the page stayed blank. Its
    files are served by the process itself."""
    page = api.client.get("/docs").text
    assert "cdn." not in page
    assert '"/docs-assets/swagger-ui-bundle.js"' in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert api.client.get(f"/docs-assets/{asset}").status_code == 200
