"""The catalogue of standard changes in the browser: every template in use, with its
plans and risk answers and a way to raise a change from it; release managers (and
admins) publish templates and retire them."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.change_control.application.catalogue import TEMPLATE_KEEPERS, TemplateDraft
from services.change_control.domain.risk import AffectedUsers, Impact, Likelihood
from services.change_control.pages.base import ChangePages
from services.change_control.pages.raising import risk_answers
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import Viewer
from shared.web.forms import BadInput, Form, Refusal

NOTICES = {
    "published": "The template is published: IT staff can raise standard changes from it.",
    "retired": "The template is retired: no new change is raised from it.",
    "revised": "The template is revised: changes raised from now on take it as it stands.",
}


def standard_routes(p: ChangePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()
    keeper = p.access.require(*TEMPLATE_KEEPERS)

    def page(
        request: Request,
        viewer: Viewer,
        refusal: Refusal | None = None,
        kept: dict[str, Any] | None = None,
        failed: str = "",
    ) -> Response:
        every = p.views.templates(include_retired=True)
        in_use = [t for t in every if not t["retired"]]
        # Each template's revision form: as it stands, or as typed when it was refused.
        revising = {t["id"]: kept if kept and failed == f"revise:{t['id']}" else _as_form(t)
                    for t in in_use}  # fmt: skip
        return p.templates.render(
            request,
            "standard.html",
            viewer,
            status=refusal.status if refusal else 200,
            error=refusal.detail if refusal else None,
            failed=failed,
            form=kept or {"subsystems": []},
            in_use=in_use,
            revising=revising,
            retired=[t for t in every if t["retired"]],
            catalogue=p.changes.catalogue,
            may_keep=viewer.may(*TEMPLATE_KEEPERS),
            may_raise=viewer.may(Role.IT_STAFF, Role.RELEASE_MANAGER),
            impacts=[i.value for i in Impact],
            likelihoods=[x.value for x in Likelihood],
            audiences=[a.value for a in AffectedUsers],
            risk_hint="(a standard change is low risk)",
            notice=NOTICES.get(request.query_params.get("done", "")),
        )

    @router.get("/standard-changes")
    def catalogue(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        return page(request, viewer)

    @router.post("/standard-changes")
    async def publish(request: Request, viewer: Annotated[Viewer, Depends(keeper)]) -> Response:
        def run(form: Form) -> object:
            return p.standard.publish(_draft(form))

        return await p.posted(
            request, viewer, run, page, "/standard-changes?done=published", "publish"
        )

    @router.post("/standard-changes/{template_id}")
    async def revise(
        request: Request, template_id: UUID, viewer: Annotated[Viewer, Depends(keeper)]
    ) -> Response:
        def run(form: Form) -> object:
            return p.standard.revise(template_id, _draft(form))

        done, failed = "/standard-changes?done=revised", f"revise:{template_id}"
        return await p.posted(request, viewer, run, page, done, failed)

    @router.post("/standard-changes/{template_id}/retire")
    async def retire(
        request: Request, template_id: UUID, viewer: Annotated[Viewer, Depends(keeper)]
    ) -> Response:
        def run(form: Form) -> object:
            return p.standard.retire(template_id, form.text("reason"))

        failed = str(template_id)
        return await p.posted(request, viewer, run, page, "/standard-changes?done=retired", failed)

    return router


def _draft(form: Form) -> TemplateDraft:
    if not form.texts("subsystems"):
        raise BadInput("name the subsystems a change from this template touches")
    return TemplateDraft(
        name=form.text("name"),
        description=form.text("description"),
        subsystems=form.texts("subsystems"),
        implementation_plan=form.text("implementation_plan"),
        backout_plan=form.text("backout_plan"),
        questionnaire=risk_answers(form),
    )


def _as_form(template: dict[str, Any]) -> dict[str, Any]:
    """A template as its revision form shows it."""
    fields = ("name", "description", "subsystems", "implementation_plan", "backout_plan",
              "impact", "likelihood", "affected_users")  # fmt: skip
    return {**{f: template[f] for f in fields},
            "backout_tested": "yes" if template["backout_tested"] else "no"}  # fmt: skip
