"""The CAB queue, a change's page (approve, reject, start, complete) and the calendar."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from services.change_control.domain.values import Outcome, Window
from services.change_control.pages.base import ChangePages
from services.change_control.views.board import (
    awaiting,
    cab_queue,
    calendar,
    change_detail,
    involved,
    may_reject,
    review_due,
    reviews_due,
)
from shared.contracts import CHANGE_REFERENCES
from shared.http.routing import ServiceRouter
from shared.identity.domain import IT_ROLES, Role
from shared.web.access import Viewer
from shared.web.forms import BadInput, Form, Refusal, handle_form
from shared.web.mentions import nobody_named, told_nobody
from shared.web.references import reference_route

NOTICES = {
    "approved": "Your approval is recorded.",
    "rejected": "The change is rejected.",
    "started": "Implementation started.",
    "completed": "The outcome is recorded.",
    "reviewed": "The review is recorded.",
    "raised": "The change is raised and waits for the CAB.",
    "commented": "Your comment is added.",
    "withdrawn": "The change is withdrawn: it will not be implemented.",
    "revised": "The change is revised: it waits for the CAB again.",
}


def _notice(done: str, change: dict[str, Any]) -> str:
    """What the action just done did; a standard change raised or revised waits for
    nobody (its template approves it again)."""
    if change["change_type"] == "standard" and done in ("raised", "revised"):
        return (
            f"The change is {done}, and approved by its standard template: start it in its window."
        )
    return NOTICES.get(done) or ""


def board_routes(p: ChangePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()
    board = p.access.require(Role.CAB_MEMBER)
    implementer = p.access.require(Role.IT_STAFF)
    talker = p.access.require(*IT_ROLES)

    @router.get("/cab")
    def queue(request: Request, viewer: Annotated[Viewer, Depends(board)]) -> Response:
        return p.templates.render(
            request,
            "cab_queue.html",
            viewer,
            queue=cab_queue(p.views, viewer.username),
            reviews=reviews_due(p.views, viewer.username),
            notice=NOTICES.get(request.query_params.get("done", "")),
        )

    @router.get("/changes/calendar")
    def change_calendar(
        request: Request,
        viewer: Annotated[Viewer, Depends(anyone)],
        days: Annotated[int, Query(ge=1, le=120)] = 30,
    ) -> Response:
        start = datetime.now(UTC).astimezone(p.zone).replace(hour=0, minute=0, second=0)
        start = start.replace(microsecond=0)
        window = Window(start, start + timedelta(days=days))
        found = calendar(p.views, window, None)
        return p.templates.render(
            request,
            "calendar.html",
            viewer,
            days=_agenda(found, start, days, p.zone),
            blackouts=found["blackouts"],
            span=days,
        )

    def change_page(
        request: Request,
        viewer: Viewer,
        change_id: UUID,
        *,
        refusal: Refusal | None = None,
        failed: str = "",
        kept: dict[str, Any] | None = None,
    ) -> Response:
        change = change_detail(p.views, str(change_id))
        if change is None:
            return p.templates.missing(
                request, viewer, "No such change", "There is no production change at this address."
            )
        mine = viewer.username in change["implementers"]
        # Separation of duties, as the change refuses it: nobody judges their own change.
        theirs = involved(change, viewer.username)
        judge = viewer.may(Role.CAB_MEMBER) and not theirs
        return p.templates.render(
            request,
            "change.html",
            viewer,
            status=refusal.status if refusal else 200,
            c=change,
            awaiting=awaiting(change, viewer.username) if viewer.may(Role.CAB_MEMBER) else None,
            may_reject=judge and may_reject(change, viewer.username),
            # Said where another member's decision is due: a review, or the change itself.
            own_decision=viewer.may(Role.CAB_MEMBER)
            and theirs
            and (change["status"] == "in_review" or review_due(change)),
            may_start=mine and change["status"] == "approved",
            window_shut=_window_shut(change),
            may_withdraw=(theirs or viewer.may(Role.RELEASE_MANAGER))
            and change["status"] in ("in_review", "approved"),
            may_review=judge and review_due(change),
            may_complete=mine and change["status"] == "implementing",
            may_comment=viewer.may(*IT_ROLES),
            outcomes=[o.value for o in Outcome],
            notice=_notice(request.query_params.get("done", ""), change) + told_nobody(request),
            error=refusal.detail if refusal else None,
            failed=failed,
            form=kept or {},
        )

    # A change's address by its reference, as the CAB says it: /changes/CHG-7.
    reference_route(
        router, "/changes", CHANGE_REFERENCES, p.views.with_number, p.templates, anyone,
        "production change",
    )  # fmt: skip

    @router.get("/changes/{change_id}")
    def change(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(anyone)]
    ) -> Response:
        return change_page(request, viewer, change_id)

    async def act(
        request: Request,
        viewer: Viewer,
        change_id: UUID,
        name: str,
        run: Callable[[Form], object],
        back: str | Callable[[Form], str] | None = None,
    ) -> Response:
        def refused(refusal: Refusal, form: Form) -> Response:
            return change_page(
                request, viewer, change_id, refusal=refusal, failed=name, kept=form.kept()
            )

        done = back or f"/changes/{change_id}?done={name}"
        return await handle_form(request, viewer, run, refused, done)

    @router.post("/changes/{change_id}/approve")
    async def approve(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(board)]
    ) -> Response:
        def run(f: Form) -> object:
            revision = f.integer("revision", "The revision", 1, 1_000_000)
            return p.changes.approve(viewer.principal, change_id, revision, f.text("comment"))

        return await act(request, viewer, change_id, "approved", run, "/cab?done=approved")

    @router.post("/changes/{change_id}/reject")
    async def reject(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(board)]
    ) -> Response:
        return await act(
            request,
            viewer,
            change_id,
            "rejected",
            lambda f: p.changes.reject(viewer.principal, change_id, f.text("reason")),
            "/cab?done=rejected",
        )

    @router.post("/changes/{change_id}/review")
    async def review(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(board)]
    ) -> Response:
        return await act(
            request,
            viewer,
            change_id,
            "reviewed",
            lambda f: p.changes.review(
                viewer.principal, change_id, f.text("findings"), f.text("actions")
            ),
        )

    @router.post("/changes/{change_id}/comments")
    async def comment(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(talker)]
    ) -> Response:
        def done(form: Form) -> str:  # where the comment now stands, above the box
            nobody = nobody_named(form.text("text"), p.access.directory)
            return f"/changes/{change_id}?done=commented{nobody}#comment"

        return await act(
            request, viewer, change_id, "commented",
            lambda f: p.changes.comment(change_id, f.text("text")), done,
        )  # fmt: skip

    @router.post("/changes/{change_id}/withdraw")
    async def withdraw(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(talker)]
    ) -> Response:
        return await act(
            request, viewer, change_id, "withdrawn",
            lambda f: p.changes.withdraw(viewer.principal, change_id, f.text("reason")),
        )  # fmt: skip

    @router.post("/changes/{change_id}/start")
    async def start(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(implementer)]
    ) -> Response:
        return await act(
            request,
            viewer,
            change_id,
            "started",
            lambda f: p.changes.start(viewer.principal, change_id),
        )

    @router.post("/changes/{change_id}/complete")
    async def complete(
        request: Request, change_id: UUID, viewer: Annotated[Viewer, Depends(implementer)]
    ) -> Response:
        def run(f: Form) -> object:
            try:
                outcome = Outcome(f.text("outcome"))
            except ValueError:
                raise BadInput("choose how the change ended") from None
            return p.changes.complete(viewer.principal, change_id, outcome, f.text("notes"))

        return await act(request, viewer, change_id, "completed", run)

    return router


def _agenda(found: dict[str, Any], start: datetime, days: int, zone: Any) -> list[dict[str, Any]]:
    """Day by day: the changes whose window touches the day (`continued` on the days
    after the one it starts), and the blackouts over it."""
    agenda = []
    for offset in range(days):
        day_start = start + timedelta(days=offset)
        day_end = day_start + timedelta(days=1)

        def touches(item: dict[str, Any], a: datetime = day_start, b: datetime = day_end) -> bool:
            s = datetime.fromisoformat(item["window_start"]).astimezone(zone)
            e = datetime.fromisoformat(item["window_end"]).astimezone(zone)
            return s < b and e > a

        changes = [
            {**c, "continued": datetime.fromisoformat(c["window_start"]) < day_start}
            for c in found["changes"]
            if touches(c)
        ]
        blackouts = [b for b in found["blackouts"] if touches(b)]
        if changes or blackouts:
            agenda.append(
                {"day": day_start.date().isoformat(), "changes": changes, "blackouts": blackouts}
            )
    return agenda


def _window_shut(change: Mapping[str, Any]) -> str | None:
    """Whether a change that starts in its window (not an emergency) cannot start now:
    `before` its window opens, `after` it closed; None when it may."""
    window = Window.parse(change["window_start"], change["window_end"])
    if change["change_type"] == "emergency" or window is None:
        return None
    phase = window.phase(datetime.now(UTC))
    return None if phase == "open" else phase
