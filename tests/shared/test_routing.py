"""A router skips a request whose path none of its routes can match, and never one that
one of its routes does match."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from railyard.app import build_app
from shared.http.routing import LOCATION, ServiceRouter
from shared.settings import load_settings
from tests.builders import request_payload
from tests.conftest import Api

SAMPLES = {"uuid": "6f1c2a4e-3b5d-4c7e-9f10-2a3b4c5d6e7f", "int": "7", "path": "a/b", "str": "x"}


def _concrete(path: str) -> str:
    """The path with each parameter given a value its convertor accepts."""
    return re.sub(
        r"\{[^}:]+(?::([a-z]+))?\}", lambda m: SAMPLES.get(m.group(1) or "str", "x"), path
    )


def _paths(router: ServiceRouter, prefix: str = "") -> list[str]:
    found = []
    for route in router.routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            found.append(prefix + path)
        else:
            inner: Any = getattr(route, "original_router", None)
            found.extend(_paths(inner, prefix + route.include_context.prefix))  # type: ignore[attr-defined]  # FastAPI's included-router record
    return found


def test_no_route_of_the_app_is_skipped_on_its_own_path(tmp_path: Path) -> None:
    app = build_app(load_settings(data_dir=tmp_path), run_followers=False)
    routers = [
        r.original_router  # type: ignore[attr-defined]  # FastAPI's included-router record
        for r in app.router.routes
        if isinstance(getattr(r, "original_router", None), ServiceRouter)
    ]
    assert len(routers) > 10
    for router in routers:
        beginnings = router.beginnings()
        assert beginnings is not None
        for path in _paths(router):
            assert _concrete(path).startswith(beginnings), path


def test_a_request_passes_routers_it_cannot_match_and_reaches_its_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[APIRouter] = []
    matches = APIRouter.matches

    def counted(router: APIRouter, scope: Any) -> Any:
        asked.append(router)
        return matches(router, scope)

    monkeypatch.setattr(APIRouter, "matches", counted)
    first = ServiceRouter(prefix="/api")

    @first.get("/requests/{request_id}")
    def request(request_id: str) -> dict[str, str]:
        return {"request": request_id}

    nested = ServiceRouter()

    @nested.get("/changes/{change_id}/approvals")
    def approvals(change_id: str) -> dict[str, str]:
        return {"change": change_id}

    second = ServiceRouter()
    second.include_router(nested, prefix="/api")
    third = ServiceRouter()

    @third.get("/changes/{change_id}")
    def change(change_id: str) -> dict[str, str]:
        return {"v2": change_id}

    app = FastAPI()
    app.include_router(first)
    app.include_router(second)
    app.include_router(third, prefix="/v2")
    assert first.beginnings() == ("/api/requests/",)
    assert second.beginnings() == ("/api/changes/",)
    with TestClient(app) as client:
        assert client.get("/api/requests/r1").json() == {"request": "r1"}
        asked.clear()
        assert client.get("/api/changes/c1/approvals").json() == {"change": "c1"}
        assert first not in asked  # skipped without asking its routes
        assert client.get("/v2/changes/c2").json() == {"v2": "c2"}
        assert client.get("/api/changes/c1").status_code == 404
        assert client.post("/api/requests/r1").status_code == 405


def test_every_write_of_the_api_declares_the_idempotency_key_it_honours(
    tmp_path: Path,
) -> None:
    """An integrator reading the OpenAPI document found no Idempotency-Key on any of the
    POSTs, which all honour it."""
    app = build_app(load_settings(data_dir=tmp_path), run_followers=False)
    document = app.openapi()
    writes = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("post", "put", "patch", "delete")
    ]
    assert len(writes) > 50
    undeclared = [
        f"{method.upper()} {path}"
        for method, path, operation in writes
        if "Idempotency-Key" not in {p["name"] for p in operation.get("parameters", [])}
    ]
    assert undeclared == []


def _routes(router: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every route of the app with its whole path, through the routers it includes."""
    found: list[tuple[str, Any]] = []
    for route in router.routes:
        path = getattr(route, "path", None)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found.extend(_routes(inner, prefix + route.include_context.prefix))
        elif isinstance(path, str):
            found.append((prefix + path, route))
    return found


def test_every_address_a_creation_answers_is_one_the_api_reads(tmp_path: Path) -> None:
    """A 201 names where to read what it made (RFC 9110's Location): an address a GET of
    the API answers, filled from fields its answer has, and declared in the document."""
    app = build_app(load_settings(data_dir=tmp_path), run_followers=False)
    routes = _routes(app.router)
    shape = re.compile(r"\{[^}]+\}")  # the parameters' names are the routes' own
    readable = {
        shape.sub("{}", path)
        for path, route in routes
        if "GET" in (getattr(route, "methods", None) or ())
    }
    located = [(path, route) for path, route in routes if hasattr(route, LOCATION)]
    assert len(located) >= 7
    document = app.openapi()
    for path, route in located:
        template = getattr(route, LOCATION)
        assert shape.sub("{}", template) in readable, (path, template)
        fields = set(route.response_model.__dataclass_fields__)
        assert set(re.findall(r"\{(\w+)\}", template)) <= fields, (path, template)
        (method,) = route.methods
        answer = document["paths"][path][method.lower()]["responses"]["201"]
        assert "Location" in answer["headers"], path


def test_a_request_submitted_answers_where_it_is_read_and_a_replay_says_the_same(
    api: Api,
) -> None:
    first = api.post("/api/requests", "vp.sales", json=request_payload(), key="k-located")
    assert first.status_code == 201
    assert first.headers["location"] == f"/api/requests/{first.json()['id']}"
    assert api.get(first.headers["location"], "vp.sales").json()["id"] == first.json()["id"]
    again = api.post("/api/requests", "vp.sales", json=request_payload(), key="k-located")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]


def test_a_write_that_makes_nothing_new_answers_no_location(api: Api) -> None:
    refused = api.post("/api/requests", "vp.sales", json=request_payload(title=""))
    assert refused.status_code == 422
    assert "location" not in refused.headers
