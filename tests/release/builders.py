"""Release test helpers over HTTP: a train whose bundles are all well before their
freeze (whatever day the tests run), accepted requests, scheduling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.builders import accept, submit
from tests.conftest import Api


def train_payload(**overrides: Any) -> dict[str, Any]:
    # Starting 30 days out keeps every generated bundle's scope freeze (14 days before
    # deployment) in the future, so tests do not depend on the day they run.
    start = (datetime.now(UTC) + timedelta(days=30)).date()
    payload: dict[str, Any] = {
        "name": "Monthly",
        "cadence": {
            "kind": "monthly",
            "weekday": "tuesday",
            "week_of_month": 2,
            "start_date": start.isoformat(),
        },
        "capacity_points": 20,
        "generate": 3,
    }
    payload.update(overrides)
    return payload


def define_train(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.post("/api/trains", "rm", json=train_payload(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def first_bundle(api: Api, **overrides: Any) -> str:
    """A fresh train's first bundle."""
    return str(define_train(api, **overrides)["bundle_ids"][0])


def accepted_request(api: Api, as_: str = "vp.sales", size: int = 5, **fields: Any) -> str:
    """Submitted by a VP and accepted by the release manager; `fields` go to either."""
    triage = {k: fields.pop(k) for k in ("class_of_service", "fixed_date") if k in fields}
    request_id = submit(api, as_=as_, **fields)
    accept(api, request_id, size_points=size, **triage)
    return request_id


def schedule(api: Api, bundle_id: str, request_id: str, reason: str | None = None) -> Any:
    body: dict[str, Any] = {"request_id": request_id}
    if reason is not None:
        body["reason"] = reason
    return api.post(f"/api/bundles/{bundle_id}/requests", "rm", json=body)


def scheduled(api: Api, bundle_id: str, request_id: str, reason: str | None = None) -> Any:
    response = schedule(api, bundle_id, request_id, reason)
    assert response.status_code == 200, response.text
    return response.json()


def progress(
    api: Api, bundle_id: str, request_id: str, stage: str, as_: str, note: str = ""
) -> Any:
    return api.post(
        f"/api/bundles/{bundle_id}/requests/{request_id}/progress",
        as_,
        json={"stage": stage, "note": note},
    )


def pass_qa(api: Api, bundle_id: str, request_id: str) -> None:
    for stage, person in (("ready_for_qa", "dev.alice"), ("qa_passed", "qa.quinn")):
        response = progress(api, bundle_id, request_id, stage, person)
        assert response.status_code == 200, response.text


def event_count(api: Api) -> int:
    return len(api.platform.log.entries(0, 100_000))
