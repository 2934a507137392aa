"""A revision names what it changed, so that the CAB approving it again knows what it
approves: the fields, and what the short ones (window, title, subsystems, implementers,
risk) were; a plan's long text only as changed. Revisions recorded before they named
their changes still replay, and their history lines compare with the plan before."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from services.change_control.domain import ProductionChange
from services.change_control.domain.gates import GateFacts
from services.change_control.domain.risk import ApprovalPolicy
from services.change_control.views.changes import revised
from shared.domain import attributed_to
from shared.settings import DEFAULT_SUBSYSTEMS
from shared.store.log import PlainJSONTranscoder, RailyardMapper
from tests.change_control.builders import CARL, new_change, plan, window

WINDOW = window(starts_in=timedelta(days=3))


@pytest.fixture(autouse=True)
def acting() -> Iterator[None]:
    with attributed_to("dev.alice", "corr-1"):
        yield


def revise(change: ProductionChange, **overrides: Any) -> None:
    change.revise(
        editor="dev.alice",
        manager=False,
        plan=plan(**overrides),
        catalogue=DEFAULT_SUBSYSTEMS,
        policy=ApprovalPolicy(),
        facts=GateFacts(),
    )


def test_a_revision_records_which_fields_changed_and_what_the_short_ones_were() -> None:
    change = new_change(window=WINDOW)
    change.approve(CARL, GateFacts())
    later = dataclasses.replace(WINDOW, end=WINDOW.end + timedelta(hours=1))
    revise(change, window=later, implementation_plan="Patch the replica first.")
    event = change.collect_events()[-1]
    assert type(event).__name__ == "Revised"
    assert event.changed == ["window_end", "implementation_plan"]  # type: ignore[attr-defined]
    assert event.previous == {"window_end": WINDOW.end_iso}  # type: ignore[attr-defined]


def test_a_revision_recorded_before_changes_were_named_still_replays() -> None:
    """An old Revised event, without `changed` and `previous`, loads as before."""
    change = new_change(window=WINDOW)
    revise(change, title="Patch v2")
    mapper = RailyardMapper(transcoder=PlainJSONTranscoder())
    replayed: Any = None
    for stored in [mapper.to_stored_event(e) for e in change.collect_events()]:
        state = orjson.loads(stored.state)
        state.pop("changed", None)
        state.pop("previous", None)
        old = dataclasses.replace(stored, state=orjson.dumps(state))
        event: Any = mapper.to_domain_event(old)
        replayed = event.mutate(replayed)
    assert isinstance(replayed, ProductionChange)
    assert (replayed.title, replayed.revision) == ("Patch v2", 2)


REVISION: dict[str, Any] = {
    "revision": 2,
    "approvals_voided": ["cab.carl"],
    "title": "Patch the billing database",
    "subsystems": ["Billing", "CRM"],
    "window_start": "2026-12-15T16:00:00+00:00",
    "window_end": "2026-12-15T19:00:00+00:00",
    "implementers": ["dev.alice"],
    "risk": "medium",
    "implementation_plan": "Patch the replica first.",
}


def test_a_revisions_history_line_says_what_changed_from_and_to_in_the_business_zone() -> None:
    """The window's times in the business time zone, named; a plan's text only as changed."""
    data = {
        **REVISION,
        "changed": ["subsystems", "window_end", "implementation_plan", "risk"],
        "previous": {
            "subsystems": ["Billing"],
            "window_end": "2026-12-15T18:00:00+00:00",
            "risk": "low",
        },
    }
    assert revised(data, zone=ZoneInfo("Europe/London")) == (
        "revised the change (revision 2): subsystems from Billing to Billing, CRM;"
        " window end from 15 Dec 2026 18:00 to 19:00 GMT; risk from low to medium;"
        " implementation plan changed; approvals voided: cab.carl"
    )


def test_an_older_revisions_history_line_compares_with_the_plan_before_it() -> None:
    before = {**REVISION, "window_end": "2026-12-15T18:00:00+00:00"}
    assert revised(REVISION, before) == (
        "revised the change (revision 2): window end from 15 Dec 2026 18:00 to 19:00 UTC;"
        " approvals voided: cab.carl"
    )
    assert revised(REVISION) == "revised the change (revision 2); approvals voided: cab.carl"
