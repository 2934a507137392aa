"""Every request, as a list to filter: what is open, what a department asked for, what
an IT owner holds, what was delivered or turned down; newest first, a page at a time,
or all of it as a CSV file."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.intake.domain import CLOSED, Category, ClassOfService, Status
from services.intake.filters import RequestFilter
from services.intake.pages.base import IntakePages
from shared.http.routing import ServiceRouter
from shared.web import listing
from shared.web.access import Viewer
from shared.web.rendering import label

# A request is open until it is delivered, rejected, withdrawn or closed as a duplicate
# (a deferred one waits to come back to triage).
STATUSES = listing.Statuses.of((s.value for s in Status), {s.value for s in CLOSED}, "closed")
CATEGORIES = [(c.value, label(c.value)) for c in Category]
CLASSES = [(c.value, label(c.value)) for c in ClassOfService]
RATINGS = ("1", "2", "3", "4", "5")
UNRATED = "none"
"""`rating=none`: not rated yet (delivered, unless another status is asked for)."""
COLUMNS = (
    ("Reference", "reference"), ("Title", "title"), ("Status", "status"),
    ("Stage", "stage"), ("Department", "department"), ("Category", "category"),
    ("Subsystems", "subsystems"), ("Requester", "requester"), ("IT owner", "owner"),
    ("Points", "size_points"), ("Bundle", "bundle"), ("Target date", "target_date"),
    ("Submitted at", "submitted_at"), ("Accepted at", "accepted_at"),
    ("Delivered at", "delivered_at"), ("Rating", "rating"), ("Rated at", "rated_at"),
    ("Id", "id"),
)  # fmt: skip


def listing_routes(p: IntakePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()
    catalogue = [(s, s) for s in p.intake.catalogue]

    def asked_of(request: Request, departments: list[str]) -> tuple[listing.Listing, RequestFilter]:
        asked = listing.Listing("/requests", request.query_params, {"status": "open"})
        delivered = asked.days(
            "delivered_from", "delivered_to", "delivery dates", "any delivery date"
        )
        rated = asked.days("rated_from", "rated_to", "rating dates", "any rating date")
        rating = asked.choice("rating", (*RATINGS, UNRATED), "rating", "any rating")
        unrated = rating == UNRATED
        if delivered != (None, None) or unrated:
            # Asked for what was delivered on some days, or is still to be rated, without a
            # status (a bookmark, a typed address), the list shows delivered requests: open
            # ones never match.
            asked.defaults["status"] = "delivered"
        elif rated != (None, None) or rating:
            asked.defaults["status"] = "all"  # what was rated, as satisfaction counts it
        statuses = STATUSES.read(asked, "requests")
        department = asked.choice("department", departments, "department", "every department")
        category = asked.choice("category", (c for c, _ in CATEGORIES), "category", "every one")
        subsystem = asked.choice("subsystem", p.intake.catalogue, "subsystem", "every one")
        service = asked.choice(
            "class_of_service", (c for c, _ in CLASSES), "class of service", "every one"
        )
        owner, words = asked.text("owner", 64), asked.text("q", 200)
        return asked, RequestFilter(
            status=statuses,
            department=department or None,
            category=category or None,
            subsystem=subsystem or None,
            class_of_service=service or None,
            owner=owner or None,
            text=words or None,
            delivered_from=delivered[0],
            delivered_to=delivered[1],
            rated_from=rated[0],
            rated_to=rated[1],
            rating=int(rating) if rating and not unrated else None,
            unrated=unrated,
        )

    @router.get("/requests")
    def requests(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        departments = p.views.departments()
        asked, wanted = asked_of(request, departments)
        found = p.views.find(
            wanted, limit=listing.PAGE_SIZE, offset=asked.offset, order=_order(wanted)
        )
        return p.templates.render(
            request,
            "requests.html",
            viewer,
            asked=asked,
            items=p.with_plan(found.items),
            total=found.total,
            statuses=STATUSES.choices(),
            departments=[(d, d) for d in departments],
            categories=CATEGORIES,
            classes=CLASSES,
            catalogue=catalogue,
            ratings=[*((r, f"Rated {r}") for r in RATINGS), (UNRATED, "Not rated yet")],
            # Asked about ratings (from the dashboard's satisfaction, say), the list shows
            # each one's rating and what its department said, the lowest first.
            rated=_rated(wanted),
            # Asked for the deliveries not rated yet, the list rates them in place, for
            # the department whose they are, and comes back here.
            to_rate=wanted.unrated,
            # Asked for what was delivered on some days (a throughput point, say), the list
            # is in the order of those days, the latest first, and shows each one's.
            by_delivery=_by_delivery(wanted),
            back_to=f"/requests?{request.url.query}",
        )

    @router.get("/requests.csv")
    def export(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        _, wanted = asked_of(request, p.views.departments())

        def page(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
            found = p.views.find(wanted, limit, offset, order=_order(wanted))
            return p.with_plan(found.items), found.total

        return listing.csv_download("requests", COLUMNS, page)

    return router


def _rated(wanted: RequestFilter) -> bool:
    return bool(wanted.rating or wanted.rated_from or wanted.rated_to)


def _by_delivery(wanted: RequestFilter) -> bool:
    return bool(wanted.delivered_from or wanted.delivered_to)


def _order(wanted: RequestFilter) -> str:
    """Newest first; a list of ratings, the lowest first (what to read about first), the
    latest of a score first; deliveries still to rate, or delivered on the days asked, the
    latest delivered first (the freshest in its department's mind; the days the list is
    of)."""
    if _rated(wanted):
        return "rating ASC, rated_at DESC"
    if wanted.unrated or _by_delivery(wanted):
        return "delivered_at IS NULL, delivered_at DESC"
    return "submitted_at DESC"
