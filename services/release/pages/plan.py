"""The release plan: upcoming bundles, the suggested plan to apply, the calendar link."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.release.application import TrainDraft
from services.release.cadence import DEFAULT_OFFSETS, Cadence, MilestoneOffsets
from services.release.pages.base import ReleasePages, parse_uuid, went_ahead
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import Viewer
from shared.web.forms import BadInput, Form, Refusal, attempt, read_form, see_other

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def plan_routes(p: ReleasePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()
    manager = p.access.require(Role.RELEASE_MANAGER)

    def plan_page(
        request: Request,
        viewer: Viewer,
        refusal: Refusal | None = None,
        kept: Any = None,
        train_form: dict[str, Any] | None = None,
        subscription: str | None = None,
    ) -> Response:
        manages = viewer.may(Role.RELEASE_MANAGER)
        return p.templates.render(
            request,
            "plan.html",
            viewer,
            status=refusal.status if refusal else 200,
            bundles=p.upcoming(),
            trains=p.views.trains(),
            suggestion=p.suggestion() if manages else None,
            manages=manages,
            notice=request.query_params.get("applied"),
            planned=_planned_notice(request.query_params),
            past_ranking=_past_ranking(p, request.query_params.get("past", "")),
            error=refusal.detail if refusal else None,
            chosen=set(kept or []),
            train_form=train_form or {},
            subscription=subscription,
            feeds=[f for f in p.views.feeds(viewer.username) if not f["revoked_at"]],
            feed_revoked=request.query_params.get("done") == "feed_revoked",
        )

    @router.get("/release")
    def plan(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        return plan_page(request, viewer)

    @router.post("/release/plan/apply")
    async def apply(request: Request, viewer: Annotated[Viewer, Depends(manager)]) -> Response:
        form = await read_form(request)
        chosen = form.texts("proposal")

        def command() -> Any:
            if not chosen:
                raise BadInput("tick at least one proposal to apply")
            items = []
            for value in chosen:
                request_id, _, bundle_id = value.partition(":")
                items.append(
                    (parse_uuid(request_id, "a request"), parse_uuid(bundle_id, "a bundle"))
                )
            return p.releases.apply_plan(items)

        result = attempt(viewer, command)
        if isinstance(result, Refusal):
            return plan_page(request, viewer, result, chosen)
        past = ",".join(d.request_id for d in result.scheduled if d.ahead_of_rank)
        return see_other(f"/release?applied={len(result.scheduled)}&past={past}")

    @router.post("/release/calendar/subscribe")
    async def subscribe(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        """A calendar-app link with its own secret, shown once (it is revocable by API)."""
        result = attempt(viewer, lambda: p.feeds.issue(viewer.username, "web page"))
        if isinstance(result, Refusal):
            return plan_page(request, viewer, result)
        link = f"{request.base_url}{result.subscribe_path.lstrip('/')}{result.token}"
        return plan_page(request, viewer, subscription=link)

    @router.post("/release/calendar/feeds/{feed_id}/revoke")
    async def revoke_feed(
        request: Request, feed_id: str, viewer: Annotated[Viewer, Depends(anyone)]
    ) -> Response:
        """Each calendar link stays valid until revoked: its owner revokes it here (it
        could be revoked only through the API, and each "Subscribe" made one more)."""
        form = await read_form(request)
        reason = form.text("reason") or "revoked from the release plan page"
        result = attempt(viewer, lambda: p.feeds.revoke(viewer.principal, feed_id, reason))
        if isinstance(result, Refusal):
            return plan_page(request, viewer, result)
        return see_other("/release?done=feed_revoked#calendar-links")

    @router.post("/release/trains")
    async def define_train(
        request: Request, viewer: Annotated[Viewer, Depends(manager)]
    ) -> Response:
        form = await read_form(request)

        def command() -> Any:
            start = form.date("start_date", "The first deployment date")
            if start is None:
                raise BadInput("give the date the train starts from")
            cadence = Cadence.monthly(
                form.text("weekday"), form.integer("week_of_month", "The week", -1, 4), start
            )
            draft = TrainDraft(
                name=form.text("name"),
                cadence=cadence,
                offsets=MilestoneOffsets.parse(DEFAULT_OFFSETS),
                capacity_points=form.integer("capacity_points", "Capacity", 1, 100_000),
            )
            return p.releases.define_train(draft, form.integer("generate", "Bundles", 0, 12))

        result = attempt(viewer, command)
        if isinstance(result, Refusal):
            return plan_page(request, viewer, result, train_form=form.kept())
        return see_other("/release")

    @router.post("/release/trains/{train_id}/generate")
    async def generate(
        request: Request, train_id: str, viewer: Annotated[Viewer, Depends(manager)]
    ) -> Response:
        form = await read_form(request)

        def command(f: Form = form) -> Any:
            count = f.integer("count", "How many bundles", 1, 12)
            return p.releases.generate_bundles(parse_uuid(train_id, "a train"), count)

        result = attempt(viewer, command)
        if isinstance(result, Refusal):
            return plan_page(request, viewer, result)
        asked = int(form.text("count"))  # a whole number from 1 to 12: it was not refused
        return see_other(f"/release?planned={len(result.bundle_ids)}&asked={asked}")

    return router


def _planned_notice(query: Mapping[str, str]) -> str | None:
    """What planning the next bundles did, said even when it did nothing."""
    planned, asked = query.get("planned", ""), query.get("asked", "")
    if not (planned.isdigit() and asked.isdigit()):
        return None
    if planned == "0":
        return (
            f"The train's next {asked} deployments have bundles already, or had ones since"
            " cancelled: nothing new was planned. Ask for more to plan further ahead."
        )
    return f"{planned} new bundle{'' if planned == '1' else 's'} planned."


def _past_ranking(p: ReleasePages, past: str) -> list[str]:
    """What applying the plan just did past a department's ranking, worked out again from
    what is recorded (the address names only the requests scheduled)."""
    ids = [i for i in past.split(",") if UUID_TEXT.fullmatch(i)][:500]
    titles = p.views.request_titles(ids)
    skipped = p.views.ahead_of_ranks(ids)
    return [
        went_ahead(titles.get(i, {}).get("reference") or i, skipped[i]) + "."
        for i in ids
        if skipped.get(i)
    ]
