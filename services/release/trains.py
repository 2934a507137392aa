"""Release trains: a named cadence whose bundles have known milestone dates.

A train does not hold its bundles; it says which deployment dates are due and what
each one's milestones are. Each due date (a "slot") becomes one `ReleaseBundle` whose id
is derived from the train and the slot, so generating twice never plans a slot twice,
and a bundle moved to another date still occupies its original slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from services.release.cadence import Cadence, MilestoneOffsets, Milestones, zone_named
from shared.domain import AuditedAggregate, InvalidCommand, business_now, name_based_id

MAX_CAPACITY = 10_000
MAX_HORIZON = 24

START_AHEAD_AT_MOST_DAYS = 2 * 366  # as far as a bundle may move (decision 119)
START_BEHIND_AT_MOST_DAYS = 366  # a train running for a year is defined with its real start


def train_id(name: str) -> UUID:
    return name_based_id("release-train", name)


def check_capacity(
    capacity_points: int, subsystem_capacity: Mapping[str, int], catalogue: Sequence[str]
) -> dict[str, int]:
    """Capacity in size points, in total and optionally per subsystem (catalogue names)."""
    if not 1 <= capacity_points <= MAX_CAPACITY:
        raise InvalidCommand(
            "capacity_out_of_range", f"capacity is between 1 and {MAX_CAPACITY} size points"
        )
    known = {name.casefold(): name for name in catalogue}
    checked: dict[str, int] = {}
    for name, points in subsystem_capacity.items():
        canonical = known.get(name.strip().casefold())
        if canonical is None:
            raise InvalidCommand(
                "unknown_subsystem",
                f"{name!r} is not in the subsystem catalogue",
                catalogue=list(catalogue),
            )
        if not 1 <= points <= capacity_points:
            raise InvalidCommand(
                "capacity_out_of_range",
                f"{canonical}'s capacity is between 1 and the bundle's {capacity_points} points",
            )
        checked[canonical] = points
    return checked


@dataclass(frozen=True)
class Slot:
    """One due deployment of a train, with its concrete milestones."""

    slot_date: date
    name: str
    milestones: Milestones


class ReleaseTrain(AuditedAggregate):
    """A named cadence with milestone offsets and the capacity its bundles start with."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return train_id(name)

    @classmethod
    def define(
        cls,
        *,
        name: str,
        cadence: Cadence,
        offsets: MilestoneOffsets,
        capacity_points: int,
        subsystem_capacity: Mapping[str, int],
        timezone: str,
        catalogue: Sequence[str],
    ) -> ReleaseTrain:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidCommand("name_required", "a train has a name of 1 to 100 characters")
        zone_named(timezone)
        today = (business_now() or datetime.now(UTC)).date()
        if (cadence.start_date - today).days > START_AHEAD_AT_MOST_DAYS:
            raise InvalidCommand(
                "date_too_far",
                f"{cadence.start_date} is over two years away: check the year",
            )
        if (today - cadence.start_date).days > START_BEHIND_AT_MOST_DAYS:
            raise InvalidCommand(
                "date_too_long_ago",
                f"{cadence.start_date} is more than a year ago: check the year; a train's"
                " start date is its first deployment, at most a year back",
                field="cadence.start_date",
            )
        return cls(
            name=name,
            cadence=cadence.to_json(),
            milestones=offsets.to_json(),
            capacity_points=capacity_points,
            subsystem_capacity=check_capacity(capacity_points, subsystem_capacity, catalogue),
            timezone=timezone,
        )

    @event("Defined")
    def __init__(
        self,
        name: str,
        cadence: dict[str, Any],
        milestones: dict[str, Any],
        capacity_points: int,
        subsystem_capacity: dict[str, int],
        timezone: str,
    ) -> None:
        self.name = name
        self.cadence = cadence
        self.milestones = milestones
        self.capacity_points = capacity_points
        self.subsystem_capacity = subsystem_capacity
        self.timezone = timezone

    def schedule(self) -> Cadence:
        return Cadence.from_json(self.cadence)

    def offsets(self) -> MilestoneOffsets:
        return MilestoneOffsets.parse(self.milestones)

    def milestones_for(self, deploy_date: date) -> Milestones:
        return self.offsets().for_deploy_date(deploy_date, zone_named(self.timezone))

    def upcoming(self, after: date, count: int) -> list[Slot]:
        """The next `count` deployments strictly after `after`, with their milestones."""
        if not 1 <= count <= MAX_HORIZON:
            raise InvalidCommand(
                "horizon_out_of_range", f"generate between 1 and {MAX_HORIZON} bundles at once"
            )
        return [
            Slot(day, f"{self.name} {day.isoformat()}", self.milestones_for(day))
            for day in self.schedule().upcoming(after, count)
        ]
