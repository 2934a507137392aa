"""The release manager's triage queue: one click (and a short reason) per decision."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

from services.intake.domain import ClassOfService, Status
from services.intake.pages.base import IntakePages, choice, parse_uuid
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import Viewer
from shared.web.forms import BadInput, Form, Refusal, attempt, is_htmx, read_form, see_other
from shared.web.rendering import sentence

Decision = Literal["accept", "reject", "defer", "ask", "duplicate"]
DONE = {
    "accept": "Accepted",
    "reject": "Rejected",
    "defer": "Deferred",
    "ask": "Question sent",
    "duplicate": "Marked as a duplicate",
}


def triage_routes(p: IntakePages) -> APIRouter:
    router = ServiceRouter()
    manager = p.access.require(Role.RELEASE_MANAGER)

    def decide(request_id: UUID, decision: Decision, form: Form) -> Any:
        if decision == "accept":
            cos = choice(ClassOfService, form.text("class_of_service") or "standard", "class")
            return p.intake.accept(
                request_id,
                form.text("owner"),
                form.integer("size_points", "Size points", 1, 1000),
                cos,
                form.date("fixed_date", "The fixed date"),
            )
        if decision == "reject":
            return p.intake.reject(request_id, form.text("reason"))
        if decision == "defer":
            return p.intake.defer(request_id, form.text("reason"), form.date("until", "Until"))
        if decision == "duplicate":
            # Chosen among the similar titles, or typed as its number (REQ-12): the one
            # it duplicates need not have a title alike.
            original = form.text("duplicate_ref") or form.text("duplicate_of")
            if not original:
                raise BadInput("choose the request this one duplicates, or type its number")
            original_id = parse_uuid(p.intake.request_id_of(original))
            return p.intake.mark_duplicate(request_id, original_id, form.text("note"))
        return p.intake.request_information(request_id, form.text("question"))

    def queue_page(
        request: Request,
        viewer: Viewer,
        *,
        failed_id: str = "",
        failed: str = "",
        refusal: Refusal | None = None,
        kept: dict[str, Any] | None = None,
    ) -> Response:
        notice = DONE.get(request.query_params.get("done", ""))
        return p.templates.render(
            request,
            "triage.html",
            viewer,
            status=refusal.status if refusal else 200,
            queue=p.with_duplicates(p.views.triage_queue()),
            triage_target=p.views.triage_target_days,
            owners=p.it_staff(),
            notice=notice,
            failed_id=failed_id,
            failed=failed,
            error=refusal.detail if refusal else None,
            form=kept or {},
        )

    @router.get("/triage")
    def queue(request: Request, viewer: Annotated[Viewer, Depends(manager)]) -> Response:
        return queue_page(request, viewer)

    @router.post("/triage/{request_id}/{decision}")
    async def triage(
        request: Request,
        request_id: UUID,
        decision: Annotated[Decision, Path()],
        viewer: Annotated[Viewer, Depends(manager)],
    ) -> Response:
        form = await read_form(request)
        result = attempt(viewer, lambda: decide(request_id, decision, form))
        if not is_htmx(request):
            if isinstance(result, Refusal):
                return queue_page(
                    request,
                    viewer,
                    failed_id=str(request_id),
                    failed=decision,
                    refusal=result,
                    kept=form.kept(),
                )
            return see_other(f"/triage?done={decision}")
        row = p.views.get(str(request_id))
        meanwhile = row["status"] if row and row["status"] != Status.SUBMITTED else None
        if isinstance(result, Refusal) and meanwhile is None:
            # Only the card's message is replaced: its other boxes keep what was typed
            # in them (swapping the whole card emptied every box but the one sent).
            said = Markup('<p class="error"><strong>Not saved.</strong> {}</p>').format(
                sentence(result.detail)
            )
            return HTMLResponse(
                said,
                status_code=result.status,
                headers={"HX-Retarget": f"#triage-said-{request_id}", "HX-Reswap": "innerHTML"},
            )
        return p.templates.render(
            request,
            "_triage_item.html",
            viewer,
            status=result.status if isinstance(result, Refusal) else 200,
            r=p.with_duplicates([row])[0] if row else row,
            triage_target=p.views.triage_target_days,
            owners=p.it_staff(),
            decided=None if isinstance(result, Refusal) else DONE[decision],
            # Decided in another tab or by someone else meanwhile: the card says so, and
            # offers no decision any more (it kept offering all five).
            meanwhile=meanwhile if isinstance(result, Refusal) else None,
            # The queue's count at the top, one fewer (or the same, after a question).
            # (also after a refusal because it was decided meanwhile: it left the queue)
            recount=None
            if isinstance(result, Refusal) and meanwhile is None
            else p.views.triage_queue(),
            failed_id=str(request_id),
            failed=decision,
            error=result.detail if isinstance(result, Refusal) else None,
            form=form.kept() if isinstance(result, Refusal) else {},
        )

    return router
