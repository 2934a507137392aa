"""The intake HTTP contract: thin routes over the use cases and the views."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AliasChoices, BaseModel, Field

from services.intake.application import (
    COMMENTERS,
    Intake,
    RequestDraft,
    RequestRef,
    Submitted,
)
from services.intake.domain import (
    MAX_COMMENT,
    MAX_TITLE,
    Category,
    ClassOfService,
    SizeEstimate,
    Status,
)
from services.intake.filters import RequestFilter
from services.intake.views import IntakeViews, Ranking
from shared.contracts import REQUEST_REFERENCES
from shared.domain import NotFound
from shared.http.auth import Auth, Caller
from shared.http.models import (
    Day,
    IfMatch,
    RequestBody,
    expected_version,
    refuse_reversed_days,
    tagged,
)
from shared.http.problems import IF_MATCH_RESPONSES
from shared.http.routing import CreatedAt, ServiceRouter
from shared.identity.domain import Role

Text = Annotated[str, Field(min_length=1, max_length=10_000)]
Reason = Annotated[str, Field(min_length=1, max_length=2_000)]


class Strict(RequestBody):
    """Unknown fields are refused (422): no mass assignment of status or owner."""


class Draft(Strict):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    description: Text
    justification: str = Field(min_length=1, max_length=5_000)
    sponsor: str = Field(min_length=1, max_length=200)
    category: Category
    subsystems: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=20
    )
    size_estimate: SizeEstimate
    desired_date: Day | None = None

    def to_draft(self) -> RequestDraft:
        return RequestDraft(
            self.title,
            self.description,
            self.justification,
            self.sponsor,
            self.category,
            self.subsystems,
            self.size_estimate,
            self.desired_date,
        )


class Submission(Draft):
    department: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Only IT staff and release managers name it;"
        " a requester submits for their own.",
    )


class Acceptance(Strict):
    owner: str = Field(
        min_length=2, max_length=64, description="IT staff username: the single point of contact."
    )
    size_points: int = Field(ge=1, le=1000)
    class_of_service: ClassOfService = ClassOfService.STANDARD
    fixed_date: Day | None = None


class Decision(Strict):
    reason: Reason


class Deferral(Strict):
    reason: Reason
    until: Day | None = None


class Question(Strict):
    question: str = Field(min_length=1, max_length=5_000)


class Answer(Strict):
    answer: str = Field(min_length=1, max_length=5_000)


class CommentBody(Strict):
    text: str = Field(min_length=1, max_length=MAX_COMMENT)


class DuplicateMark(Strict):
    duplicate_of: str = Field(
        min_length=1, max_length=64, description="The original: its id, or REQ-12."
    )
    note: str = Field(default="", max_length=2_000)


class OwnerChange(Strict):
    owner: str = Field(min_length=2, max_length=64)


class Replan(Strict):
    size_points: int = Field(ge=1, le=1000)
    class_of_service: ClassOfService
    fixed_date: Day | None = None


class Rating(Strict):
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2_000)


RequestReference = Annotated[
    str, Field(min_length=1, max_length=64, description="A request's id, or REQ-12.")
]


class RankingOrder(Strict):
    order: list[RequestReference] = Field(
        max_length=1_000,
        validation_alias=AliasChoices("order", "request_ids"),
        description="The requests to put first, in order (`request_ids`, as the ranking is"
        " read, is taken too); the others keep their place after them.",
    )


class RequestSummary(BaseModel):
    id: str
    number: int | None = Field(
        description="The order in which the log received the request: the 12th is REQ-12."
    )
    reference: str = Field(description="How people name it: REQ-12.")
    title: str
    department: str
    sponsor: str
    category: str
    subsystems: list[str]
    size_estimate: str
    desired_date: str | None
    requester: str
    status: str
    owner: str | None
    size_points: int | None
    class_of_service: str | None
    fixed_date: str | None
    submitted_at: str
    accepted_at: str | None
    delivered_at: str | None
    age_days: int
    version: int
    deferred_until: str | None = Field(
        default=None,
        description="A deferred request: the date it was deferred until (in the triage"
        " queue once that date has come).",
    )


class RequestDetail(RequestSummary):
    description: str
    justification: str
    duplicate_of: str | None
    question: str | None
    decision_reason: str | None
    rating: int | None
    rating_comment: str | None
    triaged_at: str | None
    closed_at: str | None
    updated_at: str
    history: list[dict[str, Any]]


class TriageItem(RequestSummary):
    question: str | None = Field(
        default=None, description="Triage's latest question to the requester, if any."
    )
    answer: str | None = Field(
        default=None, description="The requester's answer to it, once given."
    )


class RequestList(BaseModel):
    items: list[RequestSummary]
    total: int
    limit: int
    offset: int


class Similar(BaseModel):
    id: str
    title: str
    department: str
    status: str
    similarity: float


def intake_router(auth: Auth, intake: Intake, views: IntakeViews) -> APIRouter:
    router = ServiceRouter(prefix="/api", tags=["intake"])
    anyone = auth.require()
    submitter = auth.require(Role.REQUESTER, Role.RELEASE_MANAGER, Role.IT_STAFF)
    requester = auth.require(Role.REQUESTER)
    manager = auth.require(Role.RELEASE_MANAGER)
    withdrawer = auth.require(Role.REQUESTER, Role.RELEASE_MANAGER)
    commenter = auth.require(*COMMENTERS)

    @router.get("/subsystems", response_model=list[str], summary="The subsystem catalogue")
    def subsystems(caller: Annotated[Caller, Depends(anyone)]) -> list[str]:
        return list(intake.catalogue)

    @router.post(
        "/requests",
        response_model=Submitted,
        status_code=201,
        summary="Submit a change request",
        responses=CreatedAt("/api/requests/{id}"),
    )
    def submit(body: Submission, caller: Annotated[Caller, Depends(submitter)]) -> Submitted:
        with caller.acting():
            return intake.submit(caller.principal, body.to_draft(), body.department)

    @router.get("/requests", response_model=RequestList, summary="Find requests")
    def find(
        caller: Annotated[Caller, Depends(anyone)],
        status: Annotated[list[Status] | None, Query()] = None,
        department: Annotated[str | None, Query(max_length=100)] = None,
        category: Category | None = None,
        subsystem: Annotated[str | None, Query(max_length=100)] = None,
        owner: Annotated[str | None, Query(max_length=64)] = None,
        requester: Annotated[str | None, Query(max_length=64)] = None,
        q: Annotated[
            str | None, Query(max_length=200, description="Text in title or description")
        ] = None,
        reference: Annotated[
            str | None, Query(pattern=r"^(?i:REQ)-?\d{1,9}$", description="e.g. REQ-12")
        ] = None,
        delivered_from: Annotated[
            Day | None, Query(description="Delivered on this business day or later")
        ] = None,
        delivered_to: Annotated[
            Day | None, Query(description="Delivered on this business day or earlier")
        ] = None,
        rated_from: Annotated[
            Day | None, Query(description="Its latest rating given on this business day or later")
        ] = None,
        rated_to: Annotated[
            Day | None, Query(description="Its latest rating given on this day or earlier")
        ] = None,
        rating: Annotated[int | None, Query(ge=1, le=5, description="Its latest rating")] = None,
        unrated: Annotated[
            bool, Query(description="Not rated yet (with status delivered: still to rate)")
        ] = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Any:
        refuse_reversed_days(
            (delivered_from, delivered_to, "delivered"), (rated_from, rated_to, "rated")
        )
        page = views.find(
            RequestFilter(
                status=tuple(s.value for s in status or ()),
                department=department,
                category=category.value if category else None,
                subsystem=subsystem,
                owner=owner,
                requester=requester,
                text=q,
                # REQ-0 names no record: 0 matches nothing
                number=(REQUEST_REFERENCES.number(reference) or 0) if reference else None,
                delivered_from=delivered_from,
                delivered_to=delivered_to,
                rated_from=rated_from,
                rated_to=rated_to,
                rating=rating,
                unrated=unrated,
            ),
            limit=limit,
            offset=offset,
        )
        return page

    @router.get(
        "/requests/similar",
        response_model=list[Similar],
        summary="Open requests with a similar title (duplicate suggestions)",
    )
    def similar(
        caller: Annotated[Caller, Depends(anyone)],
        title: Annotated[str, Query(min_length=1, max_length=200)],
        exclude: UUID | None = None,
    ) -> Any:
        return views.similar(title, str(exclude) if exclude else None)

    @router.get(
        "/requests/counts",
        response_model=dict[str, int],
        summary="How many requests are in each state",
    )
    def counts(
        caller: Annotated[Caller, Depends(anyone)],
        department: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Any:
        return views.counts(department)

    @router.get(
        "/triage-queue",
        response_model=list[TriageItem],
        summary="Requests waiting for a triage decision, oldest first"
        " (deferred ones once their date has come)",
    )
    def triage_queue(caller: Annotated[Caller, Depends(anyone)]) -> Any:
        return views.triage_queue()

    # `:uuid` on both methods of this path: /api/requests/counts and /similar are other
    # resources (PUT there is a 405), and an address that names no request is a 404.
    @router.get(
        "/requests/{request_id:uuid}",
        response_model=RequestDetail,
        summary="A request with its full history",
    )
    def detail(
        request_id: UUID, response: Response, caller: Annotated[Caller, Depends(anyone)]
    ) -> Any:
        row = views.get(str(request_id))
        if row is None:
            raise NotFound("change_request_not_found", f"no change request with id {request_id}")
        return tagged(response, row["version"], {**row, "history": views.history(str(request_id))})

    @router.put(
        "/requests/{request_id:uuid}",
        response_model=RequestRef,
        summary="Edit a request (until it is triaged)",
        responses=IF_MATCH_RESPONSES,
    )
    def edit(
        request_id: UUID,
        body: Draft,
        caller: Annotated[Caller, Depends(requester)],
        response: Response,
        if_match: IfMatch = None,
    ) -> RequestRef:
        with caller.acting():
            done = intake.edit(
                caller.principal, request_id, body.to_draft(), expected_version(if_match)
            )
        return tagged(response, done.version, done)

    @router.post(
        "/requests/{request_id}/withdraw",
        response_model=RequestRef,
        summary="Withdraw a request (any time before delivery)",
    )
    def withdraw(
        request_id: UUID, body: Decision, caller: Annotated[Caller, Depends(withdrawer)]
    ) -> RequestRef:
        with caller.acting():
            return intake.withdraw(caller.principal, request_id, body.reason)

    @router.post(
        "/requests/{request_id}/information",
        response_model=RequestRef,
        summary="Answer the release manager's question",
    )
    def provide_information(
        request_id: UUID, body: Answer, caller: Annotated[Caller, Depends(requester)]
    ) -> RequestRef:
        with caller.acting():
            return intake.provide_information(caller.principal, request_id, body.answer)

    @router.post(
        "/requests/{request_id}/comments",
        response_model=RequestRef,
        summary="Comment on a request (its department's requesters, and IT)",
    )
    def comment(
        request_id: UUID, body: CommentBody, caller: Annotated[Caller, Depends(commenter)]
    ) -> RequestRef:
        with caller.acting():
            return intake.comment(caller.principal, request_id, body.text)

    rating_route(router, auth, intake)

    @router.post(
        "/requests/{request_id}/accept",
        response_model=RequestRef,
        summary="Triage: accept, naming the IT owner",
    )
    def accept(
        request_id: UUID, body: Acceptance, caller: Annotated[Caller, Depends(manager)]
    ) -> RequestRef:
        with caller.acting():
            return intake.accept(
                request_id, body.owner, body.size_points, body.class_of_service, body.fixed_date
            )

    @router.post(
        "/requests/{request_id}/reject",
        response_model=RequestRef,
        summary="Triage: reject with a reason",
    )
    def reject(
        request_id: UUID, body: Decision, caller: Annotated[Caller, Depends(manager)]
    ) -> RequestRef:
        with caller.acting():
            return intake.reject(request_id, body.reason)

    @router.post("/requests/{request_id}/defer", response_model=RequestRef, summary="Triage: defer")
    def defer(
        request_id: UUID, body: Deferral, caller: Annotated[Caller, Depends(manager)]
    ) -> RequestRef:
        with caller.acting():
            return intake.defer(request_id, body.reason, body.until)

    @router.post(
        "/requests/{request_id}/ask",
        response_model=RequestRef,
        summary="Triage: ask the requester for more information",
    )
    def ask(
        request_id: UUID, body: Question, caller: Annotated[Caller, Depends(manager)]
    ) -> RequestRef:
        with caller.acting():
            return intake.request_information(request_id, body.question)

    @router.post(
        "/requests/{request_id}/duplicate",
        response_model=RequestRef,
        summary="Triage: mark as a duplicate of another request",
    )
    def duplicate(
        request_id: UUID, body: DuplicateMark, caller: Annotated[Caller, Depends(manager)]
    ) -> RequestRef:
        with caller.acting():
            original = intake.request_named(body.duplicate_of)
            return intake.mark_duplicate(request_id, original, body.note)

    @router.post(
        "/requests/{request_id}/owner",
        response_model=RequestRef,
        summary="Change the IT owner of accepted work",
    )
    def owner(
        request_id: UUID, body: OwnerChange, caller: Annotated[Caller, Depends(manager)]
    ) -> RequestRef:
        with caller.acting():
            return intake.assign_owner(request_id, body.owner)

    @router.post(
        "/requests/{request_id}/replan",
        response_model=RequestRef,
        summary="Re-size or re-classify accepted work",
    )
    def replan(
        request_id: UUID, body: Replan, caller: Annotated[Caller, Depends(manager)]
    ) -> RequestRef:
        with caller.acting():
            return intake.replan(
                request_id, body.size_points, body.class_of_service, body.fixed_date
            )

    @router.get(
        "/departments", response_model=list[str], summary="Departments that have submitted requests"
    )
    def departments(caller: Annotated[Caller, Depends(anyone)]) -> list[str]:
        return views.departments()

    @router.get(
        "/departments/{department}/ranking",
        response_model=Ranking,
        summary="A department's order of its accepted work",
    )
    def ranking(
        department: Annotated[str, Path(min_length=1, max_length=100)],
        caller: Annotated[Caller, Depends(anyone)],
    ) -> Ranking:
        return views.ranking(department)

    @router.put(
        "/departments/{department}/ranking",
        response_model=Ranking,
        summary="Re-rank my department's accepted requests: the ones named first",
    )
    def rank(
        department: Annotated[str, Path(min_length=1, max_length=100)],
        body: RankingOrder,
        caller: Annotated[Caller, Depends(requester)],
    ) -> Ranking:
        with caller.acting():
            intake.rank(caller.principal, department, body.order)
        return views.ranking(department)  # the ranking as stored, as GET shows it

    return router


def rating_route(router: APIRouter, auth: Auth, intake: Intake) -> None:
    """The department's rating, with If-Match: a rating given since the request was read
    is not silently replaced (412), as an edit is not."""
    requester = auth.require(Role.REQUESTER)

    @router.post(
        "/requests/{request_id}/rating",
        response_model=RequestRef,
        summary="Rate a delivered request 1-5",
        responses=IF_MATCH_RESPONSES,
    )
    def rate(
        request_id: UUID,
        body: Rating,
        caller: Annotated[Caller, Depends(requester)],
        response: Response,
        if_match: IfMatch = None,
    ) -> RequestRef:
        with caller.acting():  # without If-Match: the latest version, as before
            rated = intake.rate(
                caller.principal,
                request_id,
                body.score,
                body.comment,
                expected_version=expected_version(if_match),
            )
        return tagged(response, rated.version, rated)
