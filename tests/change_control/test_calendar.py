"""Blackouts, conflicts and the change calendar: re-evaluated whenever a change, a
window or a blackout changes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.change_control.builders import (
    LOW,
    approve,
    change_payload,
    raise_change,
    revision_payload,
    window,
)
from tests.conftest import Api


def blackout_payload(**overrides: Any) -> dict[str, Any]:
    w = window()
    payload: dict[str, Any] = {
        "name": "Quarter-end billing run",
        "start": w.start_iso,
        "end": w.end_iso,
        "subsystems": ["Billing"],
        "reason": "Invoices go out",
    }
    payload.update(overrides)
    return payload


def declare(api: Api, **overrides: Any) -> str:
    response = api.post("/api/blackouts", "rm", json=blackout_payload(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def detail(api: Api, change_id: str) -> dict[str, Any]:
    return dict(api.get(f"/api/changes/{change_id}", "cab.carl").json())


def test_a_window_overlapping_a_blackout_is_refused_and_writes_nothing(api: Api) -> None:
    declare(api)
    before = len(api.platform.log.entries(0, 10_000))
    response = api.post("/api/changes", "dev.alice", json=change_payload())
    assert (response.status_code, response.json()["rule"]) == (409, "window_in_blackout")
    assert "Quarter-end billing run" in response.json()["detail"]
    assert len(api.platform.log.entries(0, 10_000)) == before
    other_subsystem = api.post("/api/changes", "dev.alice", json=change_payload(subsystems=["CRM"]))
    assert other_subsystem.status_code == 201


def test_a_blackout_declared_later_is_shown_on_the_change_and_blocks_approval(api: Api) -> None:
    change_id = raise_change(api)
    blackout_id = declare(api)
    shown = detail(api, change_id)
    assert [b["id"] for b in shown["blackouts"]] == [blackout_id]
    assert shown["gates_met"] is False
    (gate,) = [g for g in shown["gates"] if g["name"] == "blackout"]
    assert gate["rule"] == "window_in_blackout"
    refused = api.post(f"/api/changes/{change_id}/approve", "cab.carl", json={})
    assert (refused.status_code, refused.json()["rule"]) == (409, "window_in_blackout")
    lifted = api.post(f"/api/blackouts/{blackout_id}/lift", "rm", json={"reason": "run moved"})
    assert lifted.json()["active"] is False
    assert detail(api, change_id)["blackouts"] == []
    approve(api, change_id, "cab.carl")


def test_moving_a_blackout_re_evaluates_the_changes_it_overlaps(api: Api) -> None:
    change_id = raise_change(api)
    later = window(starts_in=timedelta(days=2))
    blackout_id = declare(api, start=later.start_iso, end=later.end_iso)
    assert detail(api, change_id)["blackouts"] == []
    now = window()
    moved = api.put(
        f"/api/blackouts/{blackout_id}",
        "rm",
        json=blackout_payload(start=now.start_iso, end=now.end_iso, subsystems=[]),
    )
    assert moved.status_code == 200, moved.text
    assert [b["id"] for b in detail(api, change_id)["blackouts"]] == [blackout_id]
    assert api.get(f"/api/blackouts/{blackout_id}", "dev.alice").json()["subsystems"] == []


def test_changes_on_one_subsystem_in_overlapping_windows_conflict_both_ways(api: Api) -> None:
    first = raise_change(api, subsystems=["Billing", "CRM"])
    second = raise_change(api, as_="qa.quinn", implementers=["qa.quinn"], subsystems=["CRM"])
    elsewhere = raise_change(api, subsystems=["Provisioning"])
    assert [(c["change_id"], c["subsystems"]) for c in detail(api, first)["conflicts"]] == [
        (second, ["CRM"])
    ]
    assert [c["change_id"] for c in detail(api, second)["conflicts"]] == [first]
    assert detail(api, elsewhere)["conflicts"] == []
    queue = {c["id"]: c for c in api.get("/api/cab-queue", "cab.carl").json()}
    assert [c["change_id"] for c in queue[first]["conflicts"]] == [second]
    later = window(starts_in=timedelta(days=3))
    api.put(
        f"/api/changes/{second}",
        "qa.quinn",
        json=revision_payload(
            subsystems=["CRM"],
            implementers=["qa.quinn"],
            window_start=later.start_iso,
            window_end=later.end_iso,
        ),
    )
    assert detail(api, first)["conflicts"] == []
    assert detail(api, second)["conflicts"] == []


def test_a_change_that_leaves_the_calendar_stops_conflicting(api: Api) -> None:
    first = raise_change(api)
    second = raise_change(api, as_="qa.quinn", implementers=["qa.quinn"])
    assert detail(api, first)["conflicts"] != []
    api.post(f"/api/changes/{second}/reject", "cab.carl", json={"reason": "clashes"})
    assert detail(api, first)["conflicts"] == []


def test_the_calendar_lists_changes_and_blackouts_by_window(api: Api) -> None:
    soon = raise_change(api, subsystems=["CRM"])
    later_window = window(starts_in=timedelta(days=5))
    later = raise_change(api, window_start=later_window.start_iso, window_end=later_window.end_iso)
    blackout_id = declare(api, start=later_window.start_iso, end=later_window.end_iso,
                          subsystems=["Provisioning"])  # fmt: skip
    everything = api.get("/api/change-calendar", "vp.sales").json()
    assert [c["change_id"] for c in everything["changes"]] == [soon, later]
    assert [b["id"] for b in everything["blackouts"]] == [blackout_id]
    near = window(lasts=timedelta(hours=1))
    only_soon = api.get(
        "/api/change-calendar", "vp.sales", params={"start": near.start_iso, "end": near.end_iso}
    ).json()
    assert [c["change_id"] for c in only_soon["changes"]] == [soon]
    assert only_soon["blackouts"] == []
    crm = api.get("/api/change-calendar", "vp.sales", params={"subsystem": "crm"}).json()
    assert [c["change_id"] for c in crm["changes"]] == [soon]
    assert crm["blackouts"] == []
    bad = api.get("/api/change-calendar", "vp.sales", params={"start": near.start_iso})
    assert (bad.status_code, bad.json()["rule"]) == (422, "invalid_range")
    api.post(f"/api/changes/{later}/reject", "cab.carl", json={"reason": "not now"})
    after = api.get("/api/change-calendar", "vp.sales").json()
    assert [c["change_id"] for c in after["changes"]] == [soon]  # it will not happen


def test_blackouts_are_listed_and_lifted_ones_kept_on_request(api: Api) -> None:
    blackout_id = declare(api)
    api.post(f"/api/blackouts/{blackout_id}/lift", "rm", json={"reason": "done"})
    assert api.get("/api/blackouts", "dev.alice").json() == []
    kept = api.get("/api/blackouts", "dev.alice", params={"include_lifted": True}).json()
    assert [(b["id"], b["lifted"]) for b in kept] == [(blackout_id, True)]
    again = api.post(f"/api/blackouts/{blackout_id}/lift", "rm", json={"reason": "again"})
    assert (again.status_code, again.json()["rule"]) == (409, "blackout_lifted")


def template_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "Rotate TLS certificates",
        "description": "Yearly rotation",
        "subsystems": ["Customer Portal", "CRM"],
        "implementation_plan": "Install the new certificate; reload the proxy.",
        "backout_plan": "Reinstall the previous certificate.",
        "risk": LOW,
    }
    payload.update(overrides)
    return payload


def test_a_standard_change_from_the_catalogue_is_pre_approved(api: Api) -> None:
    published = api.post("/api/standard-templates", "admin", json=template_payload())
    assert published.status_code == 201, published.text
    template_id = published.json()["id"]
    listed = api.get("/api/standard-templates", "dev.alice").json()
    assert [t["id"] for t in listed] == [template_id]
    payload = change_payload(
        change_type="standard",
        template_id=template_id,
        subsystems=["CRM"],
        implementation_plan="",
        backout_plan="",
        risk=None,
    )
    raised = api.post("/api/changes", "dev.alice", json=payload)
    assert raised.status_code == 201, raised.text
    assert (raised.json()["status"], raised.json()["approved"]) == ("approved", True)
    shown = detail(api, raised.json()["id"])
    assert (shown["board"], shown["template_id"]) == ("template", template_id)
    assert shown["backout_plan"] == "Reinstall the previous certificate."
    assert api.get("/api/cab-queue", "cab.carl").json() == []


def test_the_template_catalogue_is_kept_by_release_managers_and_admins(api: Api) -> None:
    risky = api.post(
        "/api/standard-templates",
        "rm",
        json=template_payload(risk={**LOW, "impact": "major", "likelihood": "likely"}),
    )
    assert (risky.status_code, risky.json()["rule"]) == (422, "template_not_low_risk")
    template_id = api.post("/api/standard-templates", "rm", json=template_payload()).json()["id"]
    revised = api.put(
        f"/api/standard-templates/{template_id}", "rm", json=template_payload(name="Rotate certs")
    )
    assert revised.json()["version"] == 2
    assert api.get(f"/api/standard-templates/{template_id}", "vp.sales").json()["name"] == (
        "Rotate certs"
    )
    api.post(f"/api/standard-templates/{template_id}/retire", "admin", json={"reason": "automated"})
    payload = change_payload(
        change_type="standard", template_id=template_id, subsystems=["CRM"],
        implementation_plan="", backout_plan="", risk=None,
    )  # fmt: skip
    refused = api.post("/api/changes", "dev.alice", json=payload)
    assert (refused.status_code, refused.json()["rule"]) == (409, "template_retired")
    assert api.get("/api/standard-templates", "rm").json() == []


def test_a_blackout_starting_years_away_is_refused_as_a_slip_of_the_year(api: Api) -> None:
    refused = api.post(
        "/api/blackouts",
        "rm",
        json=blackout_payload(start="9999-12-01T00:00:00Z", end="9999-12-02T00:00:00Z"),
    )
    assert refused.status_code == 422
    assert refused.json()["rule"] == "window_too_far"
    assert "(9999-12-01): check the year" in refused.json()["detail"]
    assert api.get("/api/blackouts", "rm").json() == []


def test_a_blackout_a_template_or_a_profile_changed_since_it_was_read_is_not_overwritten(
    api: Api,
) -> None:
    """If-Match was taken and ignored on these three: an edit made against a version read
    before another one was applied, the other lost (a user made admin by a stale form).
    Each now gives its version as an ETag and refuses a stale If-Match with 412."""
    blackout = declare(api)
    template = api.post("/api/standard-templates", "rm", json=template_payload()).json()["id"]
    edits = [
        (f"/api/blackouts/{blackout}", "rm", blackout_payload(name="Month-end run")),
        (f"/api/standard-templates/{template}", "rm", template_payload(name="Rotate certs")),
        ("/api/users/dev.alice/profile", "admin", {"roles": ["it_staff"], "team": "qa"}),
    ]
    for path, who, body in edits:
        read = api.get(path.removesuffix("/profile"), who)
        etag = read.headers["etag"]
        stale = f'"{int(etag.strip(chr(34))) - 1}"'
        refused = api.put(path, who, json=body, headers={"If-Match": stale})
        assert (refused.status_code, refused.json()["rule"]) == (412, "stale_version"), path
        assert api.get(path.removesuffix("/profile"), who).headers["etag"] == etag  # unchanged
        done = api.put(path, who, json=body, headers={"If-Match": etag})
        assert done.status_code == 200, done.text
        assert done.headers["etag"] != etag


def test_a_blackout_that_has_already_ended_is_refused(api: Api) -> None:
    """Declared or moved into the past it held nothing back, and was taken (201)."""
    gone = window(starts_in=timedelta(days=-3))
    declared = api.post(
        "/api/blackouts", "rm", json=blackout_payload(start=gone.start_iso, end=gone.end_iso)
    )
    assert (declared.status_code, declared.json()["rule"]) == (422, "window_in_past")
    blackout = declare(api)
    moved = api.put(
        f"/api/blackouts/{blackout}", "rm",
        json=blackout_payload(start=gone.start_iso, end=gone.end_iso),
    )  # fmt: skip
    assert (moved.status_code, moved.json()["rule"]) == (422, "window_in_past")


def test_a_second_template_of_a_name_in_use_is_refused_as_trains_are(api: Api) -> None:
    """Two templates in use of one name (whatever its case) cannot be told apart when
    raising a change: publishing or renaming to it is 409 standard_template_exists and
    writes nothing; once the first is retired, the name is free again."""
    first = api.post("/api/standard-templates", "rm", json=template_payload()).json()["id"]
    before = api.platform.log.head()
    again = api.post(
        "/api/standard-templates", "admin", json=template_payload(name="  rotate TLS Certificates ")
    )
    assert (again.status_code, again.headers["content-type"]) == (
        409,
        "application/problem+json",
    )
    assert again.json()["rule"] == "standard_template_exists"
    assert api.platform.log.head() == before
    assert again.json()["detail"] == (
        "a standard template named 'Rotate TLS certificates' is in use: choose another name,"
        " or retire or rename that one first"
    )
    other = api.post("/api/standard-templates", "rm", json=template_payload(name="Rotate certs"))
    assert other.status_code == 201, other.text
    before = api.platform.log.head()
    renamed = api.put(
        f"/api/standard-templates/{other.json()['id']}",
        "rm",
        json=template_payload(name="ROTATE TLS CERTIFICATES"),
    )
    assert (renamed.status_code, renamed.json()["rule"]) == (409, "standard_template_exists")
    assert api.platform.log.head() == before
    kept = api.put(  # its own name, revised in another case, is no clash with itself
        f"/api/standard-templates/{first}",
        "rm",
        json=template_payload(name="Rotate TLS Certificates"),
    )
    assert kept.status_code == 200, kept.text
    api.post(f"/api/standard-templates/{first}/retire", "rm", json={"reason": "automated"})
    free = api.post("/api/standard-templates", "rm", json=template_payload())
    assert free.status_code == 201, free.text
    names = [t["name"] for t in api.get("/api/standard-templates", "rm").json()]
    assert sorted(names) == ["Rotate TLS certificates", "Rotate certs"]


def test_declaring_or_moving_a_blackout_answers_with_the_changes_it_now_holds_back(
    api: Api,
) -> None:
    """Said at once, by reference and title, not first when the CAB tries to approve:
    an approved change and one in review on the subsystem; not one on another."""
    approved = raise_change(api, title="Deploy the December release")
    approve(api, approved, "cab.carl")
    in_review = raise_change(api, as_="qa.quinn", implementers=["qa.quinn"], title="Index CRM")
    raise_change(api, subsystems=["Provisioning"], title="Elsewhere")
    answer = api.post("/api/blackouts", "rm", json=blackout_payload())
    assert answer.status_code == 201, answer.text
    held = answer.json()["holds_back"]
    assert held == [
        {"id": approved, "reference": "CHG-1", "title": "Deploy the December release"},
        {"id": in_review, "reference": "CHG-2", "title": "Index CRM"},
    ]
    later = window(starts_in=timedelta(days=2))
    elsewhere = api.post(
        "/api/blackouts", "rm", json=blackout_payload(start=later.start_iso, end=later.end_iso)
    )
    assert elsewhere.json()["holds_back"] == []
    now = window()
    moved = api.put(
        f"/api/blackouts/{elsewhere.json()['id']}",
        "rm",
        json=blackout_payload(start=now.start_iso, end=now.end_iso, subsystems=["Provisioning"]),
    )
    assert [c["title"] for c in moved.json()["holds_back"]] == ["Elsewhere"]
