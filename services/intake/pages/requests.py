"""Submitting a request, following it, answering a question, withdrawing it."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from services.intake.application import COMMENTERS
from services.intake.domain import CLOSED, EDITABLE, TRIAGEABLE, Status
from services.intake.pages.base import IntakePages, plan_of
from shared.contracts import REQUEST_REFERENCES
from shared.http.routing import ServiceRouter
from shared.identity.domain import IT_ROLES, Role
from shared.identity.pages import safe_next
from shared.web.access import Viewer
from shared.web.forms import Form, Refusal, handle_form
from shared.web.history import referenced, with_links
from shared.web.mentions import nobody_named, told_nobody
from shared.web.references import reference_route

NOTICES = {
    "submitted": "Your request is in. The release manager will triage it.",
    "answered": "Thank you: your answer is recorded and the request is back in triage.",
    "withdrawn": "The request is withdrawn.",
    "rated": "Thank you for your rating.",
    "triaged": "Decision recorded.",
    "commented": "Your comment is added.",
    "edited": "Your changes are saved; the release manager triages the request as it reads now.",
}


def request_routes(p: IntakePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()
    requester = p.access.require(Role.REQUESTER)
    withdrawer = p.access.require(Role.REQUESTER, Role.RELEASE_MANAGER)
    commenter = p.access.require(*COMMENTERS)

    @router.get("/requests/similar")
    def similar(
        request: Request,
        viewer: Annotated[Viewer, Depends(anyone)],
        title: Annotated[str, Query(max_length=200)] = "",
    ) -> Response:
        matches = p.views.similar(title) if len(title.strip()) >= 3 else []
        return p.templates.render(request, "_similar.html", viewer, matches=matches)

    def detail_page(
        request: Request,
        viewer: Viewer,
        request_id: UUID,
        *,
        refusal: Refusal | None = None,
        kept: dict[str, Any] | None = None,
        failed: str = "",
    ) -> Response:
        row = p.views.get(str(request_id))
        if row is None:
            return p.templates.missing(
                request, viewer, "No such request", "There is no change request at this address."
            )
        placement = p.schedule.placements([row["id"]]).get(row["id"])
        department = viewer.principal.department
        own = (
            viewer.may(Role.REQUESTER)
            and department is not None
            and department.casefold() == row["department"].casefold()
        )
        status = Status(row["status"])
        may_triage = viewer.may(Role.RELEASE_MANAGER) and status in TRIAGEABLE
        if may_triage:
            row = p.with_duplicates([row])[0]
        # Its own steps and its planning's (scheduled, its bundle moved, its progress):
        # why its target date changed is part of its story.
        history = sorted(
            p.views.history(row["id"]) + p.schedule.steps(row["id"]),
            key=lambda line: int(line["position"]),
        )
        return p.templates.render(
            request,
            "detail.html",
            viewer,
            status=refusal.status if refusal else 200,
            r={**row, **plan_of(row, placement, p.views.today())},
            history=with_links(history, p.views.titles(referenced(history)[0]), {}),
            notice=(NOTICES.get(request.query_params.get("notice", "")) or "")
            + told_nobody(request),
            error=refusal.detail if refusal else None,
            failed=failed,
            form=kept or {},
            may_answer=own and status == Status.INFO_REQUESTED,
            may_edit=own and status in EDITABLE,
            may_withdraw=(own or viewer.may(Role.RELEASE_MANAGER)) and status not in CLOSED,
            may_rate=own and status == Status.DELIVERED,
            may_comment=own or viewer.may(*IT_ROLES),
            may_triage=may_triage,
            triage_target=p.views.triage_target_days,
            owners=p.it_staff() if viewer.may(Role.RELEASE_MANAGER) else [],
        )

    # A request's address by its reference, as people pass it on: /requests/REQ-12.
    reference_route(
        router, "/requests", REQUEST_REFERENCES, p.views.with_number, p.templates, anyone,
        "change request",
    )  # fmt: skip

    @router.get("/requests/{request_id}")
    def detail(
        request: Request, request_id: UUID, viewer: Annotated[Viewer, Depends(anyone)]
    ) -> Response:
        return detail_page(request, viewer, request_id)

    async def act(
        request: Request,
        viewer: Viewer,
        request_id: UUID,
        name: str,
        run: Any,
        at: str = "",
        back: Callable[[Form], str | None] = lambda form: None,
    ) -> Response:
        """`back`: where the form came from, if it is to return there (else the request's
        page, with a notice)."""

        def refused(refusal: Refusal, form: Form) -> Response:
            return detail_page(
                request, viewer, request_id, refusal=refusal, kept=form.kept(), failed=name
            )

        def done(form: Form) -> str:
            return back(form) or f"/requests/{request_id}?notice={name}{at}"

        return await handle_form(request, viewer, run, refused, done)

    @router.post("/requests/{request_id}/answer")
    async def answer(
        request: Request, request_id: UUID, viewer: Annotated[Viewer, Depends(requester)]
    ) -> Response:
        def run(form: Form) -> object:
            return p.intake.provide_information(viewer.principal, request_id, form.text("answer"))

        return await act(request, viewer, request_id, "answered", run)

    @router.post("/requests/{request_id}/withdraw")
    async def withdraw(
        request: Request, request_id: UUID, viewer: Annotated[Viewer, Depends(withdrawer)]
    ) -> Response:
        def run(form: Form) -> object:
            return p.intake.withdraw(viewer.principal, request_id, form.text("reason"))

        return await act(request, viewer, request_id, "withdrawn", run)

    @router.post("/requests/{request_id}/comments")
    async def comment(
        request: Request, request_id: UUID, viewer: Annotated[Viewer, Depends(commenter)]
    ) -> Response:
        def run(form: Form) -> object:
            return p.intake.comment(viewer.principal, request_id, form.text("text"))

        def back(form: Form) -> str:  # where the comment now stands, above the box
            nobody = nobody_named(form.text("text"), p.access.directory)
            return f"/requests/{request_id}?notice=commented{nobody}#comment"

        return await act(request, viewer, request_id, "commented", run, back=back)

    @router.post("/requests/{request_id}/rating")
    async def rate(
        request: Request, request_id: UUID, viewer: Annotated[Viewer, Depends(requester)]
    ) -> Response:
        def run(form: Form) -> object:
            score = form.integer("score", "The rating", 1, 5)
            # The version the page showed: a rating given since (in another tab, by a
            # colleague) is refused, not overwritten. A form without it rates as before.
            read_at = (
                form.integer("version", "The version read", 1, 10**9)
                if form.text("version")
                else None
            )
            return p.intake.rate(
                viewer.principal, request_id, score, form.text("comment"), read_at=read_at
            )

        return await act(request, viewer, request_id, "rated", run, back=_back_to_list)

    return router


def _back_to_list(form: Form) -> str | None:
    """A list of requests a rating was given from (the deliveries still to rate): back
    there, where the rated one has left the list. Only that list's own address."""
    back = form.text("back")
    if back.startswith("/requests?") and safe_next(back) == back:
        return back
    return None
