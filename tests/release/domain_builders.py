"""Test-data builders for release's domain: a train, a bundle, a request's facts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

from services.release.cadence import DEFAULT_OFFSETS, Cadence, MilestoneOffsets
from services.release.domain import ReleaseBundle, RequestFacts
from services.release.placements import RequestPlacement
from services.release.trains import ReleaseTrain
from shared.settings import DEFAULT_SUBSYSTEMS

# A monthly train on the second Tuesday: the March 2027 bundle deploys on 9 March, its
# scope freezes on 23 February at 17:00 and QA starts on 2 March at 09:00 (UTC).
BEFORE_FREEZE = datetime(2027, 2, 1, 10, tzinfo=UTC)
AFTER_FREEZE = datetime(2027, 2, 25, 10, tzinfo=UTC)
IN_QA = datetime(2027, 3, 3, 10, tzinfo=UTC)


def monthly_train(capacity: int = 10, subsystems: dict[str, int] | None = None) -> ReleaseTrain:
    return ReleaseTrain.define(
        name="Monthly",
        cadence=Cadence.monthly("tuesday", 2, date(2027, 1, 1)),
        offsets=MilestoneOffsets.parse(DEFAULT_OFFSETS),
        capacity_points=capacity,
        subsystem_capacity=subsystems or {},
        timezone="UTC",
        catalogue=DEFAULT_SUBSYSTEMS,
    )


def march_bundle(
    capacity: int = 10, subsystems: dict[str, int] | None = None, month: int = 3
) -> ReleaseBundle:
    """The train's bundle of `month` 2027 (March unless told)."""
    train = monthly_train(capacity, subsystems)
    (slot,) = train.upcoming(date(2027, month, 1), 1)
    return ReleaseBundle.plan(
        train=train.id,
        name=slot.name,
        slot_date=slot.slot_date,
        milestones=slot.milestones,
        capacity_points=train.capacity_points,
        subsystem_capacity=train.subsystem_capacity,
    )


def facts(
    size: int = 3, status: str = "accepted", subsystems: Sequence[str] = ("Billing",)
) -> RequestFacts:
    return RequestFacts(str(uuid.uuid4()), status, size, tuple(subsystems))


def placement(request: RequestFacts) -> RequestPlacement:
    return RequestPlacement(request_id=request.request_id)
