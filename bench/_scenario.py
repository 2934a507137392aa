"""What the command benchmarks do, the same for the HTTP API and for the library baseline:
who submits and who approves, what a submitted request says, and the production changes
waiting for the board.

Each change waiting for approval is a medium-risk normal change (two CAB approvals
needed), approved once during the whole run, so every approval is one real command that
records one `ApprovalRecorded` event and leaves the change in review. Their windows do
not overlap, so none conflicts with another (as changes on a real calendar mostly don't).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from services.change_control.domain import ChangePlan, ProductionChange
from services.change_control.domain.gates import GateFacts
from services.change_control.domain.risk import (
    AffectedUsers,
    ApprovalPolicy,
    Impact,
    Likelihood,
    Questionnaire,
    Reviewer,
)
from services.change_control.domain.values import ChangeType, Window
from services.intake.domain import Category, ChangeRequest, SizeEstimate
from shared.domain import attributed_to
from shared.settings import DEFAULT_SUBSYSTEMS

DEPARTMENTS = ("Sales", "Customer Care", "Finance", "Marketing", "Network", "Billing Ops")
CATEGORIES = ("business_project", "it_project", "change_maintenance", "unplanned")
SIZES = ("XS", "S", "M", "L", "XL")
IMPLEMENTER = "dev.bench"
CAB_TEAM = "development"

_VERBS = (
    "Add", "Fix", "Replace", "Speed up", "Report on", "Automate", "Retire", "Audit",
    "Simplify", "Move", "Split", "Validate",
)  # fmt: skip
_THINGS = (
    "bill shock alerts", "porting requests", "prepaid top-ups", "roaming charges",
    "the agent desktop search", "dunning letters", "order fallout", "number recycling",
    "fraud flags", "tariff migration", "the self-care login", "SIM swaps",
    "handset financing", "credit checks", "payment plans", "field technician routing",
    "outage notices", "contract renewals", "device returns", "loyalty points",
    "e-invoices", "address validation", "family plan sharing", "usage reports",
)  # fmt: skip
_WHERE = (
    "by SMS", "for business accounts", "in the call centre", "nightly", "in the portal",
    "for prepaid customers", "at month end", "in the retail stores", "for the regulator",
    "in the mobile app",
)  # fmt: skip


def requester(client: int) -> str:
    return f"vp.bench{client}"


def department(client: int) -> str:
    return DEPARTMENTS[client % len(DEPARTMENTS)]


def cab_member(client: int) -> str:
    return f"cab.bench{client}"


def submission(client: int, n: int) -> dict[str, Any]:
    """A request as a VP fills it in: a few hundred characters, the README's fields."""
    pick = random.Random(client * 1_000_003 + n)  # noqa: S311  # varied text, not secrets
    thing = pick.choice(_THINGS)
    title = f"{pick.choice(_VERBS)} {thing} {pick.choice(_WHERE)}"
    return {
        "title": title,
        "description": (
            f"Customers and agents keep asking about {thing}. Today the work is done by hand"
            " from a spreadsheet that two people maintain; it is late every month end and"
            " errors reach customers. We want it in the product, with an audit trail."
        ),
        "justification": "About 40 calls a day to the call centre; two FTE of manual work.",
        "sponsor": f"Sponsor of {department(client)}",
        "category": pick.choice(CATEGORIES),
        "subsystems": pick.sample(DEFAULT_SUBSYSTEMS, pick.randint(1, 3)),
        "size_estimate": pick.choice(SIZES),
        "desired_date": (date(2027, 1, 1) + timedelta(days=pick.randint(0, 365))).isoformat(),
    }


MEDIUM = Questionnaire(Impact.MODERATE, Likelihood.POSSIBLE, AffectedUsers.SOME, True)


def reviewer(client: int) -> Reviewer:
    return Reviewer(cab_member(client), cab_member=True, team=CAB_TEAM)


def new_changes(count: int, first: int = 0) -> list[ProductionChange]:
    """`count` normal changes awaiting two approvals, each in its own hour from tomorrow."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    changes = []
    with attributed_to(IMPLEMENTER):
        for k in range(first, first + count):
            begins = start + timedelta(hours=k)
            window = Window.of(begins, begins + timedelta(minutes=45))
            plan = ChangePlan(
                title=f"Patch the {DEFAULT_SUBSYSTEMS[k % len(DEFAULT_SUBSYSTEMS)]} servers ({k})",
                subsystems=[DEFAULT_SUBSYSTEMS[k % len(DEFAULT_SUBSYSTEMS)]],
                window=window,
                implementation_plan="Apply the vendor's patch to the primary, then the replica.",
                backout_plan="Restore the snapshot taken before the patch.",
                test_evidence="Applied in staging on Monday; smoke tests passed.",
                implementers=[IMPLEMENTER],
                questionnaire=MEDIUM,
            )
            changes.append(
                ProductionChange.raise_change(
                    change_type=ChangeType.NORMAL,
                    plan=plan,
                    requester=IMPLEMENTER,
                    catalogue=DEFAULT_SUBSYSTEMS,
                    policy=ApprovalPolicy(),
                    facts=GateFacts(),
                )
            )
    return changes


def submitted(client: int, n: int) -> ChangeRequest:
    """The request `submission(client, n)` describes, submitted by the client's VP."""
    fields = submission(client, n)
    with attributed_to(requester(client)):
        return ChangeRequest.submit(
            title=fields["title"],
            description=fields["description"],
            justification=fields["justification"],
            department=department(client),
            sponsor=fields["sponsor"],
            category=Category(fields["category"]),
            subsystems=fields["subsystems"],
            size_estimate=SizeEstimate(fields["size_estimate"]),
            desired_date=date.fromisoformat(fields["desired_date"]),
            requester=requester(client),
            catalogue=DEFAULT_SUBSYSTEMS,
        )


def backlog(count: int) -> list[ChangeRequest]:
    """The open requests already waiting, which every submission's duplicate check reads."""
    return [submitted(1_000 + k, 0) for k in range(count)]


def raise_in_bulk(save: Callable[..., Any], count: int) -> list[UUID]:
    """Raise `count` changes, saved a thousand to a transaction; their ids in order."""
    ids: list[UUID] = []
    for first in range(0, count, 1_000):
        batch = new_changes(min(1_000, count - first), first)
        save(*batch)
        ids.extend(change.id for change in batch)
    return ids


class Exhausted(Exception):
    """Every change raised for the run has had its approval."""


@dataclass
class Queue:
    """Changes not approved yet, handed out once each to whichever client asks."""

    ids: Sequence[UUID]

    def __post_init__(self) -> None:
        self._next: Iterator[UUID] = iter(self.ids)
        self._lock = threading.Lock()

    def take(self) -> UUID:
        with self._lock:
            try:
                return next(self._next)
            except StopIteration:
                raise Exhausted from None
