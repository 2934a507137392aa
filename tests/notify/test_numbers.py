"""Notifications name requests and changes by the references people type (REQ-12,
CHG-7), counted in log order as intake and change control count them, also where the
lookups were folded by a version that had no numbers."""

from __future__ import annotations

from typing import Any

import orjson

from shared.store.projections import ProjectionGroup
from tests.notify.conftest import Notify, submit
from tests.notify.test_routing import raise_change

REQUESTS, CHANGES = "notify_requests", "notify_changes"


def subjects(notify: Notify, event_type: str) -> set[str]:
    with notify.platform.log.db.transaction() as cur:
        cur.execute(
            f"SELECT payload FROM {notify.platform.log.table('notify_outbox')}"
            " WHERE event_type = :t",
            {"t": event_type},
        )
        return {orjson.loads(r["payload"])["message"]["subject"] for r in cur.fetchall()}


def numbers(notify: Notify, table: str) -> dict[str, Any]:
    with notify.platform.log.db.transaction() as cur:
        cur.execute(f"SELECT title, number FROM {notify.platform.log.table(table)}")
        return {r["title"]: r["number"] for r in cur.fetchall()}


def test_the_release_manager_hears_of_a_new_request_by_its_reference(notify: Notify) -> None:
    submit(notify.platform, "Bill shock alerts")
    submit(notify.platform, "Roaming caps")
    notify.follow_log()
    assert subjects(notify, "ChangeRequest.Submitted") == {
        "New request from Sales: REQ-1 “Bill shock alerts”",
        "New request from Sales: REQ-2 “Roaming caps”",
    }


def test_the_cab_hears_of_a_raised_change_by_its_reference(notify: Notify) -> None:
    start, end = "2027-01-05T20:00:00+00:00", "2027-01-05T21:00:00+00:00"
    raise_change(notify, "Patch DB", ["Billing"], start, end)
    notify.follow_log()
    assert subjects(notify, "ProductionChange.Raised") == {
        "Awaiting your approval: normal change CHG-1 “Patch DB”"
    }


def test_the_cab_reads_a_raised_changes_window_as_times_not_stamps(notify: Notify) -> None:
    """It read "window 2027-01-05T20:00:00+00:00 to 2027-01-05T21:00:00+00:00"."""
    start, end = "2027-01-05T20:00:00+00:00", "2027-01-05T21:00:00+00:00"
    raise_change(notify, "Patch DB", ["Billing"], start, end)
    notify.follow_log()
    with notify.platform.log.db.transaction() as cur:
        cur.execute(
            f"SELECT payload FROM {notify.platform.log.table('notify_outbox')}"
            " WHERE event_type = 'ProductionChange.Raised'"
        )
        bodies = {" ".join(orjson.loads(r["payload"])["message"]["lines"]) for r in cur.fetchall()}
    assert bodies == {
        "Risk low; subsystems Billing; window 2027-01-05 20:00 UTC to 2027-01-05 21:00 UTC."
    }


def test_lookups_folded_without_numbers_are_numbered_from_the_log(notify: Notify) -> None:
    for title in ("First", "Second", "Third"):
        submit(notify.platform, title)
    for title, day in (("Patch A", "2027-01-05"), ("Patch B", "2027-02-05")):
        raise_change(notify, title, ["CRM"], f"{day}T20:00:00+00:00", f"{day}T21:00:00+00:00")
    notify.follow_log()
    log = notify.platform.log
    with log.db.transaction(write=True) as cur:  # as a version without numbers left them
        for table in (REQUESTS, CHANGES):
            cur.execute(f"DROP INDEX IF EXISTS {log.table(table + '_number')}")
            cur.execute(f"ALTER TABLE {log.table(table)} DROP COLUMN number")
    upgraded = ProjectionGroup(log, notify.service.group.projections)
    upgraded.setup()  # what the next start of the service does
    assert numbers(notify, REQUESTS) == {"First": 1, "Second": 2, "Third": 3}
    assert numbers(notify, CHANGES) == {"Patch A": 1, "Patch B": 2}
    submit(notify.platform, "Fourth")  # and counting goes on from there
    upgraded.catch_up()
    assert numbers(notify, REQUESTS)["Fourth"] == 4
    assert "New request from Sales: REQ-4 “Fourth”" in subjects(notify, "ChangeRequest.Submitted")


def test_what_a_person_was_told_lately_reads_newest_first_by_when_it_happened(
    notify: Notify,
) -> None:
    """A history written with its own times (the demo's, an import) listed 13:21, 11:46,
    14:19: by when each was written to the log, not when it happened."""
    from datetime import UTC, datetime

    from services.intake.application import Intake
    from services.intake.views import IntakeViews
    from shared.application import acting_as
    from tests.builders import draft

    platform = notify.platform
    intake = Intake(platform.log, IntakeViews(platform.log), platform.directory)
    principal = platform.directory.principal("vp.sales")
    assert principal is not None
    for title, hour in (("Later", 14), ("Earlier", 11), ("Middle", 13)):
        with acting_as("vp.sales", at=datetime(2026, 12, 1, hour, tzinfo=UTC)):
            intake.submit(principal, draft(title=title))
    notify.follow_log()
    told = notify.service.views.told("rm")
    assert [m["at"][11:13] for m in told] == ["14", "13", "11"]
