"""Each week's status report is issued to the log once, the Monday after at the digest
hour, so that the people who subscribe are told where things stand without asking."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.metrics.application import MetricsQueries
from services.metrics.issuing import ReportIssuer
from services.metrics.views import MetricsViews
from shared import contracts as c
from shared.platform import Platform
from tests.foreign import publish

DIGEST_HOUR = 8  # the settings' default: reports are due Monday 08:00, business time (UTC)
MONDAY_BEFORE = datetime(2026, 11, 16, 7, 59, tzinfo=UTC)
MONDAY_DUE = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def issuer(platform: Platform) -> ReportIssuer:
    return ReportIssuer(platform.log, MetricsQueries(MetricsViews(platform.log)))


def submitted(platform: Platform, at: datetime, title: str = "Bill shock alerts") -> None:
    publish(
        platform.log, c.REQUEST_SUBMITTED, uuid.uuid4(), 1, actor="vp.sales", at=at,
        title=title, department="Sales", sponsor="Val", category="business_project",
        subsystems=["Billing"], size_estimate="M", desired_date=None, requester="vp.sales",
    )  # fmt: skip


def issued(platform: Platform) -> list[dict[str, Any]]:
    return [e.data for e in platform.log.entries(0, 10_000) if e.type == "WeeklyReport.Issued"]


def test_last_weeks_report_is_issued_once_the_monday_after_at_the_digest_hour(
    platform: Platform,
) -> None:
    assert platform.settings.digest_hour == DIGEST_HOUR
    submitted(platform, datetime(2026, 11, 10, 9, 0, tzinfo=UTC))  # week 46 (9-15 November)
    submitted(platform, datetime(2026, 11, 13, 9, 0, tzinfo=UTC), "Roaming caps")
    reports = issuer(platform)
    # Before the hour, the report due is week 45's, and the log began after it.
    assert reports.issue_due(MONDAY_BEFORE) is None
    assert reports.issue_due(MONDAY_DUE) == "2026-W46"
    assert reports.issue_due(MONDAY_DUE) is None  # once
    assert reports.issue_due(datetime(2026, 11, 20, 12, 0, tzinfo=UTC)) is None
    (report,) = issued(platform)
    assert report["week"] == "2026-W46"
    assert (report["start"], report["end"]) == ("2026-11-09", "2026-11-15")
    assert report["counts"]["submitted"] == 2
    assert report["counts"]["delivered"] == 0
    assert report["key_figures"]["delivered"] == 0
    # A process that was down on Monday issues it when it is back: week 47 on Wednesday.
    assert reports.issue_due(datetime(2026, 11, 25, 15, 0, tzinfo=UTC)) == "2026-W47"


def test_two_processes_issuing_at_once_put_one_report_in_the_log(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted(platform, datetime(2026, 11, 10, 9, 0, tzinfo=UTC))
    first, second = issuer(platform), issuer(platform)
    week = second.due(MONDAY_DUE)
    assert week == "2026-W46"
    assert first.issue_due(MONDAY_DUE) == "2026-W46"
    monkeypatch.setattr(second, "due", lambda now: week)  # it looked before the other wrote
    assert second.issue_due(MONDAY_DUE) is None
    assert len(issued(platform)) == 1


def test_no_report_is_issued_for_a_week_before_the_first_request(platform: Platform) -> None:
    assert issuer(platform).issue_due(MONDAY_DUE) is None  # no request yet
    submitted(platform, datetime(2026, 11, 16, 7, 0, tzinfo=UTC))  # the week being issued
    assert issuer(platform).issue_due(datetime(2026, 11, 17, 9, 0, tzinfo=UTC)) is None
    assert issued(platform) == []
