"""Routes for the release manager's blackout windows and the standard change templates."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response

from services.change_control.api.models import (
    Blackout,
    BlackoutBody,
    BlackoutSaved,
    Decision,
    HeldBack,
    Template,
    TemplateBody,
)
from services.change_control.application.catalogue import (
    TEMPLATE_KEEPERS,
    BlackoutDraft,
    Blackouts,
    CatalogueRef,
    StandardTemplates,
    TemplateDraft,
)
from services.change_control.views import ChangeControlViews
from shared.domain import NotFound
from shared.http.auth import Auth, Caller
from shared.http.models import IfMatch, expected_version, tagged
from shared.http.problems import IF_MATCH_RESPONSES
from shared.http.routing import CreatedAt, ServiceRouter
from shared.identity.domain import Role

BlackoutId = Annotated[UUID, Path(description="The blackout window's id.")]
TemplateId = Annotated[UUID, Path(description="The standard template's id.")]


def _blackout(body: BlackoutBody) -> BlackoutDraft:
    return BlackoutDraft(body.name, body.start, body.end, body.subsystems, body.reason)


def _template(body: TemplateBody) -> TemplateDraft:
    return TemplateDraft(
        body.name,
        body.description,
        body.subsystems,
        body.implementation_plan,
        body.backout_plan,
        body.risk.to_questionnaire(),
    )


def catalogue_router(
    auth: Auth, blackouts: Blackouts, templates: StandardTemplates, views: ChangeControlViews
) -> APIRouter:
    router = ServiceRouter(prefix="/api", tags=["change control"])
    anyone = auth.require()
    manager = auth.require(Role.RELEASE_MANAGER)
    keeper = auth.require(*TEMPLATE_KEEPERS)

    @router.get("/blackouts", response_model=list[Blackout], summary="Blackout windows")
    def list_blackouts(
        caller: Annotated[Caller, Depends(anyone)], include_lifted: bool = False
    ) -> Any:
        return views.blackouts(include_lifted=include_lifted)

    def saved(ref: CatalogueRef) -> BlackoutSaved:
        """The blackout saved, with the changes it now holds back: said at once, not only
        when the CAB next tries to approve one of them."""
        held = views.held_back_by(ref.id)
        return BlackoutSaved(
            id=ref.id,
            version=ref.version,
            active=ref.active,
            holds_back=[
                HeldBack(id=c["id"], reference=c["reference"], title=c["title"]) for c in held
            ],
        )

    @router.post(
        "/blackouts",
        response_model=BlackoutSaved,
        status_code=201,
        summary="Declare a blackout window (for every subsystem, or those named)",
        responses=CreatedAt("/api/blackouts/{id}"),
    )
    def declare(body: BlackoutBody, caller: Annotated[Caller, Depends(manager)]) -> BlackoutSaved:
        with caller.acting():
            return saved(blackouts.declare(_blackout(body)))

    @router.get("/blackouts/{blackout_id}", response_model=Blackout, summary="A blackout window")
    def blackout(
        blackout_id: BlackoutId, caller: Annotated[Caller, Depends(anyone)], response: Response
    ) -> Any:
        found = views.blackout(str(blackout_id))
        if found is None:
            raise NotFound("blackout_window_not_found", f"no blackout window {blackout_id}")
        return tagged(response, found["version"], found)

    @router.put(
        "/blackouts/{blackout_id}",
        response_model=BlackoutSaved,
        summary="Move or rescope a blackout",
        responses=IF_MATCH_RESPONSES,
    )
    def change(
        blackout_id: BlackoutId,
        body: BlackoutBody,
        caller: Annotated[Caller, Depends(manager)],
        response: Response,
        if_match: IfMatch = None,
    ) -> BlackoutSaved:
        with caller.acting():
            done = blackouts.change(blackout_id, _blackout(body), expected_version(if_match))
        return tagged(response, done.version, saved(done))

    @router.post(
        "/blackouts/{blackout_id}/lift", response_model=CatalogueRef, summary="Lift a blackout"
    )
    def lift(
        blackout_id: BlackoutId, body: Decision, caller: Annotated[Caller, Depends(manager)]
    ) -> CatalogueRef:
        with caller.acting():
            return blackouts.lift(blackout_id, body.reason)

    @router.get(
        "/standard-templates", response_model=list[Template], summary="Standard change templates"
    )
    def list_templates(
        caller: Annotated[Caller, Depends(anyone)], include_retired: bool = False
    ) -> Any:
        return views.templates(include_retired=include_retired)

    @router.post(
        "/standard-templates",
        response_model=CatalogueRef,
        status_code=201,
        summary="Publish a standard (pre-approved, low-risk) change template",
        responses=CreatedAt("/api/standard-templates/{id}"),
    )
    def publish(body: TemplateBody, caller: Annotated[Caller, Depends(keeper)]) -> CatalogueRef:
        with caller.acting():
            return templates.publish(_template(body))

    @router.get("/standard-templates/{template_id}", response_model=Template, summary="A template")
    def template(
        template_id: TemplateId, caller: Annotated[Caller, Depends(anyone)], response: Response
    ) -> Any:
        found = views.template(str(template_id))
        if found is None:
            raise NotFound("standard_template_not_found", f"no standard template {template_id}")
        return tagged(response, found["version"], found)

    @router.put(
        "/standard-templates/{template_id}",
        response_model=CatalogueRef,
        summary="Revise a template",
        responses=IF_MATCH_RESPONSES,
    )
    def revise(
        template_id: TemplateId,
        body: TemplateBody,
        caller: Annotated[Caller, Depends(keeper)],
        response: Response,
        if_match: IfMatch = None,
    ) -> CatalogueRef:
        with caller.acting():
            done = templates.revise(template_id, _template(body), expected_version(if_match))
        return tagged(response, done.version, done)

    @router.post(
        "/standard-templates/{template_id}/retire",
        response_model=CatalogueRef,
        summary="Retire a template: no new changes from it",
    )
    def retire(
        template_id: TemplateId, body: Decision, caller: Annotated[Caller, Depends(keeper)]
    ) -> CatalogueRef:
        with caller.acting():
            return templates.retire(template_id, body.reason)

    return router
