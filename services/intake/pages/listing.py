"""Every request, as a list to filter: what is open, what a department asked for, what
an IT owner holds, what was delivered or turned down; newest first, a page at a time."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.intake.domain import CLOSED, Category, Status
from services.intake.pages.base import IntakePages
from services.intake.views import RequestFilter
from shared.http.routing import ServiceRouter
from shared.web import listing
from shared.web.access import Viewer
from shared.web.rendering import label

SHOWN = {
    "open": tuple(s.value for s in Status if s not in CLOSED),
    "closed": tuple(s.value for s in Status if s in CLOSED),
    "all": (),
}
"""A request is open until it is delivered, rejected, withdrawn or closed as a duplicate
(a deferred one waits to come back to triage)."""
CHOICES = (
    ("open", "Open"),
    ("closed", "Closed"),
    ("all", "Every status"),
    *((s.value, label(s.value)) for s in Status),
)


def listing_routes(p: IntakePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()

    @router.get("/requests")
    def requests(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        asked = listing.Listing("/requests", request.query_params, {"status": "open"})
        departments = p.views.departments()
        categories = [c.value for c in Category]
        show = asked.choice("status", (v for v, _ in CHOICES), "status", "open requests")
        department = asked.choice("department", departments, "department", "every department")
        category = asked.choice("category", categories, "category", "every category")
        subsystem = asked.choice("subsystem", p.intake.catalogue, "subsystem", "every one")
        owner, words = asked.text("owner", 64), asked.text("q", 200)
        found = p.views.find(
            RequestFilter(
                status=SHOWN.get(show, (show,)),
                department=department or None,
                category=category or None,
                subsystem=subsystem or None,
                owner=owner or None,
                text=words or None,
            ),
            limit=listing.PAGE_SIZE,
            offset=asked.offset,
        )
        return p.templates.render(
            request,
            "requests.html",
            viewer,
            asked=asked,
            items=p.with_plan(found.items),
            total=found.total,
            choices=CHOICES,
            departments=departments,
            categories=categories,
            catalogue=p.intake.catalogue,
        )

    return router
