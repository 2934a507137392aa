"""Raising an operations change (standard, normal or emergency) from a form, and revising
any change in the same form."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from dataclasses import replace
from datetime import datetime, tzinfo
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from services.change_control.application.changes import ChangeDraft
from services.change_control.domain.risk import AffectedUsers, Impact, Likelihood, Questionnaire
from services.change_control.domain.values import ChangeType
from services.change_control.pages.base import ChangePages
from services.change_control.views.board import change_detail
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import Viewer
from shared.web.forms import BadInput, Form, Refusal, attempt, read_form, see_other

OPERATIONS_TYPES = (ChangeType.NORMAL, ChangeType.EMERGENCY, ChangeType.STANDARD)


REQUIRED_FIELDS = {
    "title": "the title",
    "subsystems": "at least one subsystem",
    "implementers": "at least one implementer",
}
"""What every change needs, named together when several are missing."""
RISK_FIELDS = {
    "impact": "the impact",
    "likelihood": "the likelihood",
    "affected_users": "the users affected",
}
"""The risk questions a change not raised from a template answers (with the backout's test),
named with the rest: one gap per submit cost a round trip each."""


def raising_routes(p: ChangePages) -> APIRouter:
    router = ServiceRouter()
    raiser = p.access.require(Role.IT_STAFF, Role.RELEASE_MANAGER)

    def form_page(
        request: Request,
        viewer: Viewer,
        values: dict[str, Any],
        refusal: Refusal | None = None,
        revising: dict[str, Any] | None = None,
    ) -> Response:
        bundle = p.views.bundle(values["bundle_id"]) if values.get("bundle_id") else None
        return p.templates.render(
            request,
            "raise.html",
            viewer,
            status=refusal.status if refusal else 200,
            error=refusal.detail if refusal else None,
            form=values,
            revising=revising,
            types=[t.value for t in OPERATIONS_TYPES],
            bundle=bundle,
            catalogue=p.changes.catalogue,
            people=p.it_staff(),
            templates_=p.views.templates(),
            impacts=[i.value for i in Impact],
            likelihoods=[x.value for x in Likelihood],
            audiences=[a.value for a in AffectedUsers],
        )

    @router.get("/changes/new")
    def new(
        request: Request,
        viewer: Annotated[Viewer, Depends(raiser)],
        bundle_id: Annotated[str, Query(max_length=64)] = "",
        template_id: Annotated[str, Query(max_length=64)] = "",
        again_from: Annotated[str, Query(max_length=64)] = "",
    ) -> Response:
        values = _prefilled(p, viewer.username, bundle_id, template_id, again_from)
        return form_page(request, viewer, values)

    @router.post("/changes/new")
    async def raise_change(
        request: Request, viewer: Annotated[Viewer, Depends(raiser)]
    ) -> Response:
        form = await read_form(request)

        def command() -> Any:
            try:
                change_type = ChangeType(form.text("change_type"))
            except ValueError:
                raise BadInput("choose the kind of change") from None
            standard = change_type == ChangeType.STANDARD
            form.require({**REQUIRED_FIELDS, **({} if standard else RISK_FIELDS)})
            bundle_id = form.text("bundle_id") or None
            if (change_type == ChangeType.RELEASE_DEPLOYMENT) != (bundle_id is not None):
                raise BadInput("a release deployment is raised from its bundle's page")
            draft = _draft(form, p, None if standard else risk_answers(form))
            template = form.text("template_id") or None
            if standard and template:
                draft = _as_template(p, draft, template)
            return p.changes.raise_change(viewer.principal, change_type, draft, bundle_id, template)

        result = attempt(viewer, command)
        if isinstance(result, Refusal):
            return form_page(request, viewer, _kept(form), result)
        return see_other(f"/changes/{result.id}?done=raised")

    @router.get("/changes/{change_id}/revise")
    def revise_form(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(raiser)]
    ) -> Response:
        """The change's plan in the raise form, to edit: saving voids its approvals."""
        change = change_detail(p.views, str(change_id))
        if change is None:
            return p.templates.missing(
                request, viewer, "No such change", "There is no production change at this address."
            )
        values = {key: change.get(key) for key in REVISABLE}
        values["backout_tested"] = "yes" if change.get("backout_tested") else "no"
        if change["bundle_id"] is None:  # a release deployment's is left to its bundle's
            for end in ("window_start", "window_end"):
                values[end] = _local(change[end], p.zone)
        return form_page(request, viewer, values, revising=change)

    @router.post("/changes/{change_id}/revise")
    async def revise(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(raiser)]
    ) -> Response:
        form = await read_form(request)
        change = change_detail(p.views, str(change_id))
        if change is None:
            return p.templates.missing(
                request, viewer, "No such change", "There is no production change at this address."
            )
        standard = change["change_type"] == ChangeType.STANDARD.value

        def command() -> Any:
            form.require({**REQUIRED_FIELDS, **({} if standard else RISK_FIELDS)})
            draft = _draft(form, p, None if standard else risk_answers(form))
            if standard and change.get("template_id"):
                # As the change has them (the template's when it was raised) or as the
                # template has them now.
                kept = (change["implementation_plan"], change["backout_plan"])
                draft = _as_template(p, draft, change["template_id"], kept)
            return p.changes.revise(viewer.principal, change_id, draft)

        result = attempt(viewer, command)
        if isinstance(result, Refusal):
            kept = {**_kept(form), "change_type": change["change_type"]}
            kept["bundle_id"] = change["bundle_id"]
            return form_page(request, viewer, kept, result, revising=change)
        return see_other(f"/changes/{change_id}?done=revised")

    return router


