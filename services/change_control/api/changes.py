"""Routes for production changes: raise, revise, approve, implement, review; the CAB
queue, the change calendar and each change with its full history."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response

from services.change_control.api.models import (
    Approval,
    Calendar,
    ChangeBody,
    ChangeDetail,
    ChangeList,
    CommentBody,
    Completion,
    Decision,
    NewChange,
    QueueItem,
    Review,
)
from services.change_control.application.changes import (
    KEEPABLE_TEXTS,
    ApprovalRef,
    ChangeControl,
    ChangeRef,
)
from services.change_control.domain import Status
from services.change_control.domain.values import ChangeType, Window
from services.change_control.views import ChangeControlViews, ChangeFilter
from services.change_control.views.board import cab_queue, calendar, change_detail
from shared.contracts import CHANGE_REFERENCES
from shared.domain import InvalidCommand, NotFound
from shared.http.auth import Auth, Caller
from shared.http.models import (
    Day,
    IfMatch,
    Instant,
    expected_version,
    refuse_reversed_days,
    tagged,
)
from shared.http.problems import IF_MATCH_RESPONSES
from shared.http.routing import CreatedAt, ServiceRouter
from shared.identity.domain import IT_ROLES, Role

ChangeId = Annotated[UUID, Path(description="The production change's id.")]


def changes_router(auth: Auth, changes: ChangeControl, views: ChangeControlViews) -> APIRouter:
    router = ServiceRouter(prefix="/api", tags=["change control"])
    anyone = auth.require()
    raiser = auth.require(Role.IT_STAFF, Role.RELEASE_MANAGER)
    board = auth.require(Role.CAB_MEMBER)
    implementer = auth.require(Role.IT_STAFF)
    talker = auth.require(*IT_ROLES)

    @router.post(
        "/changes",
        response_model=ChangeRef,
        status_code=201,
        summary="Raise a production change",
        responses=CreatedAt("/api/changes/{id}"),
    )
    def raise_change(body: NewChange, caller: Annotated[Caller, Depends(raiser)]) -> ChangeRef:
        with caller.acting():
            return changes.raise_change(
                caller.principal,
                body.change_type,
                body.to_draft(),
                str(body.bundle_id) if body.bundle_id else None,
                str(body.template_id) if body.template_id else None,
            )

    @router.get("/changes", response_model=ChangeList, summary="Find production changes")
    def find(
        caller: Annotated[Caller, Depends(anyone)],
        status: Annotated[list[Status] | None, Query()] = None,
        change_type: ChangeType | None = None,
        subsystem: Annotated[str | None, Query(max_length=100)] = None,
        bundle_id: UUID | None = None,
        person: Annotated[
            str | None, Query(max_length=64, description="Requester or implementer")
        ] = None,
        reference: Annotated[
            str | None, Query(pattern=r"^(?i:CHG)-?\d{1,9}$", description="e.g. CHG-7")
        ] = None,
        completed_from: Annotated[
            Day | None, Query(description="Completed on this business day or later")
        ] = None,
        completed_to: Annotated[
            Day | None, Query(description="Completed on this business day or earlier")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Any:
        refuse_reversed_days((completed_from, completed_to, "completed"))
        items, total = views.find(
            ChangeFilter(
                status=tuple(s.value for s in status or ()),
                change_type=change_type.value if change_type else None,
                subsystem=subsystem,
                bundle_id=str(bundle_id) if bundle_id else None,
                person=person,
                # CHG-0 names no record: 0 matches nothing
                number=(CHANGE_REFERENCES.number(reference) or 0) if reference else None,
                completed_from=completed_from,
                completed_to=completed_to,
            ),
            limit=limit,
            offset=offset,
        )
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @router.get(
        "/cab-queue",
        response_model=list[QueueItem],
        summary="Changes awaiting my approval, with risk, conflicts and gate status",
    )
    def queue(caller: Annotated[Caller, Depends(board)]) -> Any:
        return cab_queue(views, caller.username)

    @router.get(
        "/change-calendar",
        response_model=Calendar,
        summary="Changes and blackouts by window",
    )
    def change_calendar(
        caller: Annotated[Caller, Depends(anyone)],
        start: Instant | None = None,
        end: Instant | None = None,
        subsystem: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Any:
        return calendar(views, _range(start, end), subsystem)

    @router.get(
        "/changes/{change_id}",
        response_model=ChangeDetail,
        summary="A change with its gates, conflicts, deployments and full history",
    )
    def detail(
        change_id: ChangeId, response: Response, caller: Annotated[Caller, Depends(anyone)]
    ) -> Any:
        found = change_detail(views, str(change_id))
        if found is None:
            raise NotFound(
                "production_change_not_found", f"no production change with id {change_id}"
            )
        return tagged(response, found["version"], found)

    @router.put(
        "/changes/{change_id}",
        response_model=ChangeRef,
        summary="Revise a change (voids its approvals: back to review)",
        responses=IF_MATCH_RESPONSES,
    )
    def revise(
        change_id: ChangeId,
        body: ChangeBody,
        caller: Annotated[Caller, Depends(raiser)],
        response: Response,
        if_match: IfMatch = None,
    ) -> ChangeRef:
        given = body.model_fields_set
        kept = frozenset(KEEPABLE_TEXTS - given)
        if not {"window_start", "window_end"} & given:
            kept |= {"window"}
        with caller.acting():
            done = changes.revise(
                caller.principal, change_id, body.to_draft(), kept, expected_version(if_match)
            )
        return tagged(response, done.version, done)

    @router.post(
        "/changes/{change_id}/withdraw", response_model=ChangeRef, summary="Withdraw a change"
    )
    def withdraw(
        change_id: ChangeId, body: Decision, caller: Annotated[Caller, Depends(raiser)]
    ) -> ChangeRef:
        with caller.acting():
            return changes.withdraw(caller.principal, change_id, body.reason)

    @router.post(
        "/changes/{change_id}/approve",
        response_model=ApprovalRef,
        summary="Approve a change (CAB; never its requester or implementers)",
    )
    def approve(
        change_id: ChangeId,
        caller: Annotated[Caller, Depends(board)],
        body: Approval | None = None,
    ) -> ApprovalRef:
        with caller.acting():
            return changes.approve(
                caller.principal,
                change_id,
                body.revision if body else None,
                body.comment if body else "",
            )

    @router.post(
        "/changes/{change_id}/reject",
        response_model=ChangeRef,
        summary="Reject a change (CAB): any rejection blocks it",
    )
    def reject(
        change_id: ChangeId, body: Decision, caller: Annotated[Caller, Depends(board)]
    ) -> ChangeRef:
        with caller.acting():
            return changes.reject(caller.principal, change_id, body.reason)

    @router.post(
        "/changes/{change_id}/comments",
        response_model=ChangeRef,
        summary="Comment on a change (IT: IT staff, release managers, the CAB)",
    )
    def comment(
        change_id: ChangeId, body: CommentBody, caller: Annotated[Caller, Depends(talker)]
    ) -> ChangeRef:
        with caller.acting():
            return changes.comment(change_id, body.text)

    @router.post(
        "/changes/{change_id}/start",
        response_model=ChangeRef,
        summary="Start implementing an approved change (an implementer, in its window)",
    )
    def start(change_id: ChangeId, caller: Annotated[Caller, Depends(implementer)]) -> ChangeRef:
        with caller.acting():
            return changes.start(caller.principal, change_id)

    @router.post(
        "/changes/{change_id}/complete",
        response_model=ChangeRef,
        summary="Complete: succeeded, failed or rolled back",
    )
    def complete(
        change_id: ChangeId, body: Completion, caller: Annotated[Caller, Depends(implementer)]
    ) -> ChangeRef:
        with caller.acting():
            return changes.complete(caller.principal, change_id, body.outcome, body.notes)

    @router.post(
        "/changes/{change_id}/review",
        response_model=ChangeRef,
        summary="Record the post-implementation review (CAB)",
    )
    def review(
        change_id: ChangeId, body: Review, caller: Annotated[Caller, Depends(board)]
    ) -> ChangeRef:
        with caller.acting():
            return changes.review(caller.principal, change_id, body.findings, body.actions)

    return router


def _range(start: datetime | None, end: datetime | None) -> Window | None:
    if start is None and end is None:
        return None
    if start is None or end is None or end <= start:
        raise InvalidCommand("invalid_range", "give both start and end, end after start")
    return Window(start, end)
