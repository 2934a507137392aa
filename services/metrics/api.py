"""The metrics HTTP contract: read-only routes over the query layer.

Metrics readers, release managers and admins see every figure. A requester sees the
request-flow figures of their own department only (the filter is set for them; naming
another department is a 403).
"""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from services.metrics.application import MetricsQueries, Question
from services.metrics.domain.records import Filter
from services.metrics.report import render_weekly
from shared.domain import NotPermitted
from shared.http.auth import Auth, Caller
from shared.http.models import Day
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role

# IT (staff, CAB) and the release manager run the process and see the whole organisation's
# figures; a requester sees their own department's flow (see `scoped`).
READERS = (
    Role.METRICS_READER,
    Role.RELEASE_MANAGER,
    Role.ADMIN,
    Role.IT_STAFF,
    Role.CAB_MEMBER,
)

Unit = Literal["day", "week", "month", "quarter"]
Category = Literal["business_project", "it_project", "change_maintenance", "unplanned"]
ClassOfService = Literal["standard", "expedite", "fixed_date"]
Document = dict[str, Any]

PERIOD = (
    "2026, 2026-Q4, 2026-11, 2026-W47, 2026-11-21, or a range A..B such as"
    " 2025-12..2026-11. Default: the 12 months ending with the as-of month."
)
MEDIA = {"markdown": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}


def scoped(caller: Caller, flt: Filter) -> Filter:
    """A requester without a reader role sees their own department's figures only."""
    principal = caller.principal
    if principal.has(*READERS):
        return flt
    own = principal.department or ""
    if flt.department and flt.department.casefold() != own.casefold():
        raise NotPermitted("own_department_only", f"a requester sees the figures of {own} only")
    return Filter(own, flt.category, flt.subsystem, flt.class_of_service)


