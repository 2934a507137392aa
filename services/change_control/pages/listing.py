"""Every production change, as a list to filter: what is open, what a person raised or
implements, what touched a subsystem, what failed; newest first, a page at a time, or
all of it as a CSV file."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.change_control.domain import ENDED, Status
from services.change_control.domain.values import ChangeType
from services.change_control.pages.base import ChangePages
from services.change_control.views import ChangeFilter, DeploymentFilter
from shared.http.routing import ServiceRouter
from shared.web import listing
from shared.web.access import Viewer
from shared.web.rendering import label

# A change is open until it is closed, rejected or withdrawn (a completed one waits for
# its review, or an emergency's retrospective approval).
STATUSES = listing.Statuses.of((s.value for s in Status), {s.value for s in ENDED}, "ended")
TYPES = [(t.value, label(t.value)) for t in ChangeType]
COLUMNS = (
    ("Reference", "reference"), ("Title", "title"), ("Status", "status"),
    ("Outcome", "outcome"), ("Type", "change_type"), ("Risk", "risk"),
    ("Window start", "window_start"), ("Window end", "window_end"),
    ("Subsystems", "subsystems"), ("Raised by", "requester"),
    ("Implementers", "implementers"), ("Raised at", "raised_at"), ("Id", "id"),
)  # fmt: skip


def listing_routes(p: ChangePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()
    catalogue = [(s, s) for s in p.changes.catalogue]

    def asked_of(request: Request) -> tuple[listing.Listing, ChangeFilter]:
        asked = listing.Listing("/changes", request.query_params, {"status": "open"})
        statuses = STATUSES.read(asked, "changes")
        change_type = asked.choice("type", (t for t, _ in TYPES), "change type", "every type")
        subsystem = asked.choice("subsystem", p.changes.catalogue, "subsystem", "every one")
        person, words = asked.text("person", 64), asked.text("q", 200)
        completed = asked.days(
            "completed_from", "completed_to", "completion dates", "any completion date"
        )
        return asked, ChangeFilter(
            status=statuses,
            change_type=change_type or None,
            subsystem=subsystem or None,
            person=person or None,
            text=words or None,
            completed_from=completed[0],
            completed_to=completed[1],
        )

    @router.get("/changes")
    def changes(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        asked, found = asked_of(request)
        items, total = p.views.find(found, limit=listing.PAGE_SIZE, offset=asked.offset)
        return p.templates.render(
            request,
            "changes.html",
            viewer,
            asked=asked,
            items=items,
            total=total,
            statuses=STATUSES.choices(),
            types=TYPES,
            catalogue=catalogue,
            mine=asked.address(person=viewer.username, page=1),
        )

    @router.get("/deployments")
    def deployments(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        """What pipelines reported, newest first: those taken as under an approved
        change, and the unauthorised ones with why (the dashboard's count opens these)."""
        asked = listing.Listing("/deployments", request.query_params, {})
        taken = asked.choice("taken", ("unauthorised", "authorised"), "kind", "every report")
        subsystem = asked.choice("subsystem", p.changes.catalogue, "subsystem", "every one")
        first, last = asked.days("from", "to", "deployment dates", "any date")
        found = DeploymentFilter(
            unauthorised={"unauthorised": True, "authorised": False}.get(taken),
            subsystem=subsystem or None,
            deployed_from=first,
            deployed_to=last,
        )
        items, total = p.views.deployments(found, limit=listing.PAGE_SIZE, offset=asked.offset)
        named = p.views.named(
            [i for d in items for i in (d["change_id"], d["claimed_change_id"]) if i]
        )
        return p.templates.render(
            request,
            "deployments.html",
            viewer,
            asked=asked,
            items=items,
            total=total,
            named=named,
            kinds=[("unauthorised", "Unauthorised"), ("authorised", "Under an approved change")],
            catalogue=catalogue,
        )

    @router.get("/changes.csv")
    def export(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        _, found = asked_of(request)
        return listing.csv_download(
            "changes", COLUMNS, lambda limit, offset: p.views.find(found, limit, offset)
        )

    return router
