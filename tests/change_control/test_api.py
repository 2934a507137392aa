"""The change control HTTP contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.change_control.application.deployments import DeploymentReports
from services.change_control.views import ChangeControlViews, DeploymentFilter
from shared.application import acting_as
from tests.change_control.builders import (
    HIGH,
    MEDIUM,
    ForeignBundle,
    approve,
    change_payload,
    raise_change,
    revision_payload,
    window,
)
from tests.conftest import Api
from tests.logs import captured_logs

PROBLEM = "application/problem+json"


def event_count(api: Api) -> int:
    return len(api.platform.log.entries(0, 100_000))


def test_it_staff_raise_a_change_and_the_cab_approves_it(api: Api) -> None:
    """Raise, see it in the CAB queue with its gates, approve it, see who approved."""
    change_id = raise_change(api, risk=MEDIUM)
    queue = api.get("/api/cab-queue", "cab.carl").json()
    assert [c["id"] for c in queue] == [change_id]
    assert queue[0]["risk"] == "medium"
    assert queue[0]["approvals_needed"] == 2
    assert queue[0]["gates_met"] is True
    first = api.post(f"/api/changes/{change_id}/approve", "cab.carl", json={"revision": 1})
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["approvals"]) == ("in_review", ["cab.carl"])
    assert api.get("/api/cab-queue", "cab.carl").json() == []
    second = approve(api, change_id, "cab.dora").json()
    assert (second["status"], second["approved"]) == ("approved", True)
    detail = api.get(f"/api/changes/{change_id}", "vp.sales").json()
    assert detail["approvers"] == ["cab.carl", "cab.dora"]
    assert [h["type"] for h in detail["history"]] == [
        "ProductionChange.Raised",
        "ProductionChange.ApprovalRecorded",
        "ProductionChange.ApprovalRecorded",
        "ProductionChange.Approved",
    ]
    assert [h["actor"] for h in detail["history"]] == [
        "dev.alice",
        "cab.carl",
        "cab.dora",
        "cab.dora",
    ]


def test_an_implementer_booked_on_another_change_in_the_window_is_shown_to_the_cab(
    api: Api,
) -> None:
    """Alice is to implement two changes whose windows overlap: the second's gates warn
    the CAB, naming the first, without refusing the approval. Ops' change in the same
    hours, a change of Alice's the next day, and one she has withdrawn clash with
    nothing."""
    first = raise_change(api, title="Patch the billing database")
    later = window(starts_in=timedelta(hours=1))
    second = raise_change(api, title="Rotate the CRM certificates",
                          window_start=later.start_iso, window_end=later.end_iso)  # fmt: skip
    tomorrow = window(starts_in=timedelta(days=1))
    elsewhere = raise_change(api, "ops.olga", implementers=["ops.olga"], title="Swap a disk")
    next_day = raise_change(api, title="Tomorrow's patch", window_start=tomorrow.start_iso,
                            window_end=tomorrow.end_iso)  # fmt: skip

    def booked(change_id: str) -> dict[str, Any]:
        gates: list[dict[str, Any]] = api.get(f"/api/changes/{change_id}", "cab.carl").json()[
            "gates"
        ]
        (gate,) = [g for g in gates if g["name"] == "implementers_free"]
        return gate

    reference = api.get(f"/api/changes/{first}", "cab.carl").json()["reference"]
    clash = booked(second)
    assert (clash["met"], clash["advisory"]) == (False, True)
    assert clash["detail"] == (
        f"dev.alice also implements {reference} “Patch the billing database” in an"
        " overlapping window: is there time for both?"
    )
    assert booked(first)["met"] is False  # and the first is told of the second
    assert booked(elsewhere)["met"] is True
    assert booked(next_day)["met"] is True
    queued = {c["id"]: c for c in api.get("/api/cab-queue", "cab.carl").json()}
    assert queued[second]["gates_met"] is True  # advisory: nothing refused
    approve(api, second, "cab.carl")
    withdrawn = api.post(f"/api/changes/{first}/withdraw", "dev.alice",
                         json={"reason": "done with the second"})  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.text
    assert booked(second)["met"] is True


def test_every_write_route_refuses_roles_it_does_not_allow(api: Api) -> None:
    """403 role_required, problem+json, and nothing written."""
    change_id = raise_change(api)
    routes = [
        ("/api/changes", "vp.sales", change_payload()),
        ("/api/changes", "cab.carl", change_payload()),
        (f"/api/changes/{change_id}/approve", "dev.alice", {}),
        (f"/api/changes/{change_id}/approve", "rm", {}),
        (f"/api/changes/{change_id}/reject", "pipeline", {"reason": "no"}),
        (f"/api/changes/{change_id}/start", "cab.carl", None),
        (f"/api/changes/{change_id}/complete", "rm", {"outcome": "succeeded"}),
        (f"/api/changes/{change_id}/review", "dev.alice", {"findings": "x"}),
        (f"/api/changes/{change_id}/withdraw", "vp.sales", {"reason": "x"}),
        ("/api/deployments", "dev.alice", {"subsystem": "Billing", "version": "1"}),
        ("/api/deployments", "rm", {"subsystem": "Billing", "version": "1"}),
        ("/api/blackouts", "dev.alice", {"name": "x", "start": "2030-01-01T00:00:00Z",
                                         "end": "2030-01-02T00:00:00Z"}),
        ("/api/standard-templates", "cab.carl", {}),
    ]  # fmt: skip
    before = event_count(api)
    for path, person, body in routes:
        response = api.post(path, person, json=body)
        assert response.status_code == 403, (path, person, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["rule"] == "role_required"
    put = api.put(f"/api/changes/{change_id}", "cab.carl", json=revision_payload())
    assert put.status_code == 403
    assert api.get("/api/cab-queue", "dev.alice").status_code == 403
    assert event_count(api) == before


def test_separation_of_duties_breaches_are_403_naming_the_rule_and_logged(api: Api) -> None:
    """Requester and implementers never approve, reject or review their own change."""
    change_id = raise_change(api, as_="ops.olga", implementers=["dev.alice", "ops.olga"])
    before = event_count(api)
    with captured_logs() as logs:
        approve_own = api.post(f"/api/changes/{change_id}/approve", "ops.olga", json={})
        reject_own = api.post(f"/api/changes/{change_id}/reject", "ops.olga", json={"reason": "x"})
    assert approve_own.status_code == 403
    assert approve_own.headers["content-type"] == PROBLEM
    assert approve_own.json()["rule"] == "requester_cannot_approve"
    assert reject_own.json()["rule"] == "requester_cannot_reject"
    assert event_count(api) == before
    refused = [e for e in logs if e["event"] == "security_rule_refused"]
    assert [e["rule"] for e in refused] == ["requester_cannot_approve", "requester_cannot_reject"]
    assert [e["user"] for e in refused] == ["ops.olga", "ops.olga"]  # who tried, for audit


def test_refused_decisions_are_409_naming_the_rule_and_write_nothing(api: Api) -> None:
    change_id = raise_change(api, risk=MEDIUM)
    approve(api, change_id, "cab.carl")
    before = event_count(api)
    twice = api.post(f"/api/changes/{change_id}/approve", "cab.carl", json={})
    assert (twice.status_code, twice.json()["rule"]) == (409, "already_approved")
    early = api.post(f"/api/changes/{change_id}/start", "dev.alice")
    assert (early.status_code, early.json()["rule"]) == (409, "not_approved")
    unknown = api.post(f"/api/changes/{change_id}/approve", "cab.dora", json={"revision": 7})
    assert (unknown.status_code, unknown.json()["rule"]) == (422, "unknown_revision")
    review = api.post(f"/api/changes/{change_id}/review", "cab.dora", json={"findings": "x"})
    assert (review.status_code, review.json()["rule"]) == (409, "review_before_completion")
    assert event_count(api) == before


def test_only_a_named_implementer_starts_and_completes_a_change(api: Api) -> None:
    change_id = raise_change(api)
    approve(api, change_id, "cab.carl")
    other = api.post(f"/api/changes/{change_id}/start", "qa.quinn")
    assert (other.status_code, other.json()["rule"]) == (403, "implementer_only")
    started = api.post(f"/api/changes/{change_id}/start", "dev.alice")
    assert started.json()["status"] == "implementing"
    done = api.post(
        f"/api/changes/{change_id}/complete", "dev.alice", json={"outcome": "succeeded"}
    )
    assert done.json()["status"] == "closed"


def test_a_failed_change_is_reviewed_by_the_cab_and_then_closed(api: Api) -> None:
    change_id = raise_change(api)
    approve(api, change_id, "cab.carl")
    api.post(f"/api/changes/{change_id}/start", "dev.alice")
    no_notes = api.post(
        f"/api/changes/{change_id}/complete", "dev.alice", json={"outcome": "failed"}
    )
    assert (no_notes.status_code, no_notes.json()["rule"]) == (422, "notes_required")
    failed = api.post(
        f"/api/changes/{change_id}/complete",
        "dev.alice",
        json={"outcome": "rolled_back", "notes": "replica lag"},
    )
    assert failed.json()["status"] == "completed"
    reviewed = api.post(
        f"/api/changes/{change_id}/review",
        "cab.dora",
        json={"findings": "lag alarms were ignored", "actions": "page on lag"},
    )
    assert reviewed.json()["status"] == "closed"
    detail = api.get(f"/api/changes/{change_id}", "rm").json()
    assert (detail["outcome"], detail["findings"]) == ("rolled_back", "lag alarms were ignored")


def test_a_revision_made_to_a_version_read_before_another_is_refused_not_lost(
    api: Api,
) -> None:
    change_id = raise_change(api)
    tag = api.get(f"/api/changes/{change_id}", "dev.alice").headers["etag"]
    first = api.put(
        f"/api/changes/{change_id}", "dev.alice",
        json=revision_payload(title="Patch v2"), headers={"If-Match": tag},
    )  # fmt: skip
    assert first.status_code == 200, first.text
    second = api.put(
        f"/api/changes/{change_id}", "rm",
        json=revision_payload(title="Patch v3"), headers={"If-Match": tag},
    )  # fmt: skip
    assert (second.status_code, second.json()["rule"]) == (412, "stale_version")
    assert api.get(f"/api/changes/{change_id}", "rm").json()["title"] == "Patch v2"
    latest = api.put(
        f"/api/changes/{change_id}", "rm",
        json=revision_payload(title="Patch v3"), headers={"If-Match": first.headers["etag"]},
    )  # fmt: skip
    assert latest.status_code == 200


def test_a_change_can_be_revised_by_its_people_and_withdrawn(api: Api) -> None:
    change_id = raise_change(api)
    stranger = api.put(f"/api/changes/{change_id}", "qa.quinn", json=revision_payload())
    assert (stranger.status_code, stranger.json()["rule"]) == (403, "own_change_only")
    # One payload for both: the builder's window follows the clock, and a second boundary
    # between two calls would make the "same" revision a different one.
    v2 = revision_payload(title="Patch v2")
    revised = api.put(f"/api/changes/{change_id}", "dev.alice", json=v2)
    assert revised.json()["revision"] == 2
    same = api.put(f"/api/changes/{change_id}", "dev.alice", json=v2)

    assert same.json()["version"] == revised.json()["version"]  # nothing changed: no event
    withdrawn = api.post(f"/api/changes/{change_id}/withdraw", "rm", json={"reason": "superseded"})
    assert withdrawn.json()["status"] == "withdrawn"
    again = api.put(f"/api/changes/{change_id}", "dev.alice", json=revision_payload())
    assert (again.status_code, again.json()["rule"]) == (409, "revise_after_start")


def test_bad_input_is_422_with_the_fields_named(api: Api) -> None:
    before = event_count(api)
    extra = api.post("/api/changes", "dev.alice", json=change_payload(status="approved"))
    assert extra.status_code == 422
    assert {e["field"] for e in extra.json()["errors"]} == {"status"}
    naive = api.post(
        "/api/changes", "dev.alice", json=change_payload(window_start="2030-01-01T10:00")
    )
    assert naive.status_code == 422
    backwards = change_payload()
    backwards["window_start"], backwards["window_end"] = (
        backwards["window_end"],
        backwards["window_start"],
    )
    refused = api.post("/api/changes", "dev.alice", json=backwards)
    assert (refused.status_code, refused.json()["rule"]) == (422, "window_end_before_start")
    outsider = api.post("/api/changes", "dev.alice", json=change_payload(implementers=["vp.sales"]))
    assert outsider.json()["rule"] == "implementer_not_it_staff"
    unknown = api.post("/api/changes", "dev.alice", json=change_payload(subsystems=["Mainframe"]))
    assert unknown.json()["rule"] == "unknown_subsystem"
    no_risk = api.post("/api/changes", "dev.alice", json=change_payload(risk=None))
    assert no_risk.json()["rule"] == "risk_assessment_required"
    assert event_count(api) == before


def test_unknown_ids_are_404_problems(api: Api) -> None:
    missing = uuid.uuid4()
    assert api.get(f"/api/changes/{missing}", "rm").json()["rule"] == "production_change_not_found"
    post = api.post(f"/api/changes/{missing}/approve", "cab.carl", json={})
    assert (post.status_code, post.json()["rule"]) == (404, "production_change_not_found")
    assert api.get(f"/api/blackouts/{missing}", "rm").status_code == 404
    assert api.get(f"/api/standard-templates/{missing}", "rm").status_code == 404
    assert api.get("/api/changes/not-a-uuid", "rm").status_code == 422


def test_a_retried_approval_with_its_idempotency_key_counts_once(api: Api) -> None:
    change_id = raise_change(api, risk=HIGH)
    path = f"/api/changes/{change_id}/approve"
    first = api.post(path, "cab.carl", json={}, key="approve-1")
    before = event_count(api)
    again = api.post(path, "cab.carl", json={}, key="approve-1")
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert event_count(api) == before
    other = api.post(path, "cab.carl", json={"revision": 1}, key="approve-1")
    assert (other.status_code, other.json()["rule"]) == (422, "idempotency_key_reused")


def test_a_retried_deployment_report_with_its_idempotency_key_is_recorded_once(api: Api) -> None:
    body = {"subsystem": "Billing", "version": "4.2.0"}
    first = api.post("/api/deployments", "pipeline", json=body, key="build-981")
    again = api.post("/api/deployments", "pipeline", json=body, key="build-981")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert api.get("/api/deployments", "rm").json()["total"] == 1


def test_changes_can_be_found_by_status_type_subsystem_and_person(api: Api) -> None:
    normal = raise_change(api, subsystems=["CRM"])
    emergency = raise_change(
        api, as_="qa.quinn", change_type="emergency", implementers=["qa.quinn"]
    )
    approve(api, normal, "cab.carl")

    def ids(**params: str) -> list[str]:
        return sorted(c["id"] for c in api.get("/api/changes", "rm", params=params).json()["items"])

    assert ids(status="approved") == [normal]
    assert ids(change_type="emergency") == [emergency]
    assert ids(subsystem="crm") == [normal]
    assert ids(person="qa.quinn") == [emergency]
    assert ids() == sorted([normal, emergency])


def test_a_reversed_completed_range_is_refused_as_requests_are(api: Api) -> None:
    """completed_from after completed_to matches no change: 422 invalid_range says so and
    how to mend it, rather than an empty list that reads as "nothing was completed"."""
    backwards = api.get(
        "/api/changes",
        "rm",
        params={"completed_from": "2026-12-10", "completed_to": "2026-12-01"},
    )
    assert (backwards.status_code, backwards.headers["content-type"]) == (422, PROBLEM)
    assert backwards.json()["rule"] == "invalid_range"
    assert backwards.json()["detail"] == (
        "completed_from 2026-12-10 is after completed_to 2026-12-01: no day is both (swap them)"
    )
    same_day = api.get(
        "/api/changes", "rm", params={"completed_from": "2026-12-01", "completed_to": "2026-12-01"}
    )
    assert same_day.status_code == 200


def test_a_release_deployment_defaults_to_its_bundles_window_and_one_open_change(api: Api) -> None:
    bundle = ForeignBundle(api.platform.log).ready()
    payload = change_payload(change_type="release_deployment", bundle_id=str(bundle.id))
    del payload["window_start"], payload["window_end"]
    response = api.post("/api/changes", "rm", json=payload)
    assert response.status_code == 201, response.text
    detail = api.get(f"/api/changes/{response.json()['id']}", "rm").json()
    assert detail["window_start"] is not None
    assert detail["gates_met"] is True
    second = api.post("/api/changes", "rm", json=payload)
    assert (second.status_code, second.json()["rule"]) == (409, "bundle_has_open_change")
    # Named by its title (a person reads it on the form), its id for a program.
    assert f"“{payload['title']}”" in second.json()["detail"]
    assert second.json()["change_id"] == response.json()["id"]
    revision = revision_payload(title="Deploy 2027.03 (revised)")
    del revision["window_start"], revision["window_end"]
    revised = api.put(f"/api/changes/{response.json()['id']}", "rm", json=revision)
    assert revised.json()["revision"] == 2, revised.text
    again = api.get(f"/api/changes/{response.json()['id']}", "rm").json()
    assert (again["window_start"], again["window_end"]) == (
        detail["window_start"],
        detail["window_end"],
    )
    unknown = api.post(
        "/api/changes",
        "rm",
        json=change_payload(change_type="release_deployment", bundle_id=str(uuid.uuid4())),
    )
    assert (unknown.status_code, unknown.json()["rule"]) == (422, "unknown_bundle")


def test_a_report_without_a_time_takes_the_business_time_of_imported_history(api: Api) -> None:
    """Simulated or imported history reports deployments at their own time, not today's."""
    past = datetime(2025, 3, 4, 21, 30, tzinfo=UTC)
    views = ChangeControlViews(api.platform.log)
    with acting_as("pipeline", at=past):
        ref = DeploymentReports(api.platform.log, views).report(
            "pipeline", "Billing", "1.0", None, None
        )
    items, _ = views.deployments(DeploymentFilter(), 10, 0)
    (item,) = [i for i in items if i["id"] == ref.id]
    assert item["deployed_at"].startswith("2025-03-04T21:30")


