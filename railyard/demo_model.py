"""The demo organisation's shape: its people, its work items, and what multitasking costs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from services.intake.domain import Category, SizeEstimate

DEPARTMENTS = ("Sales", "Customer Care", "Marketing", "Finance", "Network Services", "Billing Ops")
DEVELOPERS = tuple(f"dev.{n}" for n in ("ana", "ben", "chen", "dara", "eli", "femi", "gus", "hana"))
CATEGORIES = (
    (Category.BUSINESS_PROJECT, 0.3), (Category.IT_PROJECT, 0.15),
    (Category.CHANGE_MAINTENANCE, 0.4), (Category.UNPLANNED, 0.15),
)  # fmt: skip
SIZES = ((SizeEstimate.XS, 1), (SizeEstimate.S, 2), (SizeEstimate.M, 5), (SizeEstimate.L, 8),
         (SizeEstimate.XL, 13))  # fmt: skip
ARRIVALS_PER_WEEK = 6.5
TEAM_POINTS_PER_WEEK = 64.0
IN_PLAY_AT_START = 325
JUGGLED = 60  # year one: how many requests the programmers have started at once
SWITCHING = 17  # items in flight that halve what the team gets done


def efficiency(active: float) -> float:
    """Share of the team's capacity left after switching between `active` items."""
    return 1 / (1 + active / SWITCHING)


@dataclass
class Work:
    id: UUID
    number: int  # order of submission: ties are broken by it, never by the random id
    department: str
    points: int
    submitted: date
    desired: date
    accepted: date | None = None
    done: float = 0.0
    started: bool = False
    promised: date | None = None
    missed_promise: bool = False
    deferred: bool = False
    bundle: UUID | None = None  # year two: the release bundle it is scheduled into
    stage: str | None = None  # how far release has been told it is


TOPICS = (
    "bill shock alerts", "self-service SIM swap", "dunning letters", "agent desktop search",
    "port-in tracking", "loyalty offers", "usage reports", "fraud flags", "direct debit retry",
    "outage notices", "roaming caps", "call-back scheduling", "tariff migration",
    "address validation", "invoice redesign", "churn dashboard",
)  # fmt: skip


@dataclass
class Organisation:
    """The simulated state: what is waiting, in progress, and promised."""

    waiting: dict[UUID, Work] = field(default_factory=dict)  # submitted or deferred
    accepted: dict[UUID, Work] = field(default_factory=dict)  # accepted, not delivered
    points_done: list[float] = field(default_factory=list)  # work done, week by week
    submitted: int = 0  # requests submitted so far
    pending_ratings: list[tuple[date, Work, date]] = field(default_factory=list)

    @property
    def in_play(self) -> int:
        return len(self.waiting) + len(self.accepted)
