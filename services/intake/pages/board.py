"""All work in play on one board (the Kanban view), and an IT owner's own items."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from datetime import tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.intake.filters import RequestFilter
from services.intake.pages.base import IntakePages
from services.intake.views import age_days
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import Viewer

# Left to right, the way work flows; a request sits in the first column that claims it.
COLUMNS: list[tuple[str, str]] = [
    ("triage", "Waiting for triage"),
    ("info_requested", "Waiting for information"),
    ("accepted", "Accepted, not yet planned"),
    ("scheduled", "Planned in a bundle"),
    ("in_development", "In development"),
    ("ready_for_qa", "Ready for QA"),
    ("qa_passed", "QA passed"),
    ("deferred", "Deferred"),
]
IN_PLAY = ("submitted", "info_requested", "accepted", "deferred")
RECENTLY_DELIVERED = 20
OLD_DAYS, VERY_OLD_DAYS = 30, 60


def column_of(row: dict[str, Any]) -> str:
    status = row["status"]
    if status == "submitted":
        return "triage"
    if status in ("info_requested", "deferred"):
        return str(status)
    stage = row.get("stage")
    if stage == "qa_failed":
        return "in_development"  # back with the developers
    if stage in ("scheduled", "in_development", "ready_for_qa", "qa_passed"):
        return str(stage)
    return "accepted"


def aged(row: dict[str, Any], zone: tzinfo) -> dict[str, Any]:
    """The card's age and what it counts: accepted work the days since its acceptance,
    as the Metrics page's ageing chart counts them (the same request, the same number);
    work not accepted yet (triage, a question, deferred) the days since it was
    submitted."""
    if row["status"] == "accepted" and row.get("accepted_at"):
        return {
            **row,
            "aged_days": age_days(row["accepted_at"], None, zone),
            "aged_since": "accepted",
        }
    return {**row, "aged_days": row["age_days"], "aged_since": "submitted"}


def board_routes(p: IntakePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()
    it_staff = p.access.require(Role.IT_STAFF)

    @router.get("/board")
    def board(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        found = p.views.find(RequestFilter(status=IN_PLAY), limit=10_000).items
        rows = [aged(row, p.views.zone) for row in p.with_plan(found)]
        columns: dict[str, list[dict[str, Any]]] = {key: [] for key, _ in COLUMNS}
        for row in sorted(rows, key=lambda r: -r["aged_days"]):
            columns[column_of(row)].append(row)
        return p.templates.render(
            request,
            "board.html",
            viewer,
            columns=[(key, title, columns[key]) for key, title in COLUMNS],
            total=len(rows),
            parked=len(columns["deferred"]),  # counted apart: deferred work is not moving
            old=OLD_DAYS,
            very_old=VERY_OLD_DAYS,
        )

    @router.get("/my-work")
    def my_work(request: Request, viewer: Annotated[Viewer, Depends(it_staff)]) -> Response:
        """Everything accepted that is mine, and what I delivered last (each its own
        query: read together, newest 500 first, older accepted work fell off)."""
        mine = viewer.username
        open_rows = p.views.find(RequestFilter(owner=mine, status=("accepted",)), limit=10_000)
        delivered = p.views.find(
            RequestFilter(owner=mine, status=("delivered",)),
            limit=RECENTLY_DELIVERED,
            order="delivered_at DESC",
        )
        return p.templates.render(
            request,
            "my_work.html",
            viewer,
            open_rows=p.with_plan(open_rows.items),
            delivered=delivered.items,
        )

    return router
