"""The weekly status report reaches who reads the organisation's figures: the release
manager by default, anyone else of those roles once they choose it, never a VP."""

from __future__ import annotations

import uuid

from services.notify.domain import Channel, Topic
from shared import contracts as c
from shared.application import acting_as
from tests.foreign import publish
from tests.notify.conftest import Notify
from tests.notify.test_change_people import told_about
from tests.notify.test_routing import recipients

FIGURES = {
    "delivered": 12, "median_cycle_time_days": 9, "p85_cycle_time_days": 21.5,
    "work_in_progress": 38, "satisfaction": 4.333333, "deployments": 3,
    "change_failure_rate": 0.0,
}  # fmt: skip


def issue(notify: Notify, week: str, at_risk: int = 2) -> None:
    counts = {"submitted": 7, "triaged": 5, "delivered": 12, "slipped": 1, "at_risk": at_risk,
              "unauthorised_changes": 0}  # fmt: skip
    publish(notify.platform.log, c.WEEKLY_REPORT_ISSUED, uuid.uuid4(), 1, actor="railyard",
            week=week, start="2026-11-23", end="2026-11-29", counts=counts,
            key_figures=FIGURES)  # fmt: skip


def test_the_release_manager_hears_of_each_weekly_report_and_others_when_they_choose(
    notify: Notify,
) -> None:
    issue(notify, "2026-W48")
    assert recipients(notify, "WeeklyReport.Issued") == {"rm": "email"}
    (row,) = notify.outbox("rm")
    assert row["topic"] == "weekly_report"
    assert told_about(notify, "rm") == ["Weekly status report 2026-W48: 12 delivered, 2 at risk"]
    assert "/dashboard/weekly?week=2026-W48" in row["payload"]
    assert (
        "Median cycle time 9 days; work in progress 38; satisfaction 4.33 of 5;"
        " 3 deployments, change failure rate 0%."
    ) in row["payload"]
    carl = notify.platform.directory.principal("cab.carl")
    vp = notify.platform.directory.principal("vp.sales")
    assert carl is not None
    assert vp is not None
    assert Topic.WEEKLY_REPORT.value in notify.notifications.preferences(carl).channels
    with acting_as("cab.carl"):
        notify.notifications.choose(carl, Topic.WEEKLY_REPORT, Channel.DIGEST)
    issue(notify, "2026-W49")
    assert recipients(notify, "WeeklyReport.Issued") == {"rm": "email", "cab.carl": "digest"}
    assert told_about(notify, "cab.carl") == [
        "Weekly status report 2026-W49: 12 delivered, 2 at risk"
    ]
    assert notify.outbox("vp.sales") == []  # a VP's figures are their department's


def test_a_week_without_deliveries_or_ratings_says_so_rather_than_showing_dashes(
    notify: Notify,
) -> None:
    quiet = {**FIGURES, "median_cycle_time_days": None, "p85_cycle_time_days": None,
             "satisfaction": None, "deployments": 1, "change_failure_rate": None}  # fmt: skip
    publish(notify.platform.log, c.WEEKLY_REPORT_ISSUED, uuid.uuid4(), 1, actor="railyard",
            week="2026-W48", start="2026-11-23", end="2026-11-29",
            counts=dict.fromkeys(("submitted", "triaged", "delivered", "slipped", "at_risk",
                                  "unauthorised_changes"), 0),
            key_figures=quiet)  # fmt: skip
    recipients(notify, "WeeklyReport.Issued")
    (row,) = notify.outbox("rm")
    assert (
        "No cycle time (nothing delivered); work in progress 38; no rating; 1 deployment."
    ) in row["payload"]
