"""One bundle: its dates, capacity and scope; freeze and exceptions (release manager);
progress of each item (IT staff); QA sign-off (the QA team); release notes."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.release.domain import NEXT_STAGES, BundleStatus, Stage
from services.release.pages.base import ReleasePages, parse_uuid, went_ahead, with_fill
from services.release.trains import MAX_CAPACITY
from services.release.views import PROGRESS_WORDS
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role, Team
from shared.web.access import Viewer
from shared.web.forms import BadInput, Form, Refusal, handle_form
from shared.web.history import referenced, with_links

NOTICES = {
    "frozen": "Scope frozen: from now on every change to it is an exception with a reason.",
    "scheduled": "Request scheduled into the bundle.",
    "unschedule": "Request taken out of the bundle.",
    "pull": "Item pulled from the bundle.",
    "progress": "Progress recorded.",
    "signed_off": "QA sign-off recorded.",
    "capacity": "Capacity changed.",
    "cancelled": "Bundle cancelled: its requests are free to be planned into another.",
}


NEXT_STAGE_CHOICES = {
    stage.value: [s.value for s in Stage if s in NEXT_STAGES[stage]] for stage in NEXT_STAGES
}
"""What an item's stage may become from each stage, in the stages' order: the form offers
only these, so a click cannot set an item back by accident."""


def bundle_routes(p: ReleasePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()
    manager = p.access.require(Role.RELEASE_MANAGER)
    it_staff = p.access.require(Role.IT_STAFF)

    def bundle_page(
        request: Request,
        viewer: Viewer,
        bundle_id: UUID,
        *,
        refusal: Refusal | None = None,
        failed: str = "",
        kept: dict[str, Any] | None = None,
        said: list[str] | None = None,
    ) -> Response:
        bundle = p.views.bundle(str(bundle_id))
        if bundle is None:
            return p.templates.missing(
                request, viewer, "No such bundle", "There is no release bundle at this address."
            )
        manages = viewer.may(Role.RELEASE_MANAGER)
        history = p.views.history(str(bundle_id))
        requests, changes = referenced(history)
        if bundle.get("change_id"):
            changes.add(bundle["change_id"])
        request_titles, change_titles = p.views.titles(requests, changes)
        # The change that deploys it: approved, or raised and still open (no second one).
        open_change = p.views.open_change(str(bundle_id))
        return p.templates.render(
            request,
            "bundle.html",
            viewer,
            status=refusal.status if refusal else 200,
            b=with_fill(bundle),
            churn=p.views.churn(str(bundle_id)),
            history=with_links(history, request_titles, change_titles),
            change_title=change_titles.get(bundle.get("change_id") or ""),
            open_change=open_change,
            backlog=_backlog(p) if manages else [],
            manages=manages,
            works=viewer.may(Role.IT_STAFF),
            in_qa_team=viewer.principal.team == Team.QA,
            next_stages=NEXT_STAGE_CHOICES,
            notice=NOTICES.get(request.query_params.get("done", "")),
            said=said or [],
            error=refusal.detail if refusal else None,
            failed=failed,
            form=kept or {},
            # The item a form was just sent for (its address), or whose progress was just
            # recorded (the page's): its row says what happened, where the reader is.
            this_item=request.path_params.get("request_id")
            or request.query_params.get("request", ""),
            done=request.query_params.get("done", ""),
            progress_words=PROGRESS_WORDS,
        )

    @router.get("/release/bundles/{bundle_id}")
    def bundle(
        request: Request, bundle_id: UUID, viewer: Annotated[Viewer, Depends(anyone)]
    ) -> Response:
        return bundle_page(request, viewer, bundle_id, said=said_after(request, bundle_id))

    def said_after(request: Request, bundle_id: UUID) -> list[str]:
        """What a scheduling or a move just made leaves to know or do, worked out again
        from what is recorded: nothing but the request scheduled and the bundle's status
        before a move is taken from the address."""
        done = request.query_params.get("done")
        if done == "scheduled":  # the request scheduled, in the address
            return _past_ranking(p, request.query_params.get("request", ""))
        bundle = p.views.bundle(str(bundle_id)) if done == "moved" else None
        if bundle is None:
            return []
        was = request.query_params.get("was", "")
        day = date.fromisoformat(bundle["deploy_date"])
        before = was if was in BundleStatus.__members__.values() else bundle["status"]
        return [
            f"Moved to {day.isoformat()}; its milestones moved with it.",
            *p.releases.left_by_move(str(bundle_id), day, before, bundle["status"]),
        ]

    async def act(
        request: Request,
        viewer: Viewer,
        bundle_id: UUID,
        name: str,
        run: Callable[[Form], object],
        told: str | Callable[[Form], str] = "",
    ) -> Response:
        """`run` the form posted as `name`; on to the page saying so (with `told`, more
        of the address), or the page again with the refusal and what was typed."""

        def refused(refusal: Refusal, form: Form) -> Response:
            return bundle_page(
                request, viewer, bundle_id, refusal=refusal, failed=name, kept=form.kept()
            )

        def done(form: Form) -> str:
            more = told(form) if callable(told) else told
            return f"/release/bundles/{bundle_id}?done={name}{more}"

        return await handle_form(request, viewer, run, refused, done)

    @router.post("/release/bundles/{bundle_id}/freeze")
    async def freeze(
        request: Request, bundle_id: UUID, viewer: Annotated[Viewer, Depends(manager)]
    ) -> Response:
        return await act(
            request,
            viewer,
            bundle_id,
            "frozen",
            lambda f: p.releases.freeze(bundle_id, f.text("note")),
        )

    _plan_routes(router, p, manager, bundle_page, act)

    @router.post("/release/bundles/{bundle_id}/schedule")
    async def schedule(
        request: Request, bundle_id: UUID, viewer: Annotated[Viewer, Depends(manager)]
    ) -> Response:
        def run(f: Form) -> object:
            request_id = parse_uuid(f.text("request_id"), "a request to schedule")
            return p.releases.schedule(bundle_id, request_id, f.text("reason") or None)

        return await act(
            request,
            viewer,
            bundle_id,
            "scheduled",
            run,
            lambda f: f"&request={f.text('request_id')}",
        )

    @router.post("/release/bundles/{bundle_id}/items/{request_id}/unschedule")
    async def unschedule(
        request: Request,
        bundle_id: UUID,
        request_id: UUID,
        viewer: Annotated[Viewer, Depends(manager)],
    ) -> Response:
        def run(f: Form) -> object:
            return p.releases.unschedule(bundle_id, request_id, f.text("reason") or None)

        return await act(request, viewer, bundle_id, "unschedule", run)

    @router.post("/release/bundles/{bundle_id}/items/{request_id}/pull")
    async def pull(
        request: Request,
        bundle_id: UUID,
        request_id: UUID,
        viewer: Annotated[Viewer, Depends(manager)],
    ) -> Response:
        def run(f: Form) -> object:
            return p.releases.pull(bundle_id, request_id, f.text("reason"))

        return await act(request, viewer, bundle_id, "pull", run)

    @router.post("/release/bundles/{bundle_id}/items/{request_id}/progress")
    async def progress(
        request: Request,
        bundle_id: UUID,
        request_id: UUID,
        viewer: Annotated[Viewer, Depends(it_staff)],
    ) -> Response:
        def run(f: Form) -> object:
            try:
                stage = Stage(f.text("stage"))
            except ValueError:
                raise BadInput("choose the stage the item has reached") from None
            return p.releases.record_progress(
                viewer.principal, bundle_id, request_id, stage, f.text("note")
            )

        # Back to the item's row, named (the page opened at its top, saying only that
        # some progress was recorded, on a bundle of thirty items).
        return await act(
            request, viewer, bundle_id, "progress", run, f"&request={request_id}#item-{request_id}"
        )

    @router.post("/release/bundles/{bundle_id}/sign-off")
    async def sign_off(
        request: Request, bundle_id: UUID, viewer: Annotated[Viewer, Depends(it_staff)]
    ) -> Response:
        return await act(
            request,
            viewer,
            bundle_id,
            "signed_off",
            lambda f: p.releases.sign_off(viewer.principal, bundle_id, f.text("note")),
        )

    return router


def _plan_routes(
    router: APIRouter,
    p: ReleasePages,
    manager: Callable[[Request], Awaitable[Viewer]],
    bundle_page: Callable[..., Response],
    act: Callable[..., Awaitable[Response]],
) -> None:
    """The release manager's changes to the plan of a bundle: move, capacity, cancel."""

    @router.post("/release/bundles/{bundle_id}/move")
    async def move(
        request: Request, bundle_id: UUID, viewer: Annotated[Viewer, Depends(manager)]
    ) -> Response:
        """On to the bundle's page, which says what the move leaves to be done (a release
        change to revise, milestones passed) from its status before, carried in the
        address: a reload shows the page again instead of sending the move twice."""
        was = (p.views.bundle(str(bundle_id)) or {}).get("status", "")

        def run(form: Form) -> object:
            form.require({"deploy_date": "the new date", "reason": "the reason"})
            day = form.date("deploy_date", "The new date")
            assert day is not None  # required above
            return p.releases.move(bundle_id, day, form.text("reason"))

        return await act(request, viewer, bundle_id, "moved", run, f"&was={was}")

    @router.post("/release/bundles/{bundle_id}/capacity")
    async def capacity(
        request: Request, bundle_id: UUID, viewer: Annotated[Viewer, Depends(manager)]
    ) -> Response:
        def run(f: Form) -> object:
            points = f.integer("capacity_points", "Capacity", 1, MAX_CAPACITY)
            bundle = p.views.bundle(str(bundle_id)) or {}
            keep = bundle.get("subsystem_capacity") or {}  # changed over the API only
            return p.releases.change_capacity(bundle_id, points, keep, f.text("reason"))

        return await act(request, viewer, bundle_id, "capacity", run)

    @router.post("/release/bundles/{bundle_id}/cancel")
    async def cancel(
        request: Request, bundle_id: UUID, viewer: Annotated[Viewer, Depends(manager)]
    ) -> Response:
        def run(f: Form) -> object:
            f.require({"reason": "the reason"})
            if f.text("confirm") != "yes":  # it cannot be undone: asked for, not assumed
                raise BadInput(
                    "tick “Cancel it for good” to confirm: a cancelled bundle stays cancelled"
                )
            return p.releases.cancel(bundle_id, f.text("reason"))

        return await act(request, viewer, bundle_id, "cancelled", run)


def _backlog(p: ReleasePages) -> list[dict[str, Any]]:
    """Accepted requests not in any live bundle, to schedule by hand."""
    backlog = p.views.backlog()
    titles = p.views.request_titles([c.request_id for c in backlog])
    return [
        {
            "id": c.request_id,
            "title": titles.get(c.request_id, {}).get("title", c.request_id),
            "reference": titles.get(c.request_id, {}).get("reference", ""),
            "department": c.department,
            "rank": c.department_rank,
            "size_points": c.size_points,
        }
        for c in backlog
    ]


def _past_ranking(p: ReleasePages, request_id: str) -> list[str]:
    """Said when the request just scheduled went past ones its department ranks above."""
    skipped = p.views.ahead_of_rank(request_id)
    return [went_ahead("It", skipped)] if skipped else []
