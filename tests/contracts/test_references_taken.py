"""Records are named as people name them (REQ-12, CHG-7) wherever a query or body takes
the id of a request or change, not only in some places; an unknown one is named back."""

from __future__ import annotations

from tests.builders import accept, submit
from tests.conftest import Api


def reference_of(api: Api, request_id: str) -> str:
    return str(api.get(f"/api/requests/{request_id}", "vp.sales").json()["reference"])


def test_a_request_is_followed_by_its_reference(api: Api) -> None:
    request_id = submit(api)
    followed = api.post(
        "/api/me/notifications/follow", "vp.sales",
        json={"request_id": reference_of(api, request_id)},
    )  # fmt: skip
    assert followed.status_code == 200, followed.text
    assert api.get("/api/me/notifications", "vp.sales").status_code == 200
    unknown = api.post("/api/me/notifications/follow", "vp.sales", json={"request_id": "REQ-999"})
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "no change request REQ-999")
    gone = api.post(
        "/api/me/notifications/unfollow", "vp.sales",
        json={"request_id": reference_of(api, request_id)},
    )  # fmt: skip
    assert gone.status_code == 200, gone.text


def test_deployment_reports_are_listed_by_a_changes_reference(api: Api) -> None:
    unknown = api.get("/api/deployments", "rm", params={"change_id": "CHG-352"})
    assert (unknown.status_code, unknown.json()["detail"]) == (
        404, "no production change CHG-352"
    )  # fmt: skip
    garbled = api.get("/api/deployments", "rm", params={"change_id": "yesterday"})
    assert (garbled.status_code, garbled.json()["rule"]) == (422, "invalid_change_id")


def test_a_duplicate_is_marked_against_the_original_by_its_reference(api: Api) -> None:
    original, copy = submit(api, title="SMS alerts"), submit(api, title="SMS alerts again")
    accept(api, original)
    marked = api.post(
        f"/api/requests/{copy}/duplicate", "rm",
        json={"duplicate_of": reference_of(api, original), "note": "same"},
    )  # fmt: skip
    assert marked.status_code == 200, marked.text
    assert api.get(f"/api/requests/{copy}", "rm").json()["status"] == "duplicate"
