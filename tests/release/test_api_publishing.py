"""The plan the business reads, the suggested plan, release notes and the calendar."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from icalendar import Calendar

from tests.builders import submit
from tests.conftest import Api
from tests.release.builders import (
    accepted_request,
    define_train,
    event_count,
    first_bundle,
    scheduled,
)


def test_vp_sees_a_target_date_or_the_ranking_for_each_accepted_request(api: Api) -> None:
    bundle = first_bundle(api)
    planned = accepted_request(api, title="Tariff engine")
    waiting, favourite = accepted_request(api, title="Waiting"), accepted_request(api, title="Fav")
    scheduled(api, bundle, planned)
    api.put(
        "/api/departments/Sales/ranking", "vp.sales", json={"order": [favourite, planned, waiting]}
    )
    submit(api, title="Not accepted yet")
    plan = api.get("/api/plan", "vp.sales", params={"department": "sales"}).json()
    assert [(e["title"], e["department_rank"]) for e in plan] == [
        ("Fav", 1),
        ("Tariff engine", 2),
        ("Waiting", 3),
    ]
    deploy_date = api.get(f"/api/bundles/{bundle}", "rm").json()["deploy_date"]
    by_title = {e["title"]: e for e in plan}
    assert by_title["Tariff engine"]["target_date"] == deploy_date
    assert by_title["Tariff engine"]["plan"] == f"deploys on {deploy_date}"
    assert by_title["Tariff engine"]["bundle_status"] == "planning"
    assert by_title["Waiting"]["plan"] == "not yet scheduled"
    assert by_title["Waiting"]["target_date"] is None
    assert api.get("/api/plan", "vp.care", params={"department": "Sales"}).status_code == 200


def test_suggested_plan_serves_expedite_first_then_departments_in_turn(api: Api) -> None:
    train = define_train(api, capacity_points=10, generate=2)
    first, second = train["bundle_ids"]
    sales = [accepted_request(api, title=f"Sales {n}", size=4) for n in (1, 2)]
    care = accepted_request(api, as_="vp.care", title="Care 1", size=4)
    urgent = accepted_request(
        api, as_="vp.care", title="Outage fix", size=2, class_of_service="expedite"
    )
    answer = api.get("/api/plan/suggestion", "rm").json()
    proposals = [(p["title"], p["bundle_id"]) for p in answer["proposals"]]
    assert proposals == [
        ("Outage fix", first),
        ("Care 1", first),  # round 1: Customer Care first (alphabetical), then Sales
        ("Sales 1", first),
        ("Sales 2", second),
    ]
    assert answer["proposals"][0]["why"] == "expedite"
    assert answer["unplaced"] == []
    assert answer["bundles"][0]["load_after"] == 10
    # Nothing is scheduled until the release manager applies it.
    assert api.get(f"/api/bundles/{first}", "rm").json()["item_count"] == 0
    assert {sales[0], sales[1], care, urgent} == {p["request_id"] for p in answer["proposals"]}


def test_a_suggestion_for_a_train_that_does_not_exist_is_404_naming_the_train(api: Api) -> None:
    """An unknown train_id answered an empty plan, as if the train had no room; a train
    that does exist is still planned for."""
    train = define_train(api, capacity_points=10, generate=1)
    accepted_request(api, title="Sales 1", size=4)
    unknown = "7a1c5e52-0000-4000-8000-000000000001"
    missing = api.get("/api/plan/suggestion", "rm", params={"train_id": unknown})
    assert (missing.status_code, missing.headers["content-type"]) == (
        404,
        "application/problem+json",
    )
    assert missing.json()["rule"] == "release_train_not_found"
    assert missing.json()["detail"] == f"no release train with id {unknown}"
    known = api.get("/api/plan/suggestion", "rm", params={"train_id": train["id"]})
    assert [p["title"] for p in known.json()["proposals"]] == ["Sales 1"]


def test_applying_part_of_the_suggestion_schedules_it_as_ordinary_events(api: Api) -> None:
    bundle = first_bundle(api)
    chosen, left = accepted_request(api, title="Chosen"), accepted_request(api, title="Left")
    answer = api.get("/api/plan/suggestion", "rm").json()
    pick = [
        {"request_id": p["request_id"], "bundle_id": p["bundle_id"]}
        for p in answer["proposals"]
        if p["request_id"] == chosen
    ]
    applied = api.post("/api/plan/apply", "rm", json={"items": pick}, key="apply-1")
    assert applied.status_code == 200, applied.text
    assert [s["request_id"] for s in applied.json()["scheduled"]] == [chosen]
    history = api.get(f"/api/bundles/{bundle}/history", "rm").json()
    assert history[-1]["type"] == "ReleaseBundle.RequestScheduled"
    assert history[-1]["actor"] == "rm"
    again = api.post("/api/plan/apply", "rm", json={"items": pick}, key="apply-1")
    assert again.json() == applied.json()
    plan = {e["title"]: e["scheduled"] for e in api.get("/api/plan", "rm").json()}
    assert plan == {"Chosen": True, "Left": False}
    assert left not in [s["request_id"] for s in applied.json()["scheduled"]]


def test_applying_a_plan_with_one_illegal_item_writes_nothing(api: Api) -> None:
    bundle = first_bundle(api)
    good = accepted_request(api)
    rejected = submit(api, title="Rejected one")
    api.post(f"/api/requests/{rejected}/reject", "rm", json={"reason": "no"})
    before = event_count(api)
    response = api.post(
        "/api/plan/apply",
        "rm",
        json={
            "items": [
                {"request_id": good, "bundle_id": bundle},
                {"request_id": rejected, "bundle_id": bundle},
            ]
        },
    )
    assert response.status_code == 409
    assert response.json()["rule"] == "request_not_accepted"
    assert response.json()["request_id"] == rejected
    name = api.get(f"/api/bundles/{bundle}", "rm").json()["name"]
    assert response.json()["detail"].startswith(f"“Rejected one” into {name}: ")
    assert event_count(api) == before


def test_release_notes_list_requests_by_department_and_category_with_owners_and_sponsors(
    api: Api,
) -> None:
    bundle = first_bundle(api)
    scheduled(api, bundle, accepted_request(api, title="Tariff *engine*", sponsor="Val Sales"))
    scheduled(
        api,
        bundle,
        accepted_request(
            api,
            as_="vp.care",
            title="<b>Agent</b> search",
            category="change_maintenance",
            sponsor="Cara Care",
        ),
    )
    markdown = api.get(f"/api/bundles/{bundle}/notes.md", "vp.sales")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    text = markdown.text
    assert "**Draft**" in text
    assert text.index("## Customer Care") < text.index("## Sales")
    assert "### Changes and maintenance" in text
    assert "### Business projects" in text
    assert r"Tariff \*engine\*" in text
    assert "owner Alice Dev (dev.alice), sponsor Val Sales" in text
    assert re.search(r"\*\*REQ-\d+ Tariff", text)  # named as people write it, not by UUID
    assert bundle not in text
    html = api.get(f"/api/bundles/{bundle}/notes.html", "vp.care")
    assert html.headers["content-type"].startswith("text/html")
    assert "&lt;b&gt;Agent&lt;/b&gt; search" in html.text
    assert "<b>Agent</b>" not in html.text
    assert "<h2>Sales</h2>" in html.text


def test_calendar_is_valid_icalendar_with_each_bundles_window_and_milestones(api: Api) -> None:
    train = define_train(api, generate=2)
    first = train["bundle_ids"][0]
    detail = api.get(f"/api/bundles/{first}", "rm").json()
    api.post(f"/api/bundles/{train['bundle_ids'][1]}/cancel", "rm", json={"reason": "merged"})
    response = api.get("/api/calendar.ics", "vp.sales")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 8  # two bundles: a window and three milestones each
    windows = [e for e in events if str(e["uid"]).startswith(f"{first}-window")]
    (window,) = windows
    assert window.decoded("dtstart") == datetime.fromisoformat(detail["window_start"])
    assert window.decoded("dtend") == datetime.fromisoformat(detail["window_end"])
    (freeze,) = [e for e in events if str(e["uid"]).startswith(f"{first}-scope-freeze")]
    assert freeze.decoded("dtstart") == datetime.fromisoformat(detail["scope_freeze_at"])
    assert str(window["status"]) == "CONFIRMED"
    cancelled = [e for e in events if "(cancelled)" in str(e["summary"])]
    assert len(cancelled) == 4
    assert {str(e["status"]) for e in cancelled} == {"CANCELLED"}
    assert all(e.decoded("sequence") == 1 for e in cancelled)


def test_a_moved_bundles_calendar_entries_say_where_it_moved_to(api: Api) -> None:
    """Its name keeps the date it was planned for; the entries say the date it deploys."""
    bundle = define_train(api, generate=1)["bundle_ids"][0]
    planned = date.fromisoformat(api.get(f"/api/bundles/{bundle}", "rm").json()["deploy_date"])
    later = (planned + timedelta(days=7)).isoformat()
    api.post(f"/api/bundles/{bundle}/move", "rm", json={"deploy_date": later, "reason": "ops"})
    events = Calendar.from_ical(api.get("/api/calendar.ics", "vp.sales").content).walk("VEVENT")
    assert len(events) == 4
    assert all(f"(moved to {later})" in str(e["summary"]) for e in events)
    assert all(e.decoded("sequence") == 1 for e in events)


def test_calendar_feed_secret_lets_a_calendar_client_subscribe_without_a_bearer_token(
    api: Api,
) -> None:
    """Calendar clients cannot send Authorization: a per-user feed secret is accepted on
    the feed route only, and stops working when revoked."""
    define_train(api, generate=1)
    issued = api.post("/api/calendar/feeds", "vp.sales", json={"label": "Outlook"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    path = issued.json()["subscribe_path"]
    feed = api.client.get(path + token)
    assert feed.status_code == 200
    assert len(list(Calendar.from_ical(feed.content).walk("VEVENT"))) == 4
    # The secret opens the calendar and nothing else.
    assert (
        api.client.get("/api/plan", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    assert api.client.get("/api/calendar/feed.ics").status_code == 401
    assert api.client.get(path + token[:-1] + "x").status_code == 401
    mine = api.get("/api/calendar/feeds", "vp.sales").json()
    assert [f["label"] for f in mine] == ["Outlook"]
    assert "secret_hash" not in mine[0]
    others = api.post(f"/api/calendar/feeds/{mine[0]['feed_id']}/revoke", "vp.care", json={})
    assert others.status_code == 403
    revoked = api.post(f"/api/calendar/feeds/{mine[0]['feed_id']}/revoke", "vp.sales", json={})
    assert revoked.json()["revoked"] is True
    assert api.client.get(path + token).status_code == 401


def test_a_deactivated_users_feed_stops_working(api: Api) -> None:
    token = api.post("/api/calendar/feeds", "vp.care", json={}).json()["token"]
    api.post("/api/users/vp.care/deactivate", "admin", json={"reason": "left"})
    assert api.client.get("/api/calendar/feed.ics", params={"token": token}).status_code == 401


def test_feed_secrets_never_reach_the_event_feed(api: Api) -> None:
    token = api.post("/api/calendar/feeds", "vp.sales", json={}).json()["token"]
    events = api.get("/api/events", "metrics.mo", params={"limit": 1000}).json()["events"]
    issued = [e for e in events if e["type"] == "CalendarFeed.Issued"]
    assert issued[0]["data"]["secret_hash"] == "[redacted]"
    assert token not in str(events)
    replay_key = api.post("/api/calendar/feeds", "vp.sales", json={}, key="feed-1")
    again = api.post("/api/calendar/feeds", "vp.sales", json={}, key="feed-1")
    assert replay_key.json()["token"]
    assert again.json()["token"] is None  # a secret is shown once, never replayed
