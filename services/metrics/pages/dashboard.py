"""The metrics dashboard and the weekly status report, for every role.

Everyone sees the pictures. A requester who reads no other figures sees the request flow
of their own department only, as the metrics API scopes them; delivery figures (DORA,
releases, CAB) are for the other roles."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from services.metrics.application import MetricsQueries
from services.metrics.domain.calendar import bucket_key
from services.metrics.domain.records import Filter
from services.metrics.pages import figures
from services.metrics.report import FIGURES
from shared.domain import DomainError
from shared.http.routing import ServiceRouter
from shared.identity.domain import Principal, Role
from shared.web.access import PageAccess, Viewer
from shared.web.rendering import Templates

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
WHOLE_ORGANISATION = (
    Role.METRICS_READER,
    Role.RELEASE_MANAGER,
    Role.ADMIN,
    Role.IT_STAFF,
    Role.CAB_MEMBER,
)
Unit = Literal["week", "month", "quarter"]


@dataclass
class MetricsPages:
    queries: MetricsQueries
    access: PageAccess
    templates: Templates


def department_scope(principal: Principal, asked: str | None) -> tuple[str | None, bool]:
    """(the department to filter by, whether this viewer sees the whole organisation)."""
    if principal.has(*WHOLE_ORGANISATION):
        return (asked or None), True
    return principal.department, False


def metrics_pages(p: MetricsPages) -> APIRouter:
    router = ServiceRouter(include_in_schema=False)
    anyone = p.access.require()
    requester = p.access.require(Role.REQUESTER)
    # The weekly report lists the whole organisation's work, as its API route does.
    organisation = p.access.require(*WHOLE_ORGANISATION)

    @router.get("/dashboard")
    def dashboard(
        request: Request,
        viewer: Annotated[Viewer, Depends(anyone)],
        period: Annotated[str, Query(max_length=40)] = "",
        unit: Unit = "month",
        department: Annotated[str, Query(max_length=100)] = "",
    ) -> Response:
        scope, everything = department_scope(viewer.principal, department)
        error = None
        try:
            q = p.queries.question(period or None, None, unit, Filter(scope))
        except DomainError as exc:
            error = exc.detail
            q = p.queries.question(None, None, unit, Filter(scope))
        if q.span.end < q.as_of:  # a period that is over: open work as it stood at its end
            q = replace(q, as_of=q.span.end)
        doc = p.queries.every_metric(q)
        history = p.queries.views.history(q.span.start, q.span.end)
        points = figures.cycle_time_points(history, q.span, q.filter, p.queries.zone)
        # A department typed by hand that no request of the period names gives zeros
        # everywhere: say so, and offer the names the period does have.
        departments = history.departments()
        unknown = bool(everything and scope and not history.names_department(scope))
        cfd, cfd_legend = figures.cumulative_flow_chart(doc)
        return p.templates.render(
            request,
            "dashboard.html",
            viewer,
            status=422 if error else 200,
            error=error,
            doc=doc,
            period=period,
            unit=unit,
            department=scope or "",
            departments=departments,
            unknown_department=unknown,
            everything=everything,
            throughput_chart=figures.throughput_chart(doc, scope),
            delivered_link=partial(figures.delivered_between, department=scope),
            rated_link=partial(figures.rated_between, department=scope),
            completed_link=figures.completed_between,
            # Open work as of today is what the lists show now; as of a past day it is not.
            open_link=partial(figures.open_now, department=scope)
            if q.as_of == p.queries.today()
            else None,
            cycle_chart=figures.cycle_time_chart(
                q.span, points, doc["flow_times"]["cycle_time_days"]
            ),
            cfd_chart=cfd,
            cfd_legend=cfd_legend,
            aging_chart=figures.aging_chart(doc),
            forecasts=_forecasts(doc["forecasts"], scope),
            forecast_model=doc["forecasts"]["model"],
            behind=p.queries.views.behind(),
            json_link="/api/metrics?"
            + urlencode(
                # The whole period's name: "2026 to 2026-12-04" names a period under way
                # as measured, and is not something the API's period parameter takes.
                {
                    "period": (q.span.full or q.span).label,
                    "unit": unit,
                    "as_of": q.as_of.isoformat(),
                }
                | ({"department": scope} if scope else {})
            ),
        )

    @router.get("/dashboard/forecasts/department")
    def department_forecasts(
        request: Request, viewer: Annotated[Viewer, Depends(requester)]
    ) -> Response:
        """A fragment for the VP's department page: when its accepted work will ship."""
        doc = p.queries.forecasts(p.queries.today())
        return p.templates.render(
            request,
            "_forecasts.html",
            viewer,
            forecasts=_forecasts(doc, viewer.principal.department or ""),
            reason=doc.get("reason"),
            forecast_model=doc["model"],
        )

    @router.get("/dashboard/weekly")
    def weekly(
        request: Request,
        viewer: Annotated[Viewer, Depends(organisation)],
        week: Annotated[str, Query(max_length=10)] = "",
    ) -> Response:
        chosen = week or p.queries.last_week()
        try:
            report = p.queries.weekly(chosen)
        except DomainError as exc:
            return p.templates.render(
                request,
                "weekly.html",
                viewer,
                status=exc.status,
                error=exc.detail,
                report=None,
                week=chosen,
                # A way back to a week there is a report of: this week, when the one asked
                # for has not begun.
                previous=_this_week(p.queries.today()) if exc.rule == "week_in_future" else None,
            )
        return p.templates.render(
            request,
            "weekly.html",
            viewer,
            report=report,
            figures=FIGURES,
            # The key figures' deliveries and deployments open their lists (decision 113),
            # each for the days its column measured.
            listed={
                "delivered": partial(figures.delivered_between, department=None),
                "deployments": figures.completed_between,
            },
            behind=p.queries.views.behind(),
            issued=p.queries.issued(report["week"]),
            week=chosen,
            error=None,
            previous=_shift(chosen, -1),
            # No link to a week that has not begun (a 422): the week after is shown only
            # once this one is over.
            next=_shift(chosen, 1) if report["end"] < p.queries.today().isoformat() else None,
        )

    return router


def _forecasts(forecast: dict[str, Any], department: str | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = forecast["items"]
    if department:
        items = [i for i in items if i["department"].casefold() == department.casefold()]
    return items


def _this_week(today: date) -> str:
    return bucket_key(today, "week")


def _shift(week: str, by: int) -> str:
    try:
        monday = date.fromisocalendar(int(week[:4]), int(week[6:8]), 1)
    except ValueError:
        return week
    year, number, _ = (monday + timedelta(days=7 * by)).isocalendar()
    return f"{year}-W{number:02d}"
