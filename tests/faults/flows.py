"""A release bundle taken to production through the live HTTP API, step by step, as its
people would: requests submitted and accepted, scheduled, the scope frozen, QA passed and
signed off, a release deployment change raised, approved and started. Completing the
change is left to the test, because that is what sets the reactions going (release marks
the bundle deployed; intake delivers its requests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from tests.builders import request_payload
from tests.change_control.builders import change_payload, window
from tests.processes import LiveApi
from tests.release.builders import train_payload


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json()


def eventually(attempt: Callable[[], httpx.Response], timeout_s: float = 30.0) -> Any:
    """Retry a command refused only because a view has not yet seen earlier facts (the
    worker folds them in the background): a 409 naming an unmet gate, until it passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = attempt()
        if response.status_code < 300 or time.monotonic() > deadline:
            return ok(response, response.status_code if response.status_code < 300 else 200)
        assert response.status_code == 409, response.text
        time.sleep(0.1)


def accepted_request(api: LiveApi, title: str, as_: str = "vp.sales") -> str:
    request_id = str(
        ok(api.post("/api/requests", as_, json=request_payload(title=title)), 201)["id"]
    )
    ok(
        api.post(
            f"/api/requests/{request_id}/accept",
            "rm",
            json={"owner": "dev.alice", "size_points": 3},
        )
    )
    return request_id


def plan_bundles(api: LiveApi, count: int = 3) -> list[str]:
    body = ok(api.post("/api/trains", "rm", json=train_payload(generate=count)), 201)
    return [str(b) for b in body["bundle_ids"]]


def schedule(api: LiveApi, bundle_id: str, request_id: str) -> None:
    path = f"/api/bundles/{bundle_id}/requests"
    eventually(lambda: api.post(path, "rm", json={"request_id": request_id}))


@dataclass
class Deployable:
    """A bundle whose release deployment change is approved and started."""

    bundle_id: str
    change_id: str
    request_ids: list[str]


def ready_to_deploy(api: LiveApi, bundle_id: str, titles: list[str]) -> Deployable:
    requests = [accepted_request(api, title) for title in titles]
    for request_id in requests:
        schedule(api, bundle_id, request_id)
    ok(api.post(f"/api/bundles/{bundle_id}/freeze", "rm", json={}))
    for request_id in requests:
        for stage, person in (("ready_for_qa", "dev.alice"), ("qa_passed", "qa.quinn")):
            path = f"/api/bundles/{bundle_id}/requests/{request_id}/progress"
            ok(api.post(path, person, json={"stage": stage, "note": ""}))
    ok(api.post(f"/api/bundles/{bundle_id}/sign-off", "qa.quinn", json={"note": "green"}))
    now = window(starts_in=timedelta(minutes=-5))
    payload = change_payload(
        change_type="release_deployment",
        bundle_id=bundle_id,
        implementers=["ops.olga"],
        window_start=now.start_iso,
        window_end=now.end_iso,
    )
    change_id = str(ok(api.post("/api/changes", "rm", json=payload), 201)["id"])
    eventually(lambda: api.post(f"/api/changes/{change_id}/approve", "cab.carl", json={}))
    ok(api.post(f"/api/changes/{change_id}/start", "ops.olga"))
    return Deployable(bundle_id, change_id, requests)


def complete(api: LiveApi, deployable: Deployable) -> None:
    path = f"/api/changes/{deployable.change_id}/complete"
    ok(api.post(path, "ops.olga", json={"outcome": "succeeded"}))
