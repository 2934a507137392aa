"""The intake HTTP contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.persistence import OperationalError

from services.intake.domain import ChangeRequest
from shared.domain import attributed_to
from tests.builders import accept, draft, request_payload, submit
from tests.conftest import Api

PROBLEM = "application/problem+json"


def event_count(api: Api) -> int:
    return len(api.platform.log.entries(0, 100_000))


def test_vp_submits_and_release_manager_triages(api: Api) -> None:
    """The front door end to end: submit, see it queued, accept it, see the owner."""
    request_id = submit(api)
    queue = api.get("/api/triage-queue", "rm").json()
    assert [r["id"] for r in queue] == [request_id]
    accept(api, request_id, owner="dev.alice", size_points=8)
    detail = api.get(f"/api/requests/{request_id}", "vp.sales").json()
    assert detail["status"] == "accepted"
    assert detail["owner"] == "dev.alice"
    assert detail["size_points"] == 8
    assert [h["type"] for h in detail["history"]] == [
        "ChangeRequest.Submitted",
        "ChangeRequest.Accepted",
    ]
    assert [h["actor"] for h in detail["history"]] == ["vp.sales", "rm"]
    assert api.get("/api/triage-queue", "rm").json() == []


def test_similar_open_request_is_suggested_as_a_duplicate(api: Api) -> None:
    first = submit(api, title="Bill shock alerts by SMS")
    response = api.post(
        "/api/requests", "vp.care", json=request_payload(title="SMS bill shock alerts")
    )
    assert response.status_code == 201
    suggestions = response.json()["possible_duplicates"]
    assert [s["id"] for s in suggestions] == [first]
    typed = api.get("/api/requests/similar", "vp.care", params={"title": "bill shock"}).json()
    assert first in [t["id"] for t in typed]


def test_the_request_being_edited_is_not_its_own_duplicate_and_leaves_five(api: Api) -> None:
    ids = [submit(api, title=f"Bill shock alerts by SMS {n}") for n in range(7)]
    params = {"title": "Bill shock alerts by SMS 0"}
    everyone = api.get("/api/requests/similar", "vp.care", params=params).json()
    assert [s["id"] for s in everyone][:1] == [ids[0]]
    assert len(everyone) == 5
    params["exclude"] = ids[0]
    others = api.get("/api/requests/similar", "vp.care", params=params).json()
    assert ids[0] not in [s["id"] for s in others]
    assert [s["id"] for s in others][:4] == [s["id"] for s in everyone][1:]
    assert len(others) == 5


def test_requester_submits_only_for_their_own_department(api: Api) -> None:
    response = api.post("/api/requests", "vp.sales", json=request_payload(department="Finance"))
    assert response.status_code == 403
    assert response.json()["rule"] == "own_department_only"


def test_it_staff_submit_for_a_named_department(api: Api) -> None:
    response = api.post(
        "/api/requests", "dev.alice", json=request_payload(department="IT", category="it_project")
    )
    assert response.status_code == 201
    detail = api.get(f"/api/requests/{response.json()['id']}", "rm").json()
    assert detail["department"] == "IT"


def test_missing_token_is_401_problem(api: Api) -> None:
    response = api.client.get("/api/requests")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == 'Bearer realm="railyard"'
    bad = api.client.get("/api/requests", headers={"Authorization": "Bearer ry_nope"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == 'Bearer realm="railyard", error="invalid_token"'


def test_wrong_role_is_403_problem_naming_the_rule(api: Api) -> None:
    request_id = submit(api)
    before = event_count(api)
    response = api.post(
        f"/api/requests/{request_id}/accept",
        "vp.sales",
        json={"owner": "dev.alice", "size_points": 3},
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["rule"] == "role_required"
    assert event_count(api) == before


def test_illegal_transition_is_409_naming_the_rule_and_writes_nothing(api: Api) -> None:
    request_id = submit(api)
    accept(api, request_id)
    before = event_count(api)
    twice = api.post(f"/api/requests/{request_id}/reject", "rm", json={"reason": "no"})
    assert twice.status_code == 409
    assert twice.json()["rule"] == "already_triaged"
    edit = api.put(f"/api/requests/{request_id}", "vp.sales", json=request_payload(title="changed"))
    assert edit.status_code == 409
    assert edit.json()["rule"] == "edit_after_triage"
    assert event_count(api) == before


def test_other_department_cannot_rank_or_withdraw(api: Api) -> None:
    request_id = submit(api)
    accept(api, request_id)
    rank = api.put("/api/departments/Sales/ranking", "vp.care", json={"order": [request_id]})
    assert rank.status_code == 403
    assert rank.json()["rule"] == "own_department_only"
    withdraw = api.post(
        f"/api/requests/{request_id}/withdraw", "vp.care", json={"reason": "not ours"}
    )
    assert withdraw.status_code == 403


def test_department_ranking_is_recorded_and_visible_to_everyone(api: Api) -> None:
    first, second, third = (submit(api, title=f"Request {n}") for n in range(3))
    for request_id in (first, second, third):
        accept(api, request_id)
    response = api.put("/api/departments/Sales/ranking", "vp.sales", json={"order": [third, first]})
    assert response.status_code == 200, response.text
    ranking = api.get("/api/departments/Sales/ranking", "dev.alice").json()
    # Explicitly ranked first, then the rest in order of acceptance.
    assert ranking["request_ids"] == [third, first, second]
    assert ranking["updated_by"] == "vp.sales"


def test_withdraw_delivered_request_is_409(api: Api) -> None:
    request_id = submit(api)
    accept(api, request_id)
    from services.intake.application import Intake
    from services.intake.views import IntakeViews
    from shared.application import acting_as

    intake = Intake(api.platform.log, IntakeViews(api.platform.log), api.platform.directory)
    with acting_as("railyard"):
        intake.deliver(uuid.UUID(request_id), bundle_id=None, change_id=None)
    response = api.post(
        f"/api/requests/{request_id}/withdraw", "vp.sales", json={"reason": "too late"}
    )
    assert response.status_code == 409
    assert response.json()["rule"] == "withdraw_after_delivery"


def test_ask_for_information_and_answer_returns_to_queue_with_both(api: Api) -> None:
    request_id = submit(api)
    asked = api.post(f"/api/requests/{request_id}/ask", "rm", json={"question": "Which SMS?"})
    assert asked.json()["status"] == "info_requested"
    assert api.get("/api/triage-queue", "rm").json() == []
    answered = api.post(
        f"/api/requests/{request_id}/information", "vp.sales", json={"answer": "Postpaid only"}
    )
    assert answered.json()["status"] == "submitted"
    [back] = api.get("/api/triage-queue", "rm").json()
    assert (back["id"], back["question"], back["answer"]) == (
        request_id,
        "Which SMS?",
        "Postpaid only",
    )


def test_mark_duplicate_and_defer_and_reject(api: Api) -> None:
    original, copy, later, nope = (submit(api, title=f"R{n}") for n in range(4))
    dup = api.post(
        f"/api/requests/{copy}/duplicate", "rm", json={"duplicate_of": original, "note": "same"}
    )
    assert dup.json()["status"] == "duplicate"
    deferred = api.post(
        f"/api/requests/{later}/defer",
        "rm",
        json={"reason": "after migration", "until": "2027-06-01"},
    )
    assert deferred.json()["status"] == "deferred"
    rejected = api.post(f"/api/requests/{nope}/reject", "rm", json={"reason": "out of scope"})
    assert rejected.json()["status"] == "rejected"
    counts = api.get("/api/requests/counts", "rm").json()
    assert (counts["submitted"], counts["duplicate"]) == (1, 1)
    assert (counts["deferred"], counts["rejected"]) == (1, 1)


def test_a_deferred_request_returns_to_the_triage_queue_when_its_date_comes(api: Api) -> None:
    """Deferred until a date, a request is back in the queue on that date, oldest first,
    saying so; without a date, or before it, it stays out. Deferred again, it leaves."""
    first, due, later, undated = (submit(api, title=f"Deferred {n}") for n in range(4))
    today = datetime.now(UTC).date()
    for request_id, until in (
        (first, None),
        (due, today.isoformat()),
        (later, (today + timedelta(days=30)).isoformat()),
        (undated, None),
    ):
        body = {"reason": "after the migration", "until": until}
        deferred = api.post(f"/api/requests/{request_id}/defer", "rm", json=body)
        assert deferred.status_code == 200, deferred.text
    # Deferred again, now until today, the first is due too: the queue keeps arrival order.
    api.post(f"/api/requests/{first}/defer", "rm", json={"reason": "now", "until": str(today)})
    queue = api.get("/api/triage-queue", "rm").json()
    assert [(r["id"], r["deferred_until"]) for r in queue] == [
        (first, today.isoformat()),
        (due, today.isoformat()),
    ]
    pushed = (today + timedelta(days=7)).isoformat()
    again = api.post(
        f"/api/requests/{due}/defer", "rm", json={"reason": "slipped", "until": pushed}
    )
    assert again.status_code == 200, again.text
    assert [r["id"] for r in api.get("/api/triage-queue", "rm").json()] == [first]
    # Before its date comes, a deferred request says when it comes back, wherever it shows.
    assert api.get(f"/api/requests/{due}", "rm").json()["deferred_until"] == pushed
    listed = api.get("/api/requests", "rm", params={"status": "deferred"}).json()["items"]
    assert {r["id"]: r["deferred_until"] for r in listed} == {
        first: today.isoformat(), due: pushed, later: (today + timedelta(days=30)).isoformat(),
        undated: None,
    }  # fmt: skip
    accepted = api.post(
        f"/api/requests/{first}/accept", "rm", json={"owner": "dev.alice", "size_points": 3}
    )
    assert accepted.json()["status"] == "accepted"
    assert api.get("/api/triage-queue", "rm").json() == []


def test_list_filters_by_status_department_category_subsystem_owner_and_text(api: Api) -> None:
    a = submit(api, title="Tariff engine", subsystems=["Billing"])
    b = submit(
        api,
        as_="vp.care",
        title="Agent desktop search",
        subsystems=["CRM"],
        category="change_maintenance",
    )
    accept(api, a, owner="dev.alice")

    def ids(**params: str) -> list[str]:
        body = api.get("/api/requests", "rm", params=params).json()
        return sorted(item["id"] for item in body["items"])

    assert ids(status="accepted") == [a]
    assert ids(department="customer care") == [b]
    assert ids(category="change_maintenance") == [b]
    assert ids(subsystem="billing") == [a]
    assert ids(owner="dev.alice") == [a]
    assert ids(q="DESKTOP") == [b]
    assert ids(q="100%_") == []


def test_words_are_found_in_any_case_beyond_ascii(api: Api) -> None:
    """SQLite's LOWER() folded ASCII letters only: "ünïcode" did not find "Ünïcode"."""
    found = submit(api, title="Ünïcode TËST für Straße")
    for words in ("ünïcode", "TËST", "FÜR", "straße"):
        items = api.get("/api/requests", "rm", params={"q": words}).json()["items"]
        assert [i["id"] for i in items] == [found], words


