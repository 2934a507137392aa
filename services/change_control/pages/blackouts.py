"""The release manager's blackout windows in the browser: those in force and to come,
declaring one (for every subsystem, or some), lifting one with a reason. Everyone reads
them; the change calendar marks their days."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.change_control.application.catalogue import BlackoutDraft, CatalogueRef
from services.change_control.domain.values import iso
from services.change_control.pages.base import ChangePages
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import Viewer
from shared.web.forms import BadInput, Form, Refusal

NOTICES = {
    "declared": "The blackout is declared: changes overlapping it cannot be approved.",
    "lifted": "The blackout is lifted.",
    "changed": "The blackout is saved: approvals are checked against its new window and scope.",
}


def blackout_routes(p: ChangePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()
    manager = p.access.require(Role.RELEASE_MANAGER)

    def page(
        request: Request,
        viewer: Viewer,
        refusal: Refusal | None = None,
        kept: dict[str, Any] | None = None,
        failed: str = "",
    ) -> Response:
        now = iso(datetime.now(UTC))  # as the view stores instants: they compare as strings
        every = p.views.blackouts(include_lifted=True)
        lifted = [b for b in every if b["lifted"]]
        standing = [b for b in every if not b["lifted"]]
        return p.templates.render(
            request,
            "blackouts.html",
            viewer,
            status=refusal.status if refusal else 200,
            error=refusal.detail if refusal else None,
            failed=failed,
            form=kept or {"subsystems": []},
            coming=[b for b in standing if b["window_end"] > now],
            past=[b for b in standing if b["window_end"] <= now][-20:][::-1],
            lifted=lifted[-20:][::-1],
            now=now,
            hits=p.views.hit_by_blackouts(),
            catalogue=p.changes.catalogue,
            may_manage=viewer.may(Role.RELEASE_MANAGER),
            notice=notice(request),
        )

    def notice(request: Request) -> str | None:
        """What was done and, for a blackout declared or moved, the open changes it now
        holds back (said now, not first when the CAB tries to approve one)."""
        done = request.query_params.get("done", "")
        said = NOTICES.get(done)
        blackout_id = request.query_params.get("blackout", "")
        if said is None or done == "lifted" or not blackout_id:
            return said
        held = p.views.held_back_by(blackout_id)
        if not held:
            return f"{said} It holds back no open change."
        named = ", ".join(f"{c['reference']} “{c['title']}”" for c in held)
        return f"{said} It holds back {named}: none may be approved or started while it stands."

    @router.get("/blackouts")
    def blackouts(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        return page(request, viewer)

    def draft(form: Form) -> BlackoutDraft:
        start = p.moment(form, "start", "The start")
        end = p.moment(form, "end", "The end")
        if start is None or end is None:
            raise BadInput("a blackout has a start and an end")
        return BlackoutDraft(
            form.text("name"), start, end, form.texts("subsystems"), form.text("reason")
        )

    @router.post("/blackouts")
    async def declare(request: Request, viewer: Annotated[Viewer, Depends(manager)]) -> Response:
        saved: list[CatalogueRef] = []

        def run(form: Form) -> object:
            saved.append(p.blackouts.declare(draft(form)))
            return saved[-1]

        def done(form: Form) -> str:
            return f"/blackouts?done=declared&blackout={saved[-1].id}"

        return await p.posted(request, viewer, run, page, done, "declare")

    @router.post("/blackouts/{blackout_id}")
    async def change(
        request: Request, blackout_id: UUID, viewer: Annotated[Viewer, Depends(manager)]
    ) -> Response:
        def run(form: Form) -> object:
            return p.blackouts.change(blackout_id, draft(form))

        done, failed = f"/blackouts?done=changed&blackout={blackout_id}", f"change:{blackout_id}"
        return await p.posted(request, viewer, run, page, done, failed)

    @router.post("/blackouts/{blackout_id}/lift")
    async def lift(
        request: Request, blackout_id: UUID, viewer: Annotated[Viewer, Depends(manager)]
    ) -> Response:
        def run(form: Form) -> object:
            return p.blackouts.lift(blackout_id, form.text("reason"))

        failed = str(blackout_id)
        return await p.posted(request, viewer, run, page, "/blackouts?done=lifted", failed)

    return router
