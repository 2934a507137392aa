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
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from services.metrics.application import MetricsQueries, Question
from services.metrics.domain.calendar import bucket_key
from services.metrics.domain.records import Filter
from services.metrics.pages import asked, figures, tables
from services.metrics.pages.asked import WHOLE_ORGANISATION
from services.metrics.report import FIGURES
from shared.domain import DomainError
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.access import PageAccess, Viewer
from shared.web.rendering import Templates

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
Unit = Literal["week", "month", "quarter"]
UNITS: tuple[str, ...] = get_args(Unit)
Text = Annotated[str, Query(max_length=100)]


@dataclass
class MetricsPages:
    queries: MetricsQueries
    access: PageAccess
    templates: Templates


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
        unit: Annotated[str, Query(max_length=20)] = "month",
        department: Text = "",
        category: Text = "",
        subsystem: Text = "",
        class_of_service: Text = "",
        by: Annotated[str, Query(max_length=10)] = "",
        judge: bool = False,
    ) -> Response:
        chosen = asked.read(viewer.principal, department, category, subsystem, class_of_service)
        error = None
        if unit not in UNITS:  # "day" (the API's), say: shown by month, saying why
            error = (
                f"the dashboard shows periods of a week, a month or a quarter, not {unit[:20]!r}:"
                " here by month (the API's /api/metrics/throughput?unit=day gives days)"
            )
            unit = "month"
        try:
            q = p.queries.question(period or None, None, unit, chosen.filter)
        except DomainError as exc:
            error = exc.detail
            q = p.queries.question(None, None, unit, chosen.filter)
        if q.span.end < q.as_of:  # a period that is over: open work as it stood at its end
            q = replace(q, as_of=q.span.end)
        return p.templates.render(
            request,
            "dashboard.html",
            viewer,
            status=422 if error else 200,
            error=error,
            # The box says the period shown ("2026-01..2026-12" when none was asked), in
            # the API's words; a period refused stays as typed, to be mended.
            period=period if period else (q.span.full or q.span).label,
            unit=unit,
            **_figures(p, q, chosen),
            backlog=_backlog(p, q, chosen.filter, by),
            accuracy=_accuracy(p, q, judge),
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
            overtaken_share=doc["overtaken_share"],
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
                "delivered": figures.delivered_between,
                "deployments": figures.completed_between,
            },
            behind=p.queries.views.behind(),
            issued=p.queries.issued(report["week"]),
            week=report["week"],  # as ISO writes it, however it was typed (2026-w49)
            error=None,
            previous=_shift(report["week"], -1),
            # No link to a week that has not begun (a 422): the week after is shown only
            # once this one is over.
            next=_shift(report["week"], 1)
            if report["end"] < p.queries.today().isoformat()
            else None,
        )

    return router


def _figures(p: MetricsPages, q: Question, chosen: asked.Asked) -> dict[str, Any]:
    """The dashboard's figures and pictures for the question, with the links that open
    what they count, each for the requests the dashboard counts."""
    flt = q.filter
    doc = p.queries.every_metric(q)
    history = p.queries.views.history(q.span.start, q.span.end)
    points = figures.cycle_time_points(history, q.span, flt, p.queries.zone)
    cfd, cfd_legend = figures.cumulative_flow_chart(doc)
    named = asked.subsystems(history)
    # Typed by hand, a name nothing of the period has gives zeros everywhere: say so,
    # and offer the names the period does have.
    unknown = asked.unknown(chosen, history, named)
    # The subsystem as the period spells it ("billing": Billing), else as typed: kept
    # chosen in its box, and said to name nothing.
    spelled = {s.casefold(): s for s in named}
    subsystem = spelled.get((flt.subsystem or "").casefold(), flt.subsystem)
    subsystems = [*named, subsystem] if subsystem and subsystem not in named else named
    return {
        "doc": doc,
        "asked": chosen,
        "department": flt.department or "",
        "departments": history.departments(),
        "subsystems": subsystems,
        "subsystem": subsystem or "",
        "subsystem_choices": [(s, s) for s in subsystems],
        "categories": asked.choices(asked.CATEGORIES),
        "classes": asked.choices(asked.CLASSES_OF_SERVICE),
        "unknown": unknown,
        "nothing_then": history.empty,
        "everything": chosen.everything,
        "measured_to": _weekday(q.span.end) if q.span.full else None,
        "throughput_chart": figures.throughput_chart(doc, flt),
        "delivered_link": partial(figures.delivered_between, flt=flt),
        "rated_link": partial(figures.rated_between, flt=flt),
        "completed_link": partial(figures.completed_between, flt=flt),
        "unauthorised_link": partial(figures.unauthorised_between, flt=flt),
        # Open work as of today is what the lists show now; as of a past day it is not.
        "open_link": partial(figures.open_now, flt=flt) if q.as_of == p.queries.today() else None,
        "cycle_chart": figures.cycle_time_chart(
            q.span, points, doc["flow_times"]["cycle_time_days"]
        ),
        "cfd_chart": cfd,
        "cfd_legend": cfd_legend,
        "aging_chart": figures.aging_chart(doc),
        "tables": tables.of_charts(doc, points),
        "forecasts": _forecasts(doc["forecasts"], flt.department),
        "forecast_model": doc["forecasts"]["model"],
        "overtaken_share": doc["forecasts"]["overtaken_share"],
        "behind": p.queries.views.behind(),
        "json_link": "/api/metrics?"
        + urlencode(
            # The whole period's name: "2026 to 2026-12-04" names a period under way
            # as measured, and is not something the API's period parameter takes.
            {
                "period": (q.span.full or q.span).label,
                "unit": q.unit,
                "as_of": q.as_of.isoformat(),
            }
            | chosen.params()
        ),
    }


def _backlog(p: MetricsPages, q: Question, flt: Filter, by: str) -> dict[str, Any]:
    """How many of the backlog (accepted, not delivered) will be delivered by the day
    asked, as the forecasts' day sees it (50/85/95%): the API's `forecasts/backlog`."""
    out: dict[str, Any] = {"by": by, "as_of": q.as_of.isoformat()}
    if not by:
        return out
    try:
        day = date.fromisoformat(by)
    except ValueError:
        return out | {"error": f"“{by}” is not a date (YYYY-MM-DD)."}
    try:
        return out | {"answer": p.queries.how_many_by(q.as_of, day, flt=flt)}
    except DomainError as exc:
        return out | {"error": exc.detail}


def _accuracy(p: MetricsPages, q: Question, judge: bool) -> dict[str, Any]:
    """When asked: how often the forecasts made on the period's first day and the first
    day of each later week, month or quarter came true (the API's `forecasts/accuracy`)."""
    if not judge:
        return {}
    try:
        # Judged by what has happened up to today, not by the period's end: the period's
        # own forecasts, seen from its end, would mostly be still to come.
        return {"answer": p.queries.forecast_accuracy(replace(q, as_of=p.queries.today()))}
    except DomainError as exc:
        return {"error": exc.detail}


def _weekday(day: date) -> str:
    """ "Sun 6 Dec": the day a period under way is measured to, its year said with it."""
    return f"{day:%a} {day.day} {day:%b}"


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