def test_unknown_id_is_404_problem(api: Api) -> None:
    missing = uuid.uuid4()
    response = api.get(f"/api/requests/{missing}", "rm")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    post = api.post(f"/api/requests/{missing}/reject", "rm", json={"reason": "x"})
    assert post.status_code == 404
    assert post.json()["rule"] == "change_request_not_found"
    bad = api.get("/api/requests/not-a-uuid", "rm")  # names no request
    assert bad.status_code == 404


def test_owner_must_be_it_staff(api: Api) -> None:
    request_id = submit(api)
    response = api.post(
        f"/api/requests/{request_id}/accept", "rm", json={"owner": "vp.care", "size_points": 3}
    )
    assert response.status_code == 422
    assert response.json()["rule"] == "owner_not_it_staff"


def test_retry_with_same_idempotency_key_returns_original_and_writes_nothing(api: Api) -> None:
    first = api.post("/api/requests", "vp.sales", json=request_payload(), key="submit-1")
    before = event_count(api)
    again = api.post("/api/requests", "vp.sales", json=request_payload(), key="submit-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert event_count(api) == before


def test_a_submission_whose_acknowledgement_was_lost_is_answered_once_and_stored_once(
    api: Api,
) -> None:
    """The database commits, the acknowledgement is lost and the driver retries the insert:
    the client still gets its 201, and a retry with its key gets the same answer."""
    recorder: Any = api.platform.log.recorder
    real_insert = recorder.insert_events

    def commit_then_retry(stored: Any, **kwargs: Any) -> Any:
        real_insert(stored, **kwargs)
        return real_insert(stored, **kwargs)  # what a retry after a lost ack does

    recorder.insert_events = commit_then_retry
    try:
        first = api.post("/api/requests", "vp.sales", json=request_payload(), key="lost-ack")
    finally:
        recorder.insert_events = real_insert
    assert first.status_code == 201, first.text
    before = event_count(api)
    again = api.post("/api/requests", "vp.sales", json=request_payload(), key="lost-ack")
    assert (again.status_code, again.json()) == (201, first.json())
    assert event_count(api) == before
    assert len(api.get("/api/requests", "rm").json()["items"]) == 1


def test_a_retry_after_the_connection_dropped_past_the_commit_returns_the_first_answer(
    api: Api,
) -> None:
    """The connection drops after the commit and the client sees a 503: its retry with the
    same Idempotency-Key answers as the stored write did and writes nothing new."""
    recorder: Any = api.platform.log.recorder
    real_insert = recorder.insert_events

    def commit_then_drop(stored: Any, **kwargs: Any) -> Any:
        real_insert(stored, **kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    recorder.insert_events = commit_then_drop
    try:
        dropped = api.post("/api/requests", "vp.sales", json=request_payload(), key="dropped")
    finally:
        recorder.insert_events = real_insert
    assert dropped.status_code == 503
    assert dropped.json()["rule"] == "store_unavailable"
    before = event_count(api)
    retry = api.post("/api/requests", "vp.sales", json=request_payload(), key="dropped")
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert event_count(api) == before
    stored = api.get("/api/requests", "rm").json()["items"]
    assert [r["id"] for r in stored] == [retry.json()["id"]]


def test_a_writer_that_keeps_losing_the_race_gets_409_with_the_current_version(
    api: Api,
) -> None:
    """Each time the release manager's question is about to be saved, the VP's edit of the
    same request lands first: after the retries run out the answer is 409 naming the
    request's current version, and the question is not written."""
    request_id = submit(api)
    log = api.platform.log
    real_save = log.save
    competing = {"edits": 0}

    def vp_edits_first(*aggregates: Any, **kwargs: Any) -> None:
        edited = log.get(uuid.UUID(request_id), ChangeRequest)
        with attributed_to("vp.sales"):
            edited.edit(
                **_draft_fields(f"Edit {competing['edits']}"),
                department="Sales",
                catalogue=log.settings.subsystems,
            )
        real_save(edited)
        competing["edits"] += 1
        real_save(*aggregates, **kwargs)

    log.save = vp_edits_first  # type: ignore[method-assign]  # a writer that always wins
    try:
        lost = api.post(f"/api/requests/{request_id}/ask", "rm", json={"question": "Which SMS?"})
    finally:
        log.save = real_save  # type: ignore[method-assign]  # restore the real save
    assert lost.status_code == 409, lost.text
    assert lost.headers["content-type"] == PROBLEM
    assert lost.json()["rule"] == "concurrent_modification"
    detail = api.get(f"/api/requests/{request_id}", "rm").json()
    assert lost.json()["current_version"] == detail["version"] == 1 + competing["edits"]
    assert detail["status"] == "submitted"
    assert "ChangeRequest.InformationRequested" not in [h["type"] for h in detail["history"]]


def _draft_fields(title: str) -> dict[str, Any]:
    d = draft(title=title)
    return {
        "title": d.title,
        "description": d.description,
        "justification": d.justification,
        "sponsor": d.sponsor,
        "category": d.category,
        "subsystems": d.subsystems,
        "size_estimate": d.size_estimate,
        "desired_date": d.desired_date,
    }


def test_a_retry_with_the_same_values_spelled_differently_is_the_same_request(api: Api) -> None:
    """Idempotency compares the JSON's values, not its bytes: a retry whose client spaced or
    ordered the keys differently is answered with the first answer and writes nothing."""
    payload = request_payload(title="Spelled twice")
    first = api.post("/api/requests", "vp.sales", json=payload, key="submit-3")
    before = event_count(api)
    respelled = json.dumps(dict(reversed(payload.items())), indent=2).encode()
    headers = {**api.people.headers("vp.sales"), "Idempotency-Key": "submit-3",
               "Content-Type": "application/json"}  # fmt: skip
    again = api.client.post("/api/requests", content=respelled, headers=headers)
    assert again.status_code == first.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert event_count(api) == before


def test_same_idempotency_key_with_a_different_body_is_422(api: Api) -> None:
    api.post("/api/requests", "vp.sales", json=request_payload(), key="submit-2")
    before = event_count(api)
    other = api.post(
        "/api/requests", "vp.sales", json=request_payload(title="Else"), key="submit-2"
    )
    assert other.status_code == 422
    assert other.json()["rule"] == "idempotency_key_reused"
    assert event_count(api) == before


def test_idempotency_keys_belong_to_their_user(api: Api) -> None:
    api.post("/api/requests", "vp.sales", json=request_payload(), key="shared-key")
    theirs = api.post("/api/requests", "vp.care", json=request_payload(), key="shared-key")
    assert theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers


def test_unknown_fields_are_refused_no_mass_assignment(api: Api) -> None:
    before = event_count(api)
    response = api.post(
        "/api/requests", "vp.sales", json=request_payload(status="accepted", owner="dev.alice")
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"status", "owner"}
    assert event_count(api) == before


def test_wrong_types_are_422_with_field_names(api: Api) -> None:
    response = api.post(
        "/api/requests", "vp.sales", json=request_payload(subsystems="Billing", desired_date="soon")
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} >= {"subsystems", "desired_date"}


def test_oversized_body_is_413_problem(api: Api) -> None:
    before = event_count(api)
    huge = request_payload(description="x" * (api.platform.settings.max_body_bytes + 10))
    response = api.post("/api/requests", "vp.sales", json=huge)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert event_count(api) == before


def test_invalid_utf8_body_is_a_4xx_problem(api: Api) -> None:
    response = api.client.post(
        "/api/requests",
        content=b'{"title": "\xff\xfe"}',
        headers={**api.people.headers("vp.sales"), "content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == PROBLEM


def test_malformed_json_is_422_problem(api: Api) -> None:
    response = api.client.post(
        "/api/requests",
        content=b'{"title": ',
        headers={**api.people.headers("vp.sales"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


def test_a_date_already_past_is_refused_when_submitting_or_deferring(api: Api) -> None:
    """A desired date or a deferral's date before today (a typo of the year, a date picker
    left on a past month) is 422 naming the field, and nothing is written."""
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    before = event_count(api)
    late = api.post("/api/requests", "vp.sales", json=request_payload(desired_date=yesterday))
    assert late.status_code == 422
    assert (late.json()["rule"], late.json()["field"]) == ("desired_date_in_past", "desired_date")
    request_id = submit(api)
    back = api.post(
        f"/api/requests/{request_id}/defer", "rm", json={"reason": "later", "until": yesterday}
    )
    assert (back.status_code, back.json()["rule"]) == (422, "until_in_past")
    assert event_count(api) == before + 1


def test_a_date_years_away_is_refused_as_a_slip_of_the_year(api: Api) -> None:
    """9999-12-31 is not a plan: a desired or deferral date more than five years ahead is
    422 naming the field and the last date accepted; five years ahead still is one."""
    today = datetime.now(UTC).date()
    before = event_count(api)
    far = api.post("/api/requests", "vp.sales", json=request_payload(desired_date="9999-12-31"))
    assert far.status_code == 422
    assert (far.json()["rule"], far.json()["field"]) == ("desired_date_too_far", "desired_date")
    assert "check the year" in far.json()["detail"]
    assert event_count(api) == before
    near = (today + timedelta(days=5 * 365)).isoformat()
    request_id = submit(api, desired_date=near)
    back = api.post(
        f"/api/requests/{request_id}/defer", "rm", json={"reason": "later", "until": "2999-01-01"}
    )
    assert (back.status_code, back.json()["rule"]) == (422, "until_too_far")
    assert api.get(f"/api/requests/{request_id}", "rm").json()["status"] == "submitted"


def test_a_body_that_is_not_json_is_refused_saying_what_to_send(api: Api) -> None:
    """Not JSON, not sent as JSON (415), or no body at all: each says what to send."""
    headers = api.people.headers("vp.sales")
    as_text = api.client.post(
        "/api/requests", content=b"title=x", headers={**headers, "Content-Type": "text/plain"}
    )
    assert as_text.status_code == 415  # sent as another type: RFC 9110's status for it
    assert "Content-Type: application/json" in as_text.json()["detail"]
    broken = api.client.post(
        "/api/requests",
        content=b"not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert broken.json()["detail"] == (
        "the body is not valid JSON (at character 0): send a JSON object"
    )
    cut = api.client.post(
        "/api/requests",
        content=b'{"title": "x",',
        headers={**headers, "Content-Type": "application/json"},
    )
    # Where it broke off, not a "field" named 14 under a detail saying to see the errors.
    assert (
        cut.json()["detail"] == "the body is not valid JSON (at character 14): send a JSON object"
    )
    request_id = submit(api)
    empty = api.client.post(f"/api/requests/{request_id}/withdraw", headers=headers)
    assert empty.status_code == 422
    assert "needs a JSON body" in empty.json()["detail"]


def test_an_address_with_no_route_says_what_to_check(api: Api) -> None:
    nope = api.get("/api/requests/nope", "vp.sales")
    assert nope.status_code == 404
    assert nope.json()["detail"] == (
        "there is nothing at /api/requests/nope: check the address (an id in it is a UUID,"
        " as the API returns them)"
    )


def test_a_fixed_date_and_its_class_of_service_go_together(api: Api) -> None:
    """Accepting as fixed-date without the date, or with a date under another class, is a
    422 saying which of the two to fix; nothing is written."""
    request_id = submit(api)
    path = f"/api/requests/{request_id}/accept"
    base = {"owner": "dev.alice", "size_points": 3}
    before = event_count(api)
    no_date = api.post(path, "rm", json={**base, "class_of_service": "fixed_date"})
    assert (no_date.status_code, no_date.json()["rule"]) == (422, "fixed_date_mismatch")
    assert "give the fixed date" in no_date.json()["detail"]
    stray = api.post(path, "rm", json={**base, "class_of_service": "standard",
                                       "fixed_date": "2027-06-30"})  # fmt: skip
    assert "choose it, or clear the date" in stray.json()["detail"]
    assert event_count(api) == before


def test_a_requests_history_reads_in_words_not_codes(api: Api) -> None:
    request_id = submit(api, category="it_project", size_estimate="L")
    accept(api, request_id, size_points=8, class_of_service="fixed_date", fixed_date="2027-02-01")
    lines = [h["summary"] for h in api.get(f"/api/requests/{request_id}", "rm").json()["history"]]
    assert lines == [
        "submitted for Sales (IT project, size L)",
        "accepted: owner dev.alice, 8 points, fixed date by 2027-02-01",
    ]


def test_an_edit_made_to_a_version_read_before_another_edit_is_refused_not_lost(
    api: Api,
) -> None:
    """Two people read the request, both change it: with If-Match (the ETag read) the
    second is told it changed meanwhile (412) instead of silently undoing the first."""
    request_id = submit(api)
    read = api.get(f"/api/requests/{request_id}", "vp.sales")
    tag = read.headers["etag"]
    assert tag == f'"{read.json()["version"]}"'
    first = api.put(
        f"/api/requests/{request_id}", "vp.sales",
        json=request_payload(title="SMS alerts for bill shock"), headers={"If-Match": tag},
    )  # fmt: skip
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == f'"{first.json()["version"]}"'
    second = api.put(
        f"/api/requests/{request_id}", "vp.sales",
        json=request_payload(description="Only prepaid."), headers={"If-Match": tag},
    )  # fmt: skip
    assert second.status_code == 412
    assert second.json()["rule"] == "stale_version"
    assert second.json()["current_version"] == first.json()["version"]
    assert api.get(f"/api/requests/{request_id}", "rm").json()["title"] == (
        "SMS alerts for bill shock"
    )
    bad = api.put(
        f"/api/requests/{request_id}", "vp.sales",
        json=request_payload(), headers={"If-Match": "yesterday"},
    )  # fmt: skip
    assert (bad.status_code, bad.json()["rule"]) == (422, "invalid_if_match")
    unconditional = api.put(f"/api/requests/{request_id}", "vp.sales", json=request_payload())
    assert unconditional.status_code == 200  # without If-Match: the latest version


def test_a_rating_sent_with_an_if_match_read_before_another_rating_is_refused_not_lost(
    api: Api,
) -> None:
    """Two clients read a delivered request and rate it with If-Match (the ETag read): the
    second is told it changed meanwhile (412) instead of replacing the first rating and
    its comment; without If-Match a rating replaces the latest, as before."""
    from services.intake.application import Intake
    from services.intake.views import IntakeViews
    from shared.application import acting_as

    request_id = submit(api)
    accept(api, request_id)
    intake = Intake(api.platform.log, IntakeViews(api.platform.log), api.platform.directory)
    with acting_as("railyard"):
        intake.deliver(uuid.UUID(request_id), bundle_id=None, change_id=None)
    tag = api.get(f"/api/requests/{request_id}", "vp.sales").headers["etag"]
    conditional = {**api.people.headers("vp.sales"), "If-Match": tag}
    first = api.client.post(
        f"/api/requests/{request_id}/rating",
        json={"score": 2, "comment": "Too slow"},
        headers=conditional,
    )
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == f'"{first.json()["version"]}"'
    second = api.client.post(
        f"/api/requests/{request_id}/rating", json={"score": 5}, headers=conditional
    )
    assert (second.status_code, second.json()["rule"]) == (412, "stale_version")
    kept = api.get(f"/api/requests/{request_id}", "rm").json()
    assert (kept["rating"], kept["rating_comment"]) == (2, "Too slow")
    again = api.post(f"/api/requests/{request_id}/rating", "vp.sales", json={"score": 4})
    assert again.status_code == 200, again.text
    assert api.get(f"/api/requests/{request_id}", "rm").json()["rating"] == 4
