"""The issue's "How it will be checked", scripted as a CAB and as a pipeline, on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.change_control.domain.values import Window
from shared import contracts
from tests.change_control.builders import (
    HIGH,
    MEDIUM,
    ForeignBundle,
    add_cab_member,
    approve,
    change_payload,
    raise_change,
    revision_payload,
    window,
)
from tests.conftest import Api


def test_release_deployment_with_gates_unmet_is_refused(api: Api) -> None:
    """Not frozen, then not signed off: refused by name; frozen and signed off: approved."""
    bundle = ForeignBundle(api.platform.log).planned().scheduled()
    change_id = raise_change(
        api, as_="rm", change_type="release_deployment", bundle_id=str(bundle.id)
    )
    path = f"/api/changes/{change_id}/approve"
    unfrozen = api.post(path, "cab.carl", json={})
    assert (unfrozen.status_code, unfrozen.json()["rule"]) == (409, "bundle_scope_not_frozen")
    bundle.frozen()
    unsigned = api.post(path, "cab.carl", json={})
    assert (unsigned.status_code, unsigned.json()["rule"]) == (409, "bundle_not_qa_signed_off")
    gates = api.get("/api/cab-queue", "cab.carl").json()[0]["gates"]
    assert {g["name"]: g["met"] for g in gates}["bundle_qa_signed_off"] is False
    bundle.signed_off()
    bundle.scheduled()  # a request slipped in after sign-off: QA must sign off again
    assert api.post(path, "cab.carl", json={}).json()["rule"] == "bundle_not_qa_signed_off"
    bundle.signed_off()
    assert approve(api, change_id, "cab.carl").json()["status"] == "approved"


def test_a_release_change_left_on_its_moved_bundles_old_date_is_shown_to_the_cab(
    api: Api,
) -> None:
    """The bundle moves a week on while its change awaits the CAB: the change's window no
    longer covers the bundle's, which its gates say (advisory: a release may deploy in
    another window on purpose) until the change is revised (a revision without a window
    takes the bundle's)."""
    bundle = ForeignBundle(api.platform.log).ready()
    change_id = raise_change(
        api, as_="rm", change_type="release_deployment", bundle_id=str(bundle.id)
    )
    day = datetime.now(UTC) + timedelta(days=7)
    later = Window.of(day.replace(hour=20, minute=0, second=0, microsecond=0),
                      day.replace(hour=23, minute=0, second=0, microsecond=0))  # fmt: skip
    assert later is not None
    bundle.moved(later)
    [queued] = api.get("/api/cab-queue", "cab.carl").json()
    [gate] = [g for g in queued["gates"] if g["name"] == "bundle_window"]
    assert (gate["met"], gate["advisory"], queued["gates_met"]) == (False, True, True)
    assert gate["detail"] == (
        f"2027.03 deploys {later.start:%Y-%m-%d %H:%M} to {later.end:%H:%M} UTC, outside the"
        " change's window: was the bundle moved? Revise the change to the bundle's window"
    )
    revision = revision_payload()
    del revision["window_start"], revision["window_end"]
    assert api.put(f"/api/changes/{change_id}", "rm", json=revision).status_code == 200
    [queued] = api.get("/api/cab-queue", "cab.carl").json()
    assert {g["name"]: g["met"] for g in queued["gates"]}["bundle_window"] is True
    assert approve(api, change_id, "cab.carl").json()["status"] == "approved"


def test_a_release_change_not_naming_a_subsystem_its_bundle_deploys_is_shown_to_the_cab(
    api: Api,
) -> None:
    """A request touching Provisioning is scheduled into the bundle after its release
    change was raised for Billing: deploying it would be reported unauthorised, so the
    change's gates say so (advisory) until a revision names it."""
    bundle = ForeignBundle(api.platform.log).ready()
    change_id = raise_change(
        api, as_="rm", change_type="release_deployment", bundle_id=str(bundle.id)
    )
    [queued] = api.get("/api/cab-queue", "cab.carl").json()
    assert {g["name"]: g["met"] for g in queued["gates"]}["bundle_subsystems"] is True
    bundle.scheduled(subsystems=("Provisioning", "Billing"))
    bundle.signed_off()
    [queued] = api.get("/api/cab-queue", "cab.carl").json()
    [gate] = [g for g in queued["gates"] if g["name"] == "bundle_subsystems"]
    assert (gate["met"], gate["advisory"], queued["gates_met"]) == (False, True, True)
    assert gate["detail"] == (
        "2027.03's requests also touch Provisioning, which the change does not name:"
        " deploying them would be unauthorised. Revise the change"
    )
    revision = revision_payload(subsystems=["Billing", "Provisioning"])
    assert api.put(f"/api/changes/{change_id}", "rm", json=revision).status_code == 200
    [queued] = api.get("/api/cab-queue", "cab.carl").json()
    assert {g["name"]: g["met"] for g in queued["gates"]}["bundle_subsystems"] is True


def test_implementer_cannot_approve_own_change(api: Api) -> None:
    """The implementer is refused with 403 implementer_cannot_approve; nothing counts."""
    change_id = raise_change(api, as_="dev.alice", implementers=["ops.olga"], risk=HIGH)
    response = api.post(f"/api/changes/{change_id}/approve", "ops.olga", json={})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["rule"] == "implementer_cannot_approve"
    change = api.get(f"/api/changes/{change_id}", "ops.olga").json()
    assert change["approvals"] == []
    assert change_id not in [c["id"] for c in api.get("/api/cab-queue", "ops.olga").json()]


def test_an_edited_change_loses_its_approvals(api: Api) -> None:
    """Approved, then its window moves: back to review, approvals voided, approve again."""
    change_id = raise_change(api, risk=MEDIUM)
    assert approve(api, change_id, "cab.carl", "cab.dora").json()["status"] == "approved"
    later = window(starts_in=timedelta(hours=1))
    revised = api.put(
        f"/api/changes/{change_id}",
        "dev.alice",
        json=revision_payload(risk=MEDIUM, window_start=later.start_iso, window_end=later.end_iso),
    )
    assert (revised.json()["status"], revised.json()["revision"]) == ("in_review", 2)
    change = api.get(f"/api/changes/{change_id}", "cab.carl").json()
    assert (change["approvals"], change["approvers"]) == ([], [])
    assert change["history"][-1]["data"]["approvals_voided"] == ["cab.carl", "cab.dora"]
    start = api.post(f"/api/changes/{change_id}/start", "dev.alice")
    assert start.json()["rule"] == "not_approved"
    queue = api.get("/api/cab-queue", "cab.carl").json()
    assert [(c["id"], c["revision"]) for c in queue] == [(change_id, 2)]
    stale = api.post(f"/api/changes/{change_id}/approve", "cab.carl", json={"revision": 1})
    assert stale.json()["rule"] == "stale_revision"


def approvers(api: Api, change_id: str) -> dict[str, Any]:
    """The change's advisory gate `approvers_available`, as the CAB reads it."""
    gates = api.get(f"/api/changes/{change_id}", "rm").json()["gates"]
    (gate,) = [g for g in gates if g["name"] == "approvers_available"]
    return {k: gate[k] for k in ("met", "advisory", "detail")}


def test_a_change_the_board_as_it_stands_cannot_approve_says_so(api: Api) -> None:
    """High risk needs three approvals, one from operations; the board is three people
    and its only operations member raised the change. A low-risk change, and one raised
    by someone off the board, can be approved."""
    high = raise_change(api, as_="ops.olga", implementers=["ops.olga"], risk=HIGH)
    assert approvers(api, high) == {
        "met": False,
        "advisory": True,
        "detail": "it needs 3 approvals, one from operations, and of the CAB only 2 may"
        " approve it, none of them in operations (ops.olga raised it): an admin can give"
        " the cab_member role to more of the staff",
    }
    assert approvers(api, raise_change(api, risk=HIGH))["met"] is True
    assert approvers(api, raise_change(api, as_="ops.olga", implementers=["ops.olga"]))["met"]
    emergency = raise_change(
        api, as_="ops.olga", change_type="emergency", implementers=["ops.olga"], risk=HIGH
    )
    # One emergency approval is easily had; the three in retrospect never would be, and
    # the CAB is told before giving the first, not only after.
    assert approvers(api, emergency)["detail"] == (
        "after its emergency approval, it needs 3 approvals in retrospect, one from"
        " operations, from others than who gave it, and of the CAB only 2 may approve it,"
        " none of them in operations (ops.olga raised it): an admin can give the cab_member"
        " role to more of the staff"
    )
    small = raise_change(api, as_="ops.olga", change_type="emergency", implementers=["ops.olga"])
    assert approvers(api, small)["met"] is True  # low risk: one now, one more later
    queued = {c["id"]: c for c in api.get("/api/cab-queue", "cab.carl").json()}
    assert queued[high]["gates_met"] is True  # advisory: it refuses nothing


def test_an_emergency_change_stays_open_until_reviewed(api: Api) -> None:
    """One CAB member approves, it is implemented at once, and it stays open until the
    CAB approves it in retrospect and the post-implementation review is recorded."""
    change_id = raise_change(
        api, as_="ops.olga", change_type="emergency", implementers=["ops.olga"], risk=HIGH
    )
    assert api.post(f"/api/changes/{change_id}/approve", "ops.olga", json={}).status_code == 403
    emergency = approve(api, change_id, "cab.carl").json()
    assert (emergency["counted_as"], emergency["status"]) == ("emergency", "approved")
    api.post(f"/api/changes/{change_id}/start", "ops.olga")
    done = api.post(
        f"/api/changes/{change_id}/complete",
        "ops.olga",
        json={"outcome": "succeeded", "notes": "restored the CRM cluster"},
    )
    assert done.json()["status"] == "completed"
    queue = api.get("/api/cab-queue", "cab.dora").json()
    assert [(c["id"], c["awaiting"]) for c in queue] == [(change_id, "retrospective_approval")]
    assert api.get("/api/cab-queue", "cab.carl").json() == []  # his approval already counts
    api.post(
        f"/api/changes/{change_id}/review",
        "cab.dora",
        json={"findings": "a certificate expired", "actions": "alert 30 days before expiry"},
    )
    assert api.get(f"/api/changes/{change_id}", "rm").json()["status"] == "completed"
    # Of the three on the CAB, only Dora may still approve: Olga raised it, Carl gave its
    # emergency approval. The change would wait for good; its page says so.
    assert approvers(api, change_id) == {
        "met": False,
        "advisory": True,
        "detail": "it needs 3 approvals in retrospect, one from operations, and of the CAB"
        " only 1 may approve it, none of them in operations (ops.olga raised it; cab.carl"
        " gave its emergency approval): an admin can give the cab_member role to more of"
        " the staff",
    }
    add_cab_member(api, "cab.erin")
    add_cab_member(api, "ops.otto", team="operations")
    assert approvers(api, change_id)["met"] is True
    retro = approve(api, change_id, "cab.dora", "cab.erin").json()
    assert (retro["counted_as"], retro["status"]) == ("retrospective", "completed")
    closed = approve(api, change_id, "ops.otto").json()  # high risk: operations is needed
    assert closed["status"] == "closed"
    change = api.get(f"/api/changes/{change_id}", "rm").json()
    assert change["retrospectively_approved"] is True
    assert [a["by"] for a in change["retrospective"]] == ["cab.dora", "cab.erin", "ops.otto"]


def test_a_pipeline_deploying_with_no_approved_change_is_flagged_unauthorised(api: Api) -> None:
    """Recorded, listed and counted; a covered deployment is linked to its change."""
    in_review = raise_change(api, subsystems=["CRM"])
    covered = raise_change(api, as_="qa.quinn", implementers=["qa.quinn"])
    approve(api, covered, "cab.carl")
    reports = [
        {"subsystem": "Billing", "version": "4.2.0", "change_id": covered},
        {"subsystem": "CRM", "version": "9.1", "change_id": in_review},
        {"subsystem": "Provisioning", "version": "1.0"},
        {"subsystem": "Billing", "version": "4.2.1", "change_id": "CHG-0042"},
    ]
    answers = [api.post("/api/deployments", "pipeline", json=r).json() for r in reports]
    assert [(a["unauthorised"], a["reason"]) for a in answers] == [
        (False, None),
        (True, "change_not_approved"),
        (True, "no_approved_change"),
        (True, "unknown_change"),
    ]
    assert answers[0]["change_id"] == covered
    flagged = api.get("/api/deployments", "rm", params={"unauthorised": True}).json()
    assert flagged["total"] == 3
    assert {d["claimed_change_id"] for d in flagged["items"]} == {in_review, None, "CHG-0042"}
    counts = api.get("/api/deployments/counts", "metrics.mo").json()
    assert (counts["total"], counts["authorised"], counts["unauthorised"]) == (4, 1, 3)
    assert counts["unauthorised_by_subsystem"] == {"Billing": 1, "CRM": 1, "Provisioning": 1}
    linked = api.get(f"/api/changes/{covered}", "rm").json()["deployments"]
    assert [d["version"] for d in linked] == ["4.2.0"]
    by_pipeline = api.get("/api/deployments", "rm", params={"pipeline": "pipeline"}).json()
    assert by_pipeline["total"] == 4


def test_a_deployment_time_in_the_future_is_refused_and_nothing_is_recorded(api: Api) -> None:
    """A report says what was deployed; a time hours ahead (a wrong clock, a typo) would be
    judged against a window that has not come: refused with 422, and nothing recorded. A
    few minutes of clock skew are allowed."""
    change = raise_change(api, subsystems=["CRM"])
    approve(api, change, "cab.carl")

    def report(ahead: timedelta) -> Any:
        at = (datetime.now(UTC) + ahead).isoformat()
        body = {"subsystem": "CRM", "version": "9.3", "deployed_at": at, "change_id": change}
        return api.post("/api/deployments", "pipeline", json=body)

    refused = report(timedelta(hours=2))
    assert refused.status_code == 422
    assert refused.json()["rule"] == "deployed_in_future"
    assert "future" in refused.json()["detail"]
    assert api.get("/api/deployments/counts", "rm").json()["total"] == 0
    long_ago = report(timedelta(days=-400))  # 0001-01-01 was recorded as unauthorised
    assert long_ago.status_code == 422
    assert long_ago.json()["rule"] == "deployed_too_long_ago"
    assert report(timedelta(minutes=2)).status_code == 201


def test_a_deployment_made_before_the_cab_approved_is_flagged_when_reported_later(
    api: Api,
) -> None:
    """A programmer deploys first and gets the approval afterwards: the report, sent once
    the change is approved, is still an unauthorised change; deployments after it are not."""
    change = raise_change(api, subsystems=["CRM"])
    deployed_early = datetime.now(UTC).isoformat()
    approve(api, change, "cab.carl")
    early = {"subsystem": "CRM", "version": "9.1", "deployed_at": deployed_early}
    claimed = api.post("/api/deployments", "pipeline", json={**early, "change_id": change})
    unclaimed = api.post("/api/deployments", "pipeline", json=early)
    after = api.post(
        "/api/deployments",
        "pipeline",
        json={"subsystem": "CRM", "version": "9.2", "change_id": change},
    )
    assert [(r.status_code, r.json()["reason"]) for r in (claimed, unclaimed, after)] == [
        (201, "deployed_before_approval"),
        (201, "no_approved_change"),
        (201, None),
    ]
    # The change lists the one under it, and the one that named it too early, flagged.
    linked = api.get(f"/api/changes/{change}", "rm").json()["deployments"]
    assert [(d["version"], d["unauthorised"]) for d in linked] == [("9.2", False), ("9.1", True)]
    assert api.get("/api/deployments/counts", "rm").json()["unauthorised"] == 2


def test_a_successful_release_deployment_publishes_completed_for_release(api: Api) -> None:
    """Release marks the bundle deployed (and its requests delivered) from this fact."""
    bundle = ForeignBundle(api.platform.log).ready()
    change_id = raise_change(api, as_="rm", change_type="release_deployment",
                             bundle_id=str(bundle.id))  # fmt: skip
    approve(api, change_id, "cab.carl")
    api.post(f"/api/changes/{change_id}/start", "dev.alice")
    api.post(f"/api/changes/{change_id}/complete", "dev.alice", json={"outcome": "succeeded"})
    events = api.get("/api/events", "metrics.mo", params={"limit": 1000}).json()["events"]
    followed = [e for e in events if e["topic"] in {contracts.CHANGE_APPROVED.topic,
                                                    contracts.CHANGE_COMPLETED.topic}]  # fmt: skip
    assert [e["type"] for e in followed] == [
        "ProductionChange.Approved",
        "ProductionChange.Completed",
    ]
    completed = followed[1]["data"]
    assert completed["outcome"] == "succeeded"
    assert (completed["change_type"], completed["bundle_id"]) == (
        "release_deployment",
        str(bundle.id),
    )
    assert followed[0]["data"]["approvers"] == ["cab.carl"]


def test_a_release_deployment_without_a_known_bundle_is_refused(api: Api) -> None:
    payload = change_payload(change_type="release_deployment")
    refused = api.post("/api/changes", "rm", json=payload)
    assert (refused.status_code, refused.json()["rule"]) == (
        422,
        "bundle_only_for_release_deployment",
    )
