"""A VP's own department: every request with owner, bundle and target date; the
department's ranking (up/down without JavaScript, drag and drop with it)."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from services.intake.filters import RequestFilter
from services.intake.pages.base import IntakePages
from services.intake.views import RequestPage
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import Viewer
from shared.web.forms import BadInput, Refusal, attempt, is_htmx, read_form, see_other

OPEN_STATES = ("submitted", "info_requested", "deferred", "accepted")
CLOSED_UNDELIVERED = ("rejected", "duplicate", "withdrawn")
DELIVERED_SHOWN = 20
"""The latest deliveries on the page; `?delivered=all` lists every one (up to LISTED_AT_MOST)."""
LISTED_AT_MOST = 5_000
"""Open work, closed requests or (asked for) deliveries listed at most: beyond, the page
says how many are left out."""


def department_routes(p: IntakePages) -> APIRouter:
    router = ServiceRouter()
    requester = p.access.require(Role.REQUESTER)

    def department_of(viewer: Viewer) -> str:
        return viewer.principal.department or ""

    def ranked(department: str) -> list[dict[str, Any]]:
        order = p.views.ranking(department).request_ids
        rows = {r["id"]: r for r in (p.views.get(i) for i in order) if r is not None}
        return p.with_plan([rows[i] for i in order if i in rows])

    def ranking_fragment(
        request: Request, viewer: Viewer, refusal: Refusal | None = None
    ) -> Response:
        return p.templates.render(
            request,
            "_ranking.html",
            viewer,
            status=refusal.status if refusal else 200,
            ranked=ranked(department_of(viewer)),
            ranking_error=refusal.detail if refusal else None,
        )

    @router.get("/department")
    def department(
        request: Request,
        viewer: Annotated[Viewer, Depends(requester)],
        delivered: Annotated[Literal["recent", "all"], Query()] = "recent",
    ) -> Response:
        """Open work in full; the latest deliveries (all of them on asking), and closed
        requests newest first: a department's history grows for years, its page must not
        (it loaded the first 500 requests, newest first, so older open work fell off)."""
        name = department_of(viewer)

        def latest(status: tuple[str, ...], limit: int, order: str) -> RequestPage:
            f = RequestFilter(department=name, status=status)
            return p.views.find(f, limit=limit, order=order)

        open_page = latest(OPEN_STATES, LISTED_AT_MOST, "submitted_at DESC")
        rows = p.with_plan(open_page.items)
        shown = LISTED_AT_MOST if delivered == "all" else DELIVERED_SHOWN
        done = latest(("delivered",), shown, "delivered_at DESC")
        closed = latest(CLOSED_UNDELIVERED, LISTED_AT_MOST, "closed_at DESC")
        return p.templates.render(
            request,
            "department.html",
            viewer,
            department=name,
            open_rows=[r for r in rows if r["status"] != "deferred"],
            deferred=[r for r in rows if r["status"] == "deferred"],
            open_left_out=open_page.total - len(open_page.items),
            delivered=done.items,
            delivered_total=done.total,
            delivered_shown=DELIVERED_SHOWN,
            closed=closed.items,
            closed_total=closed.total,
            ranked=ranked(name),
            counts=p.views.counts(name),
        )

    async def reorder(request: Request, viewer: Viewer, order_of: Any) -> Response:
        form = await read_form(request)
        name = department_of(viewer)
        result = attempt(
            viewer, lambda: p.intake.rank(viewer.principal, name, order_of(form, name))
        )
        if is_htmx(request) or isinstance(result, Refusal):
            return ranking_fragment(
                request, viewer, result if isinstance(result, Refusal) else None
            )
        return see_other("/department#ranking")

    @router.post("/department/ranking")
    async def rank(request: Request, viewer: Annotated[Viewer, Depends(requester)]) -> Response:
        return await reorder(request, viewer, lambda form, _: form.texts("order"))

    @router.post("/department/ranking/move")
    async def move(request: Request, viewer: Annotated[Viewer, Depends(requester)]) -> Response:
        def moved(form: Any, name: str) -> list[str]:
            order = list(p.views.ranking(name).request_ids)
            moving = form.text("request_id")
            if moving not in order:
                raise BadInput("that request is not in your department's ranking any more")
            at = order.index(moving)
            to = at - 1 if form.text("direction") == "up" else at + 1
            if 0 <= to < len(order):
                order[at], order[to] = order[to], order[at]
            return order

        return await reorder(request, viewer, moved)

    return router
