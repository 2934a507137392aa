"""What the release manager publishes: the plan the business reads, the suggested plan,
release notes and the release calendar (with its subscribable feed)."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from services.release.application import AppliedPlan, Releases
from services.release.domain import now
from services.release.ical import release_calendar
from services.release.notes import notes_context, render_html, render_markdown
from services.release.planning import suggest
from services.release.queries import ReleaseViews
from services.release.schemas import ApplyIn, FeedIn, RevokeFeedIn
from services.release.subscriptions import CalendarFeeds, FeedRef, IssuedFeed
from shared.domain import NotFound
from shared.http.auth import Auth, Caller
from shared.http.problems import NotAuthenticated
from shared.http.routing import ServiceRouter
from shared.http.threads import in_thread
from shared.identity.domain import Role
from shared.identity.views import Directory

BundlePath = Annotated[UUID, Path(description="A release bundle's id")]
CALENDAR_PAST_DAYS = 180


class MarkdownResponse(PlainTextResponse):
    media_type = "text/markdown"


class CalendarResponse(Response):
    media_type = "text/calendar"


class PlanEntry(BaseModel):
    request_id: str
    number: int | None = Field(description="Its number as intake gives it (REQ-12: 12)")
    reference: str = Field(description="The number as people write it: REQ-12")
    title: str
    department: str
    sponsor: str
    owner: str | None
    category: str
    class_of_service: str | None
    fixed_date: str | None
    size_points: int | None
    department_rank: int = Field(description="Position in its department's ranking (1 = first)")
    scheduled: bool
    bundle_id: str | None
    bundle_name: str | None
    bundle_status: str | None
    stage: str | None
    target_date: str | None = Field(description="The bundle's deployment date")
    plan: str = Field(description="'deploys on <date>' or 'not yet scheduled'")


class ProposalOut(BaseModel):
    request_id: str
    title: str
    department: str
    class_of_service: str
    size_points: int
    bundle_id: str
    bundle_name: str
    deploy_date: str
    why: str


class UnplacedOut(BaseModel):
    request_id: str
    title: str
    department: str
    class_of_service: str
    size_points: int
    why: str


class OpenBundleOut(BaseModel):
    bundle_id: str
    name: str
    deploy_date: str
    capacity_points: int
    load_before: int
    load_after: int


class SuggestionOut(BaseModel):
    bundles: list[OpenBundleOut]
    proposals: list[ProposalOut]
    unplaced: list[UnplacedOut]


class FeedRow(BaseModel):
    feed_id: str
    owner: str
    label: str
    issued_at: str
    revoked_at: str | None


def publishing_router(
    auth: Auth, releases: Releases, feeds: CalendarFeeds, views: ReleaseViews, directory: Directory
) -> APIRouter:
    router = ServiceRouter(prefix="/api", tags=["release plan and calendar"])
    anyone = auth.require()
    manager = auth.require(Role.RELEASE_MANAGER)

    # -- the plan -------------------------------------------------------------------

    @router.get(
        "/plan",
        response_model=list[PlanEntry],
        summary="Every accepted request: its bundle and target date, or its ranking",
    )
    def plan(
        caller: Annotated[Caller, Depends(anyone)],
        department: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Any:
        return views.plan(department)

    @router.get(
        "/plan/suggestion",
        response_model=SuggestionOut,
        summary="A suggested plan: the accepted backlog placed into upcoming bundles",
    )
    def suggestion(
        caller: Annotated[Caller, Depends(anyone)],
        train_id: UUID | None = None,
        bundles: Annotated[int | None, Query(ge=1, le=24, description="How many bundles")] = None,
    ) -> Any:
        if train_id is not None and views.train(str(train_id)) is None:
            # An empty plan would read as "that train has no room", not "no such train".
            raise NotFound("release_train_not_found", f"no release train with id {train_id}")
        backlog = views.backlog()
        open_bundles = views.open_bundles(str(train_id) if train_id else None, bundles)
        before = {b.bundle_id: b.load for b in open_bundles}
        answer = suggest(backlog, open_bundles)
        requests = views.request_titles([c.request_id for c in backlog])
        candidates = {c.request_id: c for c in backlog}

        def described(request_id: str) -> dict[str, Any]:
            c = candidates[request_id]
            return {
                "request_id": request_id,
                "title": requests[request_id]["title"],
                "department": c.department,
                "class_of_service": c.class_of_service,
                "size_points": c.size_points,
            }

        return {
            "bundles": [
                {
                    "bundle_id": b.bundle_id,
                    "name": b.name,
                    "deploy_date": b.deploy_date.isoformat(),
                    "capacity_points": b.capacity_points,
                    "load_before": before[b.bundle_id],
                    "load_after": b.load,
                }
                for b in open_bundles
            ],
            "proposals": [
                {
                    **described(p.request_id),
                    "bundle_id": p.bundle_id,
                    "bundle_name": p.bundle_name,
                    "deploy_date": p.deploy_date,
                    "why": p.why,
                }
                for p in answer.proposals
            ],
            "unplaced": [{**described(u.request_id), "why": u.why} for u in answer.unplaced],
        }

    @router.post(
        "/plan/apply",
        response_model=AppliedPlan,
        summary="Schedule chosen proposals of the suggested plan (all or nothing)",
    )
    def apply(body: ApplyIn, caller: Annotated[Caller, Depends(manager)]) -> AppliedPlan:
        items = [
            (_uuid(i.request_id, "change_request"), _uuid(i.bundle_id, "release_bundle"))
            for i in body.items
        ]
        with caller.acting():
            return releases.apply_plan(items)

    # -- release notes --------------------------------------------------------------

    def context(bundle_id: UUID) -> dict[str, Any]:
        bundle = views.bundle(str(bundle_id))
        if bundle is None:
            raise NotFound("release_bundle_not_found", f"no release bundle with id {bundle_id}")
        people = {u.username: u.display_name for u in directory.users()}
        return notes_context(bundle, people)

    @router.get(
        "/bundles/{bundle_id}/notes.md",
        response_class=MarkdownResponse,
        summary="Release notes as Markdown",
        responses={200: {"content": {"text/markdown": {}}, "description": "Markdown"}},
    )
    def notes_markdown(bundle_id: BundlePath, caller: Annotated[Caller, Depends(anyone)]) -> Any:
        return MarkdownResponse(render_markdown(context(bundle_id)))

    @router.get(
        "/bundles/{bundle_id}/notes.html",
        response_class=HTMLResponse,
        summary="Release notes as HTML",
        responses={200: {"content": {"text/html": {}}, "description": "HTML"}},
    )
    def notes_html(bundle_id: BundlePath, caller: Annotated[Caller, Depends(anyone)]) -> Any:
        return HTMLResponse(render_html(context(bundle_id)))

    # -- the calendar ---------------------------------------------------------------

    def calendar(train_id: UUID | None) -> CalendarResponse:
        since = (now() - timedelta(days=CALENDAR_PAST_DAYS)).date()
        bundles = views.bundles(train_id=str(train_id) if train_id else None, from_date=since)
        body = release_calendar(bundles, "Railyard releases")
        return CalendarResponse(
            body,
            headers={
                "Content-Disposition": 'inline; filename="railyard-releases.ics"',
                "Cache-Control": "private, max-age=300",
            },
        )

    ics: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/calendar": {}}, "description": "iCalendar (RFC 5545)"}
    }

    @router.get(
        "/calendar.ics",
        response_class=CalendarResponse,
        summary="The release calendar (bearer token)",
        responses=ics,
    )
    def calendar_with_token(
        caller: Annotated[Caller, Depends(anyone)], train_id: UUID | None = None
    ) -> Any:
        return calendar(train_id)

    @router.get(
        "/calendar/feed.ics",
        response_class=CalendarResponse,
        summary="The release calendar for calendar clients: authenticated by a feed secret",
        responses=ics,
    )
    async def calendar_feed(
        request: Request,
        token: Annotated[
            str | None, Query(max_length=200, description="The secret of a calendar feed")
        ] = None,
        train_id: UUID | None = None,
    ) -> Any:
        if not token:
            raise NotAuthenticated("the calendar feed secret is missing (?token=rycal_...)")
        # A secret in the address is a sign-in too: rate limited per address like a token.
        await auth.sign_in_with_secret(
            request,
            token,
            feeds.authenticate,
            "the calendar feed secret is unknown, revoked or missing",
        )
        return await in_thread(calendar, train_id)

    @router.post(
        "/calendar/feeds",
        response_model=IssuedFeed,
        status_code=201,
        summary="Create my calendar feed secret (shown once)",
    )
    def issue_feed(body: FeedIn, caller: Annotated[Caller, Depends(anyone)]) -> IssuedFeed:
        with caller.acting():
            return feeds.issue(caller.username, body.label)

    @router.get(
        "/calendar/feeds",
        response_model=list[FeedRow],
        summary="My calendar feeds (never their secrets)",
    )
    def my_feeds(caller: Annotated[Caller, Depends(anyone)]) -> Any:
        return views.feeds(caller.username)

    @router.post(
        "/calendar/feeds/{feed_id}/revoke",
        response_model=FeedRef,
        summary="Revoke a calendar feed secret",
    )
    def revoke_feed(
        feed_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
        body: RevokeFeedIn,
        caller: Annotated[Caller, Depends(anyone)],
    ) -> FeedRef:
        with caller.acting():
            return feeds.revoke(caller.principal, feed_id, body.reason)

    return router


def _uuid(value: str, kind: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"{kind}_not_found", f"no {kind.replace('_', ' ')} {value!r}") from None
