"""A fixed date is a promise: accepting or replanning to one already past, or years away
(a slip of the year), is refused as a deferral's date is (decision 119); one agreed that
has since passed does not stop the work being re-sized."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from services.intake.application import Intake
from services.intake.domain import ClassOfService
from services.intake.views import IntakeViews
from shared.application import acting_as
from tests.builders import draft, submit
from tests.conftest import Api


def test_accepting_with_a_fixed_date_past_or_years_away_is_refused(api: Api) -> None:
    request_id = submit(api)
    accept = f"/api/requests/{request_id}/accept"
    body = {"owner": "dev.alice", "size_points": 3, "class_of_service": "fixed_date"}
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    late = api.post(accept, "rm", json={**body, "fixed_date": yesterday})
    assert late.status_code == 422
    assert (late.json()["rule"], late.json()["field"]) == ("fixed_date_in_past", "fixed_date")
    far = api.post(accept, "rm", json={**body, "fixed_date": "9999-12-31"})
    assert (far.status_code, far.json()["rule"]) == (422, "fixed_date_too_far")
    assert "check the year" in far.json()["detail"]
    assert api.get(f"/api/requests/{request_id}", "rm").json()["status"] == "submitted"
    soon = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    assert api.post(accept, "rm", json={**body, "fixed_date": soon}).status_code == 200


def test_an_agreed_fixed_date_that_has_passed_does_not_stop_a_replan(api: Api) -> None:
    platform = api.platform
    intake = Intake(platform.log, IntakeViews(platform.log), platform.directory)
    month_ago = datetime.now(UTC) - timedelta(days=30)
    agreed = (month_ago + timedelta(days=10)).date()
    principal = platform.directory.principal("vp.sales")
    assert principal is not None
    with acting_as("vp.sales", at=month_ago):
        request_id = intake.submit(principal, draft()).id
    with acting_as("rm", at=month_ago):
        intake.accept(UUID(request_id), "dev.alice", 3, ClassOfService.FIXED_DATE, agreed)
    replan = f"/api/requests/{request_id}/replan"
    body = {"size_points": 8, "class_of_service": "fixed_date"}
    kept = api.post(replan, "rm", json={**body, "fixed_date": agreed.isoformat()})
    assert kept.status_code == 200, kept.text
    other = (agreed + timedelta(days=1)).isoformat()  # still past: a new date is checked
    moved = api.post(replan, "rm", json={**body, "fixed_date": other})
    assert (moved.status_code, moved.json()["rule"]) == (422, "fixed_date_in_past")
