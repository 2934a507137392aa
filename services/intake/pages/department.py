"""A VP's own department: every request with owner, bundle and target date; the
department's ranking (up/down without JavaScript, drag and drop with it)."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.intake.pages.base import IntakePages
from services.intake.views import RequestFilter
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import Viewer
from shared.web.forms import BadInput, Refusal, attempt, is_htmx, read_form, see_other

OPEN_STATES = ("submitted", "info_requested", "deferred", "accepted")


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
    def department(request: Request, viewer: Annotated[Viewer, Depends(requester)]) -> Response:
        name = department_of(viewer)
        page = p.views.find(RequestFilter(department=name), limit=500)
        rows = p.with_plan(page.items)
        return p.templates.render(
            request,
            "department.html",
            viewer,
            department=name,
            open_rows=[r for r in rows if r["status"] in OPEN_STATES and r["status"] != "deferred"],
            deferred=[r for r in rows if r["status"] == "deferred"],
            delivered=[r for r in rows if r["status"] == "delivered"],
            closed=[r for r in rows if r["status"] not in (*OPEN_STATES, "delivered")],
            ranked=ranked(name),
            counts=p.views.counts(name),
            total=page.total,
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