REVISABLE = (
    "change_type", "bundle_id", "template_id", "title", "subsystems", "implementation_plan",
    "backout_plan", "test_evidence", "implementers", "impact", "likelihood", "affected_users",
)  # fmt: skip
"""What the revise form starts from: the change's plan as it stands."""


def _kept(form: Form) -> dict[str, Any]:
    """What was typed, lists as lists, to fill the form again after a refusal."""
    kept: dict[str, Any] = dict(form.kept())
    kept["subsystems"] = form.texts("subsystems")
    kept["implementers"] = form.texts("implementers")
    return kept


def _local(instant: str | None, zone: tzinfo) -> str:
    """An instant as a `datetime-local` field shows it, in the business time zone."""
    if not instant:
        return ""
    return datetime.fromisoformat(instant).astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _draft(form: Form, p: ChangePages, questionnaire: Questionnaire | None) -> ChangeDraft:
    return ChangeDraft(
        title=form.text("title"),
        subsystems=form.texts("subsystems"),
        window_start=p.moment(form, "window_start", "The window's start"),
        window_end=p.moment(form, "window_end", "The window's end"),
        implementation_plan=form.text("implementation_plan"),
        backout_plan=form.text("backout_plan"),
        test_evidence=form.text("test_evidence"),
        implementers=form.texts("implementers"),
        questionnaire=questionnaire,
    )


def _as_template(
    p: ChangePages, draft: ChangeDraft, template_id: str, kept: tuple[str, str] | None = None
) -> ChangeDraft:
    """A standard change's plans are its template's: the form shows them (read-only) and
    sends them back, which is not a plan of the change's own (`kept`: the plans a change
    being revised has). Any other text is, and the domain refuses it (every standard
    change raised from the form was refused so)."""
    template = p.views.template(template_id)
    shown = [kept] if kept else []
    if template is not None:
        shown.append((template["implementation_plan"], template["backout_plan"]))

    def words(text: str) -> str:
        return " ".join(text.split())

    sent = (words(draft.implementation_plan), words(draft.backout_plan))
    if any(sent == (words(a), words(b)) for a, b in shown):
        return replace(draft, implementation_plan="", backout_plan="")
    return draft


def risk_answers(form: Form) -> Questionnaire:
    try:
        return Questionnaire(
            Impact(form.text("impact")),
            Likelihood(form.text("likelihood")),
            AffectedUsers(form.text("affected_users")),
            form.text("backout_tested") == "yes",
        )
    except ValueError:
        raise BadInput("answer the four risk questions") from None


def _prefilled(
    p: ChangePages, username: str, bundle_id: str, template_id: str, again_from: str
) -> dict[str, Any]:
    """What the raise form starts from: a change to try again, a standard template, a
    bundle's release deployment, or a blank normal change."""
    values: dict[str, Any] = {"subsystems": [], "implementers": [username]}
    bundle = p.views.bundle(bundle_id) if bundle_id else None
    template = p.views.template(template_id) if template_id else None
    before = change_detail(p.views, again_from) if again_from else None
    if before is not None:  # a rejected or withdrawn change, to try again
        values = {key: before.get(key) for key in REVISABLE}
        values["backout_tested"] = "yes" if before.get("backout_tested") else "no"
    elif template is not None and not template["retired"]:  # "Raise one" from the catalogue
        values.update(
            change_type=ChangeType.STANDARD.value,
            template_id=template_id,
            title=template["name"],
            subsystems=template["subsystems"],
            implementation_plan=template["implementation_plan"],
            backout_plan=template["backout_plan"],
        )
    elif bundle is not None:
        values.update(
            change_type=ChangeType.RELEASE_DEPLOYMENT.value,
            bundle_id=bundle_id,
            title=f"Deploy release bundle {bundle['name']}",
            # Each subsystem its requests touch: one left out would make its deployment
            # unauthorised when the pipeline reports it.
            subsystems=bundle["subsystems"],
        )
    else:
        values["change_type"] = ChangeType.NORMAL.value
    return values
