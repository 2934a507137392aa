"""What every intake page handler needs, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from services.intake.application import Intake
from services.intake.domain import CLOSED, Status
from services.intake.schedule import Placement, Schedule
from services.intake.views import IntakeViews
from shared.identity.views import Directory
from shared.web.access import PageAccess
from shared.web.forms import BadInput
from shared.web.rendering import Templates

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
E = TypeVar("E", bound=StrEnum)


@dataclass
class IntakePages:
    intake: Intake
    views: IntakeViews
    schedule: Schedule
    directory: Directory
    access: PageAccess
    templates: Templates

    def it_staff(self) -> list[dict[str, str]]:
        """Who can own accepted work: active IT staff."""
        return [
            {"username": u.username, "name": u.display_name, "team": u.team or ""}
            for u in self.directory.users("it_staff")
            if u.active
        ]

    def with_duplicates(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each request with the open requests whose titles read like its own."""
        found = [{**r, "similar": self.views.similar(r["title"], exclude=r["id"])} for r in rows]
        # Named by their numbers too (titles alike are what makes them candidates).
        references = self.views.references({s["id"] for r in found for s in r["similar"]})
        for r in found:
            r["similar"] = [{**s, "reference": references.get(s["id"], "")} for s in r["similar"]]
        return found

    def with_plan(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each request with its bundle, stage and target date."""
        placements = self.schedule.placements(r["id"] for r in rows)
        today = self.views.today()
        return [{**row, **plan_of(row, placements.get(row["id"]), today)} for row in rows]


def plan_of(
    row: dict[str, Any], placement: Placement | None, today: date | None = None
) -> dict[str, Any]:
    """Bundle and target date: the bundle's deployment date once scheduled; a fixed date
    agreed at triage; else only the date the requester asked for. `overdue`: the target
    date is before `today` and the request is still open."""
    if row["status"] == Status.DELIVERED:
        target, basis = (row.get("delivered_at") or "")[:10], "delivered"
    elif placement is not None and placement.bundle_status not in ("cancelled",):
        target, basis = placement.deploy_date, f"bundle {placement.bundle_name}"
    elif row.get("fixed_date"):
        target, basis = row["fixed_date"], "fixed date"
    elif row.get("desired_date"):
        target, basis = row["desired_date"], "asked for"
    else:
        target, basis = None, ""
    return {
        "placement": placement,
        "bundle": placement.bundle_name if placement else None,
        "stage": placement.stage if placement else None,
        "target_date": target,
        "target_basis": basis,
        "target_from_bundle": basis.startswith("bundle "),
        "overdue": bool(
            today and target and row["status"] not in CLOSED and target[:10] < today.isoformat()
        ),
    }


def parse_uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadInput(f"{value!r} is not a request id") from None


def choice(enum: type[E], value: str, label: str) -> E:
    try:
        return enum(value)
    except ValueError:
        raise BadInput(f"choose a {label}") from None