def test_an_approval_carries_the_approvers_comment_into_the_history(api: Api) -> None:
    change_id = raise_change(api)
    response = api.post(
        f"/api/changes/{change_id}/approve", "cab.carl", json={"comment": "Backout rehearsed"}
    )
    assert response.status_code == 200, response.text
    detail = api.get(f"/api/changes/{change_id}", "rm").json()
    assert detail["approvals"][0]["comment"] == "Backout rehearsed"
    assert any("Backout rehearsed" in h["summary"] for h in detail["history"])


def test_a_revision_that_leaves_out_the_plans_texts_or_window_keeps_them(api: Api) -> None:
    """Moving only the title (or the window) must not blank the backout plan: fields left
    out of a PUT keep their values; a field sent empty is emptied on purpose."""
    change_id = raise_change(api)
    before = api.get(f"/api/changes/{change_id}", "dev.alice").json()
    revision = revision_payload(title="Patch the billing batch (v2)")
    for field in ("backout_plan", "test_evidence", "implementation_plan"):
        del revision[field]
    del revision["window_start"], revision["window_end"]
    revised = api.put(f"/api/changes/{change_id}", "dev.alice", json=revision)
    assert revised.status_code == 200, revised.text
    after = api.get(f"/api/changes/{change_id}", "dev.alice").json()
    kept = ("backout_plan", "test_evidence", "implementation_plan", "window_start", "window_end")
    assert {f: after[f] for f in kept} == {f: before[f] for f in kept}
    assert (after["title"], after["revision"]) == ("Patch the billing batch (v2)", 2)
    emptied = api.put(
        f"/api/changes/{change_id}", "dev.alice", json={**revision, "backout_plan": ""}
    )
    assert emptied.status_code == 200, emptied.text
    assert api.get(f"/api/changes/{change_id}", "dev.alice").json()["backout_plan"] == ""


def test_a_changes_history_reads_as_english_whatever_its_type(api: Api) -> None:
    emergency = raise_change(api, change_type="emergency")
    normal = raise_change(api)
    medium = raise_change(api, risk=MEDIUM)
    lines = {
        change: api.get(f"/api/changes/{change}", "rm").json()["history"][0]["summary"]
        for change in (emergency, normal, medium)
    }
    assert lines[emergency].startswith("raised an emergency change (low risk")
    assert lines[normal] == "raised a normal change (low risk, 1 approval needed)"
    assert lines[medium] == "raised a normal change (medium risk, 2 approvals needed)"
