"""A scripted quarter, as the issue's "How it will be checked" describes it: a release
manager runs a monthly train through plan, freeze, a late exception and QA sign-off; a
VP reads target dates and subscribes to the calendar; the log answers what a bundle's
scope was at a past moment. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import Calendar

from services.intake.application import Intake
from services.intake.domain import ClassOfService
from services.intake.views import IntakeViews
from services.release.application import Releases, TrainDraft
from services.release.cadence import DEFAULT_OFFSETS, Cadence, MilestoneOffsets
from services.release.queries import ReleaseViews
from shared.application import acting_as
from shared.identity.domain import Principal
from tests.builders import draft
from tests.conftest import Api
from tests.release.builders import (
    accepted_request,
    define_train,
    first_bundle,
    pass_qa,
    progress,
    scheduled,
)
from tests.release.test_reactions import approve, complete, follow, raise_change


def items_of(body: dict[str, Any]) -> list[str]:
    return [i["request_id"] for i in body["items"]]


def test_a_quarter_of_a_monthly_train(api: Api) -> None:
    # The release manager sets up a monthly train: three bundles of 12 points.
    train = define_train(api, name="Quarterly business releases", capacity_points=12)
    first, second, third = train["bundle_ids"]

    # Triage accepted work from two departments; the VPs rank their own.
    sales = [accepted_request(api, title=f"Sales {n}", size=4) for n in (1, 2, 3)]
    care = [accepted_request(api, as_="vp.care", title=f"Care {n}", size=4) for n in (1, 2)]
    outage = accepted_request(
        api, as_="vp.care", title="Outage fix", size=2, class_of_service="expedite"
    )
    api.put("/api/departments/Sales/ranking", "vp.sales", json={"order": sales[::-1]})

    # Take the suggested plan, all of it.
    suggestion = api.get("/api/plan/suggestion", "rm").json()
    assert suggestion["unplaced"] == []
    assert suggestion["proposals"][0]["request_id"] == outage
    items = [
        {"request_id": p["request_id"], "bundle_id": p["bundle_id"]}
        for p in suggestion["proposals"]
    ]
    applied = api.post("/api/plan/apply", "rm", json={"items": items}, key="q1-plan")
    assert applied.status_code == 200, applied.text

    # A VP sees a target date for each accepted request.
    plan = api.get("/api/plan", "vp.sales").json()
    assert {e["request_id"] for e in plan} == {*sales, *care, outage}
    bundles = {b["id"]: b for b in api.get("/api/bundles", "vp.sales").json()}
    for entry in plan:
        assert entry["target_date"] == bundles[entry["bundle_id"]]["deploy_date"]
    sales_plan = [e for e in plan if e["department"] == "Sales"]
    assert [e["request_id"] for e in sales_plan] == sales[::-1]  # their own ranking
    assert [e["target_date"] for e in sales_plan] == sorted(e["target_date"] for e in sales_plan)
    scope_as_planned = items_of(api.get(f"/api/bundles/{first}", "rm").json())
    planned_at = datetime.now(UTC)

    # Freeze the first bundle, then a late exception the release manager approves.
    api.post(f"/api/bundles/{first}/freeze", "rm", json={"note": "scope agreed"})
    late = accepted_request(api, as_="vp.care", title="Regulatory notice", size=1)
    refused = api.post(f"/api/bundles/{first}/requests", "rm", json={"request_id": late})
    assert refused.json()["rule"] == "scope_frozen"
    scheduled(api, first, late, reason="regulator's deadline")
    churn = api.get(f"/api/bundles/{first}/churn", "vp.care").json()
    assert (churn["added_after_freeze"], churn["removed_after_freeze"]) == (1, 0)

    # IT staff build and test; QA signs off.
    for request_id in items_of(api.get(f"/api/bundles/{first}", "rm").json()):
        assert progress(api, first, request_id, "in_development", "dev.alice").status_code == 200
        pass_qa(api, first, request_id)
    signed = api.post(f"/api/bundles/{first}/sign-off", "qa.quinn", json={"note": "all green"})
    assert signed.json()["status"] == "qa_signed_off"
    signed_at = datetime.now(UTC)

    # The VP subscribes to the calendar feed in a real iCalendar parser.
    issued = api.post("/api/calendar/feeds", "vp.sales", json={"label": "my calendar"}).json()
    feed = api.client.get(issued["subscribe_path"] + issued["token"])
    assert feed.status_code == 200
    calendar = Calendar.from_ical(feed.content)
    windows = {
        str(e["uid"]).removesuffix("-window@railyard"): e
        for e in calendar.walk("VEVENT")
        if str(e["uid"]).endswith("-window@railyard")
    }
    assert set(windows) == {first, second, third}
    for bundle_id, event in windows.items():
        assert event.decoded("dtstart") == datetime.fromisoformat(
            bundles[bundle_id]["window_start"]
        )

    # Change control deploys the bundle; intake marks its requests delivered.
    change = raise_change(api, first)
    approve(api, change)
    complete(api, change, first, "succeeded")
    follow(api)
    follow(api)
    shipped = items_of(api.get(f"/api/bundles/{first}", "rm").json())
    for request_id in shipped:
        assert api.get(f"/api/requests/{request_id}", "vp.care").json()["status"] == "delivered"
    notes = api.get(f"/api/bundles/{first}/notes.md", "vp.sales").text
    assert f"under production change `{change}`" in notes
    assert "1 scope exception(s) after the freeze" in notes

    # What was the first bundle's scope at a past moment? What the log implies.
    then = api.get(f"/api/bundles/{first}/as-of", "vp.sales", params={"at": planned_at.isoformat()})
    assert then.status_code == 200, then.text
    assert items_of(then.json()) == scope_as_planned
    assert then.json()["status"] == "planning"
    later = api.get(f"/api/bundles/{first}/as-of", "rm", params={"at": signed_at.isoformat()})
    assert items_of(later.json()) == [*scope_as_planned, late]
    assert later.json()["status"] == "qa_signed_off"
    assert later.json()["items"][-1]["after_freeze"] is True
    assert api.get(f"/api/bundles/{first}", "rm").json()["status"] == "deployed"


def test_as_of_a_past_date_answers_from_imported_history(api: Api) -> None:
    """History recorded with its real business times: the scope on each date is the one
    those events imply, and before the bundle was planned there is none."""
    log = api.platform.log
    intake = Intake(log, IntakeViews(log), api.platform.directory)
    views = ReleaseViews(log)
    releases = Releases(log, views)
    vp = api.platform.directory.principal("vp.sales")
    assert isinstance(vp, Principal)

    def on(day: int, month: int = 1) -> datetime:
        return datetime(2026, month, day, 12, tzinfo=UTC)

    def accepted_on(moment: datetime, title: str) -> uuid.UUID:
        with acting_as("vp.sales", at=moment):
            ref = intake.submit(vp, draft(title=title))
        with acting_as("rm", at=moment):
            intake.accept(uuid.UUID(ref.id), "dev.alice", 3, ClassOfService.STANDARD, None)
        return uuid.UUID(ref.id)

    with acting_as("rm", at=on(4)):
        train = releases.define_train(
            TrainDraft(
                "Imported",
                Cadence.monthly("tuesday", 2, date(2026, 1, 1)),
                MilestoneOffsets.parse(DEFAULT_OFFSETS),
                20,
            ),
            generate=2,
        )
    bundle = uuid.UUID(train.bundle_ids[1])  # deploys on Tuesday 10 February 2026
    a, b, c = (accepted_on(on(5), title) for title in ("A", "B", "C"))
    with acting_as("rm", at=on(10)):
        releases.schedule(bundle, a, None)
        releases.schedule(bundle, b, None)
    with acting_as("rm", at=on(28)):  # after the 27 January freeze date
        releases.schedule(bundle, c, "exception agreed with Sales")
    with acting_as("rm", at=on(1, 2)):
        releases.unschedule(bundle, a, "vendor late")

    def scope_on(day: str) -> Any:
        return api.get(f"/api/bundles/{bundle}/as-of", "vp.sales", params={"on": day})

    assert scope_on("2026-01-03").status_code == 404
    assert scope_on("2026-01-03").json()["rule"] == "bundle_not_yet_planned"
    assert (
        items_of(scope_on("2026-01-04").json()),
        scope_on("2026-01-04").json()["deploy_date"],
    ) == (
        [],
        "2026-02-10",
    )
    assert items_of(scope_on("2026-01-15").json()) == [str(a), str(b)]
    assert scope_on("2026-01-15").json()["status"] == "planning"
    assert items_of(scope_on("2026-01-29").json()) == [str(a), str(b), str(c)]
    assert scope_on("2026-01-29").json()["status"] == "scope_frozen"
    assert items_of(scope_on("2026-02-03").json()) == [str(b), str(c)]
    assert scope_on("2026-02-03").json()["status"] == "in_qa"
    instant = api.get(
        f"/api/bundles/{bundle}/as-of", "rm", params={"at": "2026-01-10T11:59:59+00:00"}
    )
    assert items_of(instant.json()) == []
    both = api.get(f"/api/bundles/{bundle}/as-of", "rm", params={"at": "x", "on": "2026-01-10"})
    assert both.status_code == 422
    neither = api.get(f"/api/bundles/{bundle}/as-of", "rm")
    assert neither.json()["rule"] == "as_of_required"


def test_a_bundle_as_of_a_day_after_today_is_refused_as_metrics_as_of_is(api: Api) -> None:
    """It answered today's scope as a fact of a day still to come: a day after today in
    the business time zone, or an instant later than now, is 422 as_of_in_future, as the
    metrics' as_of is; today itself is answered."""
    bundle = first_bundle(api)
    zone = api.platform.settings.zone
    today = datetime.now(zone).date()
    tomorrow = today + timedelta(days=1)

    def as_of(**params: str) -> Any:
        return api.get(f"/api/bundles/{bundle}/as-of", "vp.sales", params=params)

    refused = as_of(on=tomorrow.isoformat())
    assert (refused.status_code, refused.headers["content-type"]) == (
        422,
        "application/problem+json",
    )
    assert refused.json()["rule"] == "as_of_in_future"
    assert refused.json()["detail"].startswith(
        f"on={tomorrow.isoformat()} is after today ({today.isoformat()} in the business time zone)"
    )
    later = as_of(at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert (later.status_code, later.json()["rule"]) == (422, "as_of_in_future")
    assert as_of(on=today.isoformat()).status_code == 200