def metrics_router(auth: Auth, queries: MetricsQueries) -> APIRouter:
    router = ServiceRouter(prefix="/api/metrics", tags=["metrics"])
    reader = auth.require(*READERS)
    flow_reader = auth.require(*READERS, Role.REQUESTER)

    def ask(
        caller: Caller,
        period: str | None,
        as_of: date | None,
        unit: str,
        flt: Filter,
    ) -> Question:
        return queries.question(period, as_of, unit, scoped(caller, flt))

    def flow_question(
        caller: Annotated[Caller, Depends(flow_reader)],
        period: Annotated[str | None, Query(max_length=40, description=PERIOD)] = None,
        as_of: Annotated[
            Day | None, Query(description="Day open work is seen from; default today.")
        ] = None,
        unit: Unit = "week",
        department: Annotated[str | None, Query(max_length=100)] = None,
        category: Category | None = None,
        subsystem: Annotated[str | None, Query(max_length=100)] = None,
        class_of_service: ClassOfService | None = None,
    ) -> Question:
        return ask(
            caller, period, as_of, unit,
            Filter(department, category, subsystem, class_of_service),
        )  # fmt: skip

    def full_question(
        caller: Annotated[Caller, Depends(reader)],
        period: Annotated[str | None, Query(max_length=40, description=PERIOD)] = None,
        as_of: Annotated[
            Day | None, Query(description="Day open work is seen from; default today.")
        ] = None,
        unit: Unit = "week",
        department: Annotated[str | None, Query(max_length=100)] = None,
        category: Category | None = None,
        subsystem: Annotated[str | None, Query(max_length=100)] = None,
        class_of_service: ClassOfService | None = None,
    ) -> Question:
        return ask(
            caller, period, as_of, unit,
            Filter(department, category, subsystem, class_of_service),
        )  # fmt: skip

    def request_filter(
        caller: Annotated[Caller, Depends(reader)],
        department: Annotated[str | None, Query(max_length=100)] = None,
        category: Category | None = None,
        subsystem: Annotated[str | None, Query(max_length=100)] = None,
        class_of_service: ClassOfService | None = None,
    ) -> Filter:
        return scoped(caller, Filter(department, category, subsystem, class_of_service))

    Requests = Annotated[Filter, Depends(request_filter)]
    FlowQ = Annotated[Question, Depends(flow_question)]
    FullQ = Annotated[Question, Depends(full_question)]

    @router.get("", response_model=Document, summary="Every metric for a period and filter")
    def every_metric(q: FullQ, seed: Annotated[int, Query(ge=0, le=2**31)] = 0) -> Document:
        return queries.every_metric(q, seed)

    @router.get("/throughput", response_model=Document, summary="Requests delivered per period")
    def throughput(q: FlowQ) -> Document:
        return queries.throughput(q)

    @router.get(
        "/flow-times",
        response_model=Document,
        summary="Lead time and cycle time (calendar days) with 50/70/85/95th percentiles",
    )
    def flow_times(q: FlowQ) -> Document:
        return queries.flow_times(q)

    @router.get(
        "/work-in-progress",
        response_model=Document,
        summary="Open requests by stage, with the age of each",
    )
    def work_in_progress(q: FlowQ) -> Document:
        return queries.work_in_progress(q)

    @router.get(
        "/time-in-state",
        response_model=Document,
        summary="Days spent in each stage: where work waits",
    )
    def time_in_state(q: FlowQ) -> Document:
        return queries.time_in_state(q)

    @router.get(
        "/cumulative-flow", response_model=Document, summary="Daily counts of requests by stage"
    )
    def cumulative_flow(q: FlowQ) -> Document:
        return queries.cumulative_flow(q)

    @router.get(
        "/satisfaction", response_model=Document, summary="Average and distribution of ratings"
    )
    def satisfaction(q: FlowQ) -> Document:
        return queries.satisfaction(q)

    @router.get(
        "/comparison",
        response_model=Document,
        summary="The period against the one before: throughput, median cycle time, satisfaction",
    )
    def comparison(q: FlowQ) -> Document:
        return queries.comparison(q)

    @router.get(
        "/releases",
        response_model=Document,
        summary="Bundles deployed, on-time rate and scope churn after freeze",
    )
    def releases(q: FullQ) -> Document:
        return queries.releases(q)

    @router.get(
        "/dora",
        response_model=Document,
        summary="DORA keys, unauthorised changes and CAB approval lead time",
    )
    def dora(q: FullQ) -> Document:
        return queries.dora(q)

    @router.get(
        "/forecasts",
        response_model=Document,
        summary="Monte Carlo delivery dates (50/85/95%) of every accepted request",
    )
    def forecasts(
        flt: Requests,
        as_of: Day | None = None,
        seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
    ) -> Document:
        return queries.forecasts(as_of or queries.today(), seed, flt)

    @router.get(
        "/forecasts/backlog",
        response_model=Document,
        summary="How many requests will be delivered by a date (50/85/95%)",
    )
    def how_many_by(
        flt: Requests,
        by: Day,
        as_of: Day | None = None,
        seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
    ) -> Document:
        return queries.how_many_by(as_of or queries.today(), by, seed, flt)

    @router.get(
        "/forecasts/accuracy",
        response_model=Document,
        summary="How often the forecasts made over a period came true (50/85/95%)",
    )
    def forecast_accuracy(
        flt: Requests,
        period: Annotated[str | None, Query(max_length=40, description=PERIOD)] = None,
        unit: Annotated[
            Literal["week", "month", "quarter"],
            Query(description="Forecasts made on the period's first day and each of these."),
        ] = "month",
        as_of: Annotated[
            Day | None, Query(description="Judged by what had happened by then; default today.")
        ] = None,
        seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
    ) -> Document:
        return queries.forecast_accuracy(queries.question(period, as_of, unit, flt), seed)

    @router.get(
        "/forecasts/{request_id}",
        response_model=Document,
        summary="The delivery forecast of one accepted request, by its id or reference",
    )
    def forecast(
        request_id: Annotated[
            str, Path(min_length=1, max_length=64, description="Its id, or REQ-12")
        ],
        caller: Annotated[Caller, Depends(reader)],
        as_of: Day | None = None,
        seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
    ) -> Document:
        return queries.forecast(request_id, as_of or queries.today(), seed)

    @router.get(
        "/reports/weekly/{week}",
        summary="The weekly status report as Markdown or HTML",
        response_class=Response,
        responses={
            200: {
                "description": "The report",
                "content": {"text/markdown": {"schema": {"type": "string"}},
                            "text/html": {"schema": {"type": "string"}}},
            }
        },
    )  # fmt: skip
    def weekly(
        week: Annotated[str, Path(pattern=r"^\d{4}-[Ww]\d{1,2}$", description="e.g. 2026-W47")],
        caller: Annotated[Caller, Depends(reader)],
        format: Literal["markdown", "html"] = "markdown",
        seed: Annotated[int, Query(ge=0, le=2**31)] = 0,
    ) -> Response:
        report = queries.weekly(week, seed)
        return Response(render_weekly(report, format, queries.zone), media_type=MEDIA[format])

    return router
