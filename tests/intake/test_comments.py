"""Comments on a request through the API, on SQLite and PostgreSQL: the requesting
department and IT talk on the request, where everyone following it reads them."""

from __future__ import annotations

import pytest

from tests.builders import accept, submit
from tests.conftest import Api

PROBLEM = "application/problem+json"


def events(api: Api) -> int:
    return len(api.platform.log.entries(0, 100_000))


def comment(api: Api, request_id: str, who: str, text: str) -> int:
    return int(
        api.post(f"/api/requests/{request_id}/comments", who, json={"text": text}).status_code
    )


def test_the_department_and_it_comment_and_everyone_reads_the_conversation(api: Api) -> None:
    request_id = submit(api)
    accept(api, request_id)
    assert (
        comment(api, request_id, "vp.sales", "Could it go out before the March billing run?") == 200
    )
    assert (
        comment(api, request_id, "dev.alice", "Yes if REQ-1's wording is agreed by Friday.") == 200
    )
    assert comment(api, request_id, "rm", "Noted for the February bundle.") == 200
    assert comment(api, request_id, "cab.carl", "Mind the billing freeze.") == 200
    detail = api.get(f"/api/requests/{request_id}", "vp.care").json()  # any signed-in reader
    said = [
        (h["actor"], h["data"]["text"])
        for h in detail["history"]
        if h["type"] == "ChangeRequest.Commented"
    ]
    assert said == [
        ("vp.sales", "Could it go out before the March billing run?"),
        ("dev.alice", "Yes if REQ-1's wording is agreed by Friday."),
        ("rm", "Noted for the February bundle."),
        ("cab.carl", "Mind the billing freeze."),
    ]
    assert detail["history"][-1]["summary"] == "commented: Mind the billing freeze."
    assert detail["status"] == "accepted"  # talking moves nothing


def test_another_departments_vp_cannot_comment_and_nothing_is_written(api: Api) -> None:
    request_id = submit(api)
    before = events(api)
    refused = api.post(
        f"/api/requests/{request_id}/comments", "vp.care", json={"text": "Ours first"}
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["rule"] == "own_department_only"
    assert "only the Sales department may comment on this request" in refused.json()["detail"]
    assert events(api) == before


def test_a_metrics_reader_cannot_comment(api: Api) -> None:
    request_id = submit(api)
    before = events(api)
    refused = api.post(f"/api/requests/{request_id}/comments", "metrics.mo", json={"text": "hi"})
    assert refused.status_code == 403
    assert refused.json()["rule"] == "role_required"
    assert events(api) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 5_001}, "text"),
        ({}, "text"),
        ({"text": "ok", "actor": "rm"}, "actor"),
    ],
)
def test_an_empty_blank_overlong_or_padded_comment_body_is_422_and_stores_nothing(
    api: Api, body: dict[str, str], field: str
) -> None:
    request_id = submit(api)
    before = events(api)
    refused = api.post(f"/api/requests/{request_id}/comments", "vp.sales", json=body)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    assert field in refused.text
    assert events(api) == before


def test_a_comment_on_a_request_that_does_not_exist_is_404(api: Api) -> None:
    missing = api.post(
        "/api/requests/00000000-0000-4000-8000-000000000000/comments", "rm", json={"text": "hello"}
    )
    assert missing.status_code == 404
    assert missing.json()["rule"] == "change_request_not_found"


def test_a_retried_comment_with_the_same_idempotency_key_is_stored_once(api: Api) -> None:
    request_id = submit(api)
    path = f"/api/requests/{request_id}/comments"
    first = api.post(path, "vp.sales", json={"text": "Any news?"}, key="comment-1")
    before = events(api)
    again = api.post(path, "vp.sales", json={"text": "Any news?"}, key="comment-1")
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert events(api) == before
