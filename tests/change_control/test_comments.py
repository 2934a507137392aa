"""IT's conversation on a production change, on SQLite and PostgreSQL: the implementers,
the release manager and the CAB talk on the change; a comment moves nothing."""

from __future__ import annotations

import pytest

from tests.change_control.builders import approve, raise_change
from tests.conftest import Api

PROBLEM = "application/problem+json"


def events(api: Api) -> int:
    return len(api.platform.log.entries(0, 100_000))


def comment(api: Api, change_id: str, who: str, text: str) -> int:
    answer = api.post(f"/api/changes/{change_id}/comments", who, json={"text": text})
    return int(answer.status_code)


def test_the_cab_and_the_implementers_talk_on_a_change_which_stays_where_it_was(
    api: Api,
) -> None:
    change_id = raise_change(api)
    assert comment(api, change_id, "cab.carl", "How long does the restore take?") == 200
    assert comment(api, change_id, "dev.alice", "Twelve minutes, timed on Monday.") == 200
    assert comment(api, change_id, "rm", "Fine by release: CHG-1 is alone that night.") == 200
    detail = api.get(f"/api/changes/{change_id}", "vp.sales").json()  # anyone reads it
    said = [
        (h["actor"], h["data"]["text"])
        for h in detail["history"]
        if h["type"] == "ProductionChange.Commented"
    ]
    assert said == [
        ("cab.carl", "How long does the restore take?"),
        ("dev.alice", "Twelve minutes, timed on Monday."),
        ("rm", "Fine by release: CHG-1 is alone that night."),
    ]
    assert (
        detail["history"][-1]["summary"] == "commented: Fine by release: CHG-1 is alone that night."
    )
    assert (detail["status"], detail["revision"], detail["approvals"]) == ("in_review", 1, [])
    approve(api, change_id, "cab.carl")  # the CAB's approval of revision 1 still holds
    assert api.get(f"/api/changes/{change_id}", "rm").json()["status"] == "approved"


def test_a_closed_change_can_still_be_commented_on(api: Api) -> None:
    change_id = raise_change(api)
    assert (
        api.post(
            f"/api/changes/{change_id}/withdraw", "dev.alice", json={"reason": "moved"}
        ).status_code
        == 200
    )
    assert comment(api, change_id, "cab.carl", "Raise it again once the vendor answers.") == 200


@pytest.mark.parametrize("who", ["vp.sales", "metrics.mo", "pipeline"])
def test_outside_it_a_comment_on_a_change_is_403_and_writes_nothing(api: Api, who: str) -> None:
    change_id = raise_change(api)
    before = events(api)
    refused = api.post(f"/api/changes/{change_id}/comments", who, json={"text": "Why?"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["rule"] == "role_required"
    assert events(api) == before


@pytest.mark.parametrize("body", [{"text": ""}, {"text": " \n "}, {"text": "x" * 5_001}, {}])
def test_an_empty_blank_or_overlong_comment_on_a_change_is_422(
    api: Api, body: dict[str, str]
) -> None:
    change_id = raise_change(api)
    before = events(api)
    refused = api.post(f"/api/changes/{change_id}/comments", "cab.carl", json=body)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    assert events(api) == before


def test_a_comment_on_a_change_that_does_not_exist_is_404(api: Api) -> None:
    missing = api.post(
        "/api/changes/00000000-0000-4000-8000-000000000000/comments", "rm", json={"text": "hi"}
    )
    assert missing.status_code == 404
