"""What every release page handler needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from services.release.application import Releases
from services.release.domain import now
from services.release.planning import suggest
from services.release.queries import ReleaseViews
from services.release.subscriptions import CalendarFeeds
from shared.web.access import PageAccess
from shared.web.forms import BadInput
from shared.web.rendering import Templates

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
RECENT_DAYS = 35  # the plan also shows bundles deployed in the last month
CLOSED = ("deployed", "rolled_back", "cancelled")


@dataclass
class ReleasePages:
    releases: Releases
    views: ReleaseViews
    feeds: CalendarFeeds
    access: PageAccess
    templates: Templates

    def today(self) -> date:
        return now().date()

    def upcoming(self) -> list[dict[str, Any]]:
        since = self.today() - timedelta(days=RECENT_DAYS)
        return [with_fill(b) for b in self.views.bundles(from_date=since)]

    def suggestion(self) -> dict[str, Any]:
        """The suggested plan for the accepted backlog, described for people."""
        backlog = self.views.backlog()
        answer = suggest(backlog, self.views.open_bundles())
        titles = self.views.request_titles([c.request_id for c in backlog])
        size = {c.request_id: c for c in backlog}

        def described(request_id: str) -> dict[str, Any]:
            row = titles.get(request_id, {})
            c = size[request_id]
            return {
                "request_id": request_id,
                "title": row.get("title", request_id),
                "reference": row.get("reference", ""),
                "department": c.department,
                "rank": c.department_rank,
                "class_of_service": c.class_of_service,
                "size_points": c.size_points,
            }

        return {
            "proposals": [
                {
                    **described(p.request_id),
                    "bundle_id": p.bundle_id,
                    "bundle_name": p.bundle_name,
                    "deploy_date": p.deploy_date,
                    "why": p.why,
                }
                for p in answer.proposals
            ],
            "unplaced": [{**described(u.request_id), "why": u.why} for u in answer.unplaced],
        }


def with_fill(bundle: dict[str, Any]) -> dict[str, Any]:
    capacity = bundle.get("capacity_points") or 0
    load = bundle.get("load") or 0
    return {**bundle, "fill": (load / capacity) if capacity else 0.0}


def parse_uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadInput(f"choose {what}") from None


def went_ahead(who: str, skipped: Sequence[str]) -> str:
    """Said when `who` (a request, "It") was scheduled past the requests `skipped` (their
    REQ-n), which its department ranks above it and no bundle holds."""
    return (
        f"{who} went ahead of {', '.join(skipped)}, which its department ranks above it and"
        " no bundle holds yet: say why to the department, or schedule them first"
    )
