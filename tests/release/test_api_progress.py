"""Work progress inside a bundle and QA sign-off over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.conftest import Api
from tests.release.builders import (
    accepted_request,
    event_count,
    first_bundle,
    pass_qa,
    progress,
    scheduled,
)


def bundle_with_items(api: Api, count: int = 2) -> tuple[str, list[str]]:
    bundle = first_bundle(api)
    ids = [accepted_request(api, title=f"Item {n}") for n in range(count)]
    for request_id in ids:
        scheduled(api, bundle, request_id)
    return bundle, ids


def test_it_staff_record_progress_and_everyone_sees_it(api: Api) -> None:
    bundle, (item, _) = bundle_with_items(api)
    response = progress(api, bundle, item, "in_development", "dev.alice", "branch opened")
    assert response.status_code == 200, response.text
    assert progress(api, bundle, item, "ready_for_qa", "ops.olga").status_code == 200
    assert progress(api, bundle, item, "qa_failed", "qa.quinn", "totals off").status_code == 200
    detail = api.get(f"/api/bundles/{bundle}", "vp.sales").json()
    row = next(i for i in detail["items"] if i["request_id"] == item)
    assert (row["stage"], row["stage_by"], row["stage_note"]) == (
        "qa_failed",
        "qa.quinn",
        "totals off",
    )
    assert detail["status"] == "planning"


def test_qa_failing_an_item_says_what_failed(api: Api) -> None:
    """A failure without a word left the developer to guess (the developer now hears of
    it, note and all)."""
    bundle, (item, _) = bundle_with_items(api)
    assert progress(api, bundle, item, "ready_for_qa", "dev.alice").status_code == 200
    before = event_count(api)
    silent = progress(api, bundle, item, "qa_failed", "qa.quinn", "  ")
    assert (silent.status_code, silent.json()["rule"]) == (422, "note_required")
    assert event_count(api) == before


def test_only_it_staff_record_progress_and_only_qa_gives_verdicts(api: Api) -> None:
    bundle, (item, _) = bundle_with_items(api)
    before = event_count(api)
    for person in ("vp.sales", "rm", "cab.carl"):
        response = progress(api, bundle, item, "in_development", person)
        assert response.status_code == 403, person
        assert response.json()["rule"] == "role_required"
    assert progress(api, bundle, item, "ready_for_qa", "dev.alice").status_code == 200
    verdict = progress(api, bundle, item, "qa_passed", "dev.alice")
    assert verdict.status_code == 403
    assert verdict.json()["rule"] == "qa_team_only"
    assert event_count(api) == before + 1


def test_a_qa_tester_cannot_pass_their_own_work(api: Api) -> None:
    """A developer cannot pass their own work, even one who is in QA: 403 own_work."""
    bundle, (item, _) = bundle_with_items(api)
    assert progress(api, bundle, item, "in_development", "qa.quinn").status_code == 200
    assert progress(api, bundle, item, "ready_for_qa", "qa.quinn").status_code == 200
    before = event_count(api)
    own = progress(api, bundle, item, "qa_passed", "qa.quinn")
    assert own.status_code == 403
    assert own.json()["rule"] == "own_work"
    assert event_count(api) == before


def test_a_stage_out_of_order_is_409_and_writes_nothing(api: Api) -> None:
    bundle, (item, _) = bundle_with_items(api)
    before = event_count(api)
    response = progress(api, bundle, item, "qa_passed", "qa.quinn")
    assert response.status_code == 409
    assert response.json()["rule"] == "stage_not_allowed"
    assert response.json()["stage"] == "scheduled"
    assert event_count(api) == before
    unknown = progress(
        api, bundle, "00000000-0000-0000-0000-000000000000", "ready_for_qa", "dev.alice"
    )
    assert unknown.json()["rule"] == "not_in_bundle"


def test_signing_off_with_an_item_not_passed_is_409_and_writes_nothing(api: Api) -> None:
    bundle, (passed, waiting) = bundle_with_items(api)
    api.post(f"/api/bundles/{bundle}/freeze", "rm", json={})
    pass_qa(api, bundle, passed)
    before = event_count(api)
    response = api.post(f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={})
    assert response.status_code == 409
    assert response.json()["rule"] == "items_not_passed"
    assert response.json()["request_ids"] == [waiting]
    assert response.json()["detail"] == "1 item has not passed QA"
    assert event_count(api) == before


def test_sign_off_is_for_the_qa_team(api: Api) -> None:
    bundle, items = bundle_with_items(api, 1)
    api.post(f"/api/bundles/{bundle}/freeze", "rm", json={})
    pass_qa(api, bundle, items[0])
    assert api.post(f"/api/bundles/{bundle}/sign-off", "rm", json={}).status_code == 403
    developer = api.post(f"/api/bundles/{bundle}/sign-off", "dev.alice", json={})
    assert developer.status_code == 403
    assert developer.json()["rule"] == "qa_team_only"
    signed = api.post(f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={"note": "all green"})
    assert signed.json()["status"] == "qa_signed_off"
    detail = api.get(f"/api/bundles/{bundle}", "rm").json()
    assert detail["signed_off_by"] == "qa.quinn"
    history = api.get(f"/api/bundles/{bundle}/history", "rm").json()
    assert history[-1]["summary"] == "QA signed off 1 item: all green"


def test_a_failed_item_is_pulled_with_a_reason_and_the_rest_signed_off(api: Api) -> None:
    bundle, (good, bad) = bundle_with_items(api)
    api.post(f"/api/bundles/{bundle}/freeze", "rm", json={})
    pass_qa(api, bundle, good)
    progress(api, bundle, bad, "ready_for_qa", "dev.alice")
    early = api.post(f"/api/bundles/{bundle}/requests/{good}/pull", "rm", json={"reason": "x"})
    assert early.json()["rule"] == "item_not_failed"
    progress(api, bundle, bad, "qa_failed", "qa.quinn", "crashes on empty cart")
    pulled = api.post(
        f"/api/bundles/{bundle}/requests/{bad}/pull", "rm", json={"reason": "crashes; next month"}
    )
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["after_freeze"] is True
    assert api.post(f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={}).status_code == 200
    churn = api.get(f"/api/bundles/{bundle}/churn", "rm").json()
    assert churn["changes"][0]["pulled"] is True
    # Pulled work is free for a later bundle again.
    plan = {e["request_id"]: e for e in api.get("/api/plan", "vp.sales").json()}
    assert plan[bad]["plan"] == "not yet scheduled"
    assert plan[good]["bundle_id"] == bundle
    # Named as every request is named (the plan's entries had no reference).
    shown = api.get(f"/api/requests/{good}", "rm").json()
    assert (plan[good]["number"], plan[good]["reference"]) == (shown["number"], shown["reference"])


def test_after_sign_off_the_scope_is_locked(api: Api) -> None:
    bundle, items = bundle_with_items(api, 1)
    api.post(f"/api/bundles/{bundle}/freeze", "rm", json={})
    pass_qa(api, bundle, items[0])
    api.post(f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={})
    before = event_count(api)
    late = api.post(
        f"/api/bundles/{bundle}/requests",
        "rm",
        json={"request_id": accepted_request(api), "reason": "urgent"},
    )
    assert late.status_code == 409
    assert late.json()["rule"] == "scope_locked"
    assert event_count(api) == before + 2  # the new request's submission and acceptance
