"""Intake's view of release planning, folded from release's published events only."""

from __future__ import annotations

import uuid
from typing import Any

from services.intake.schedule import Schedule
from shared import contracts as c
from shared.platform import Platform
from tests.foreign import publish

PLANNED: dict[str, Any] = {
    "train_id": str(uuid.uuid4()), "window_start": "2027-03-18T20:00:00+00:00",
    "window_end": "2027-03-18T23:00:00+00:00", "scope_freeze_at": "2027-03-01T00:00:00+00:00",
    "code_complete_at": "2027-03-08T00:00:00+00:00", "qa_start_at": "2027-03-09T00:00:00+00:00",
    "capacity_points": 40, "subsystem_capacity": {},
}  # fmt: skip


def plan_bundle(platform: Platform, name: str, day: str) -> uuid.UUID:
    bundle = uuid.uuid4()
    publish(platform.log, c.BUNDLE_PLANNED, bundle, 1, name=name, deploy_date=day, **PLANNED)
    return bundle


def test_a_request_follows_its_bundle_through_moves_stages_and_deployment(
    platform: Platform,
) -> None:
    """Scheduled, moved, progressed, signed off and deployed: the placement says so."""
    request = str(uuid.uuid4())
    bundle = plan_bundle(platform, "2027.03", "2027-03-18")
    log = platform.log
    publish(log, c.REQUEST_SCHEDULED, bundle, 2, request_id=request, size_points=5,
            subsystems=["CRM"], after_freeze=False, reason="")  # fmt: skip
    publish(log, c.BUNDLE_MOVED, bundle, 3, deploy_date="2027-03-25", window_start="",
            window_end="", scope_freeze_at="", code_complete_at="", qa_start_at="",
            reason="CAB asked")  # fmt: skip
    publish(log, c.ITEM_PROGRESSED, bundle, 4, request_id=request, stage="ready_for_qa", note="")
    schedule = Schedule(log)
    placement = schedule.placements([request])[request]
    assert (placement.bundle_name, placement.deploy_date, placement.stage) == (
        "2027.03",
        "2027-03-25",
        "ready_for_qa",
    )
    publish(log, c.QA_SIGNED_OFF, bundle, 5, request_ids=[request])
    assert schedule.placements([request])[request].stage == "qa_passed"
    publish(log, c.BUNDLE_DEPLOYED, bundle, 6, change_id="c1", request_ids=[request])
    placement = schedule.placements([request])[request]
    assert (placement.stage, placement.bundle_status) == ("deployed", "deployed")


def test_unscheduled_or_cancelled_work_has_no_bundle(platform: Platform) -> None:
    """Taking a request out, or cancelling its bundle, leaves it unplanned; moving it to
    another bundle keeps only the new one."""
    log = platform.log
    first = plan_bundle(platform, "2027.03", "2027-03-18")
    second = plan_bundle(platform, "2027.04", "2027-04-15")
    moved, removed = str(uuid.uuid4()), str(uuid.uuid4())
    for version, request in enumerate((moved, removed), start=2):
        publish(log, c.REQUEST_SCHEDULED, first, version, request_id=request, size_points=3,
                subsystems=["CRM"], after_freeze=False, reason="")  # fmt: skip
    publish(log, c.REQUEST_UNSCHEDULED, first, 4, request_id=moved, after_freeze=True,
            reason="slipped")  # fmt: skip
    publish(log, c.REQUEST_SCHEDULED, second, 2, request_id=moved, size_points=3,
            subsystems=["CRM"], after_freeze=False, reason="")  # fmt: skip
    publish(log, c.BUNDLE_CANCELLED, first, 5, reason="no capacity")
    placements = Schedule(log).placements()
    assert removed not in placements
    assert placements[moved].bundle_name == "2027.04"
