"""Submitting a request, and editing it until it is triaged, in the same form."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.intake.application import RequestDraft
from services.intake.domain import Category, SizeEstimate
from services.intake.pages.base import IntakePages, choice
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import Viewer
from shared.web.forms import Form, Refusal, attempt, read_form, see_other

REQUIRED_FIELDS = {
    "title": "the title",
    "description": "what is needed",
    "justification": "why it is needed",
    "sponsor": "the sponsor",
    "category": "the category",
    "size_estimate": "the size estimate",
    "subsystems": "at least one affected subsystem",
}
"""The request form's fields a submission needs, named together when several are empty."""


def submission_routes(p: IntakePages) -> APIRouter:
    router = ServiceRouter()
    submitter = p.access.require(Role.REQUESTER, Role.RELEASE_MANAGER, Role.IT_STAFF)
    requester = p.access.require(Role.REQUESTER)

    def new_form(
        request: Request,
        viewer: Viewer,
        values: dict[str, Any],
        refusal: Refusal | None = None,
        editing: dict[str, Any] | None = None,
    ) -> Response:
        return p.templates.render(
            request,
            "new.html",
            viewer,
            status=refusal.status if refusal else 200,
            error=refusal.detail if refusal else None,
            form=values,
            categories=list(Category),
            sizes=list(SizeEstimate),
            catalogue=p.intake.catalogue,
            asks_department=not viewer.may(Role.REQUESTER) and editing is None,
            editing=editing,
        )

    def draft_of(form: Form) -> RequestDraft:
        form.require(REQUIRED_FIELDS)
        return RequestDraft(
            title=form.text("title"),
            description=form.text("description"),
            justification=form.text("justification"),
            sponsor=form.text("sponsor"),
            category=choice(Category, form.text("category"), "category"),
            subsystems=form.texts("subsystems"),
            size_estimate=choice(SizeEstimate, form.text("size_estimate"), "size estimate"),
            desired_date=form.date("desired_date", "The desired date"),
        )

    def kept(form: Form) -> dict[str, Any]:
        values = form.kept()
        values["subsystems"] = form.texts("subsystems")
        return values

    @router.get("/requests/new")
    def new(request: Request, viewer: Annotated[Viewer, Depends(submitter)]) -> Response:
        sponsor = viewer.principal.display_name if viewer.may(Role.REQUESTER) else ""
        return new_form(request, viewer, {"sponsor": sponsor, "subsystems": []})

    @router.post("/requests/new")
    async def submit(request: Request, viewer: Annotated[Viewer, Depends(submitter)]) -> Response:
        form = await read_form(request)

        def command() -> Any:
            draft = draft_of(form)
            return p.intake.submit(viewer.principal, draft, form.text("department") or None)

        result = attempt(viewer, command)
        if isinstance(result, Refusal):
            return new_form(request, viewer, kept(form), result)
        return see_other(f"/requests/{result.id}?notice=submitted")

    @router.get("/requests/{request_id}/edit")
    def edit(
        request: Request, request_id: UUID, viewer: Annotated[Viewer, Depends(requester)]
    ) -> Response:
        """The submission form filled with the request as it stands, until triage."""
        row = p.views.get(str(request_id))
        if row is None:
            return p.templates.missing(
                request, viewer, "No such request", "There is no change request at this address."
            )
        values = {**row, "subsystems": list(row["subsystems"])}
        return new_form(request, viewer, values, editing={**row, "version": row["version"]})

    @router.post("/requests/{request_id}/edit")
    async def save_edit(
        request: Request, request_id: UUID, viewer: Annotated[Viewer, Depends(requester)]
    ) -> Response:
        form = await read_form(request)
        row = p.views.get(str(request_id)) or {"id": str(request_id)}

        def command() -> Any:
            read_at = form.integer("version", "The version read", 1, 10**9)
            return p.intake.edit(viewer.principal, request_id, draft_of(form), read_at)

        result = attempt(viewer, command)
        if isinstance(result, Refusal):
            editing = {**row, "version": form.text("version")}
            return new_form(request, viewer, kept(form), result, editing=editing)
        return see_other(f"/requests/{request_id}?notice=edited")

    return router
