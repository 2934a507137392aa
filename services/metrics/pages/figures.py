"""Pictures of the metrics: the metric documents of the query layer turned into inline
SVG charts (shared/web/charts.py), plus the cycle-time points a scatterplot needs."""

from __future__ import annotations

from datetime import date, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from services.metrics.domain.calendar import Span, days_inclusive, local_date
from services.metrics.domain.flow import delivered_in
from services.metrics.domain.records import WORK_STAGES, Filter, History
from services.metrics.domain.stats import nearest_rank
from shared.web import charts
from shared.web.charts import Line

# Bottom to top: what is finished at the bottom, what waits for triage on top. Each at
# least 3:1 against the white card (WCAG 1.4.11), so a legend's swatch can be told apart
# from the page; the hues stay apart for the bands side by side.
CFD_COLORS = {
    "delivered": "#1a7f37",
    "awaiting_deployment": "#2da44e",
    "in_qa": "#8250df",
    "in_development": "#1f6feb",
    "scheduled": "#bf3989",
    "accepted": "#0a7ea4",
    "deferred": "#818b98",
    "info_requested": "#a86b00",
    "submitted": "#e0590b",
}
CFD_BANDS = (
    "delivered",
    "awaiting_deployment",
    "in_qa",
    "in_development",
    "scheduled",
    "accepted",
    "deferred",
    "info_requested",
    "submitted",
)
PERCENTILES = (("p50", "50%", "#1a7f37"), ("p85", "85%", "#9a6700"), ("p95", "95%", "#cf222e"))


def _day_label(day: date) -> str:
    return day.strftime("%d %b").lstrip("0")


def percentile_lines(summary: dict[str, Any], unit: str = "d") -> list[Line]:
    """The 50th, 85th and 95th percentiles as reference lines; percentiles that are equal
    (few points, or many the same) share one line, labelled with each: "85%, 95% 79 d"."""
    names: dict[float, list[str]] = {}
    colors: dict[float, str] = {}
    for key, name, color in PERCENTILES:
        if summary.get(key) is not None:
            value = float(summary[key])
            names.setdefault(value, []).append(name)
            colors[value] = color  # the highest percentile's
    return [Line(v, f"{', '.join(n)} {v:g} {unit}", colors[v]) for v, n in names.items()]


EVERY_REQUEST = Filter()


def delivered_between(period: dict[str, Any], flt: Filter = EVERY_REQUEST) -> str:
    """The list of the requests a throughput point counts: delivered (where a request
    ends) on the period's business days, of the requests the filter chooses, as the
    point's is."""
    asked = {"delivered_from": period["start"], "delivered_to": period["end"]}
    return _requests("delivered", flt, asked)


def rated_between(period: dict[str, Any], flt: Filter = EVERY_REQUEST) -> str:
    """The list of the requests whose ratings satisfaction counts: their latest rating
    given on the period's business days, of the requests the filter chooses."""
    return _requests("all", flt, {"rated_from": period["start"], "rated_to": period["end"]})


def open_now(status: str, flt: Filter = EVERY_REQUEST) -> str:
    """The list of the requests in `status` now (accepted: in progress, whatever their
    stage; submitted: awaiting triage; deferred), of the requests the filter chooses: what
    the work-in-progress tile counts when its day is today."""
    return _requests(status, flt)


def _requests(status: str, flt: Filter, asked: dict[str, str] | None = None) -> str:
    """The Requests list of `status`, of the requests the filter chooses, as asked."""
    chosen = {"status": status, **(asked or {})}
    return "/requests?" + urlencode(chosen | {k: v for k, v in flt.to_json().items() if v})


def completed_between(period: dict[str, Any], flt: Filter = EVERY_REQUEST) -> str:
    """The list of the production changes deployment frequency counts: completed (any
    outcome) on the period's business days, touching the filter's subsystem if it names
    one (the only filter change figures take)."""
    asked = {"status": "all", "completed_from": period["start"], "completed_to": period["end"]}
    return "/changes?" + urlencode(asked | ({"subsystem": flt.subsystem} if flt.subsystem else {}))


def unauthorised_between(period: dict[str, Any], flt: Filter = EVERY_REQUEST) -> str:
    """The list of the unauthorised deployments the tile counts: reported as deployed on
    the period's business days, to the filter's subsystem if it names one."""
    asked = {"taken": "unauthorised", "from": period["start"], "to": period["end"]}
    return "/deployments?" + urlencode(
        asked | ({"subsystem": flt.subsystem} if flt.subsystem else {})
    )


def throughput_chart(doc: dict[str, Any], flt: Filter = EVERY_REQUEST) -> Markup:
    """Deliveries per period with their median (nearest rank, as every percentile here),
    of the whole periods only: the one under way is drawn as such (hollow, "so far") and
    left out of the median its few days would pull down. Each point opens the list of the
    requests it counts."""
    periods = doc["throughput"]["periods"]
    values = [float(p["delivered"]) for p in periods]
    whole = [v for p, v in zip(periods, values, strict=True) if "to_date_of" not in p]
    median = nearest_rank(sorted(whole or values), 50)
    return charts.run_chart(
        "Requests delivered per period",
        [str(p["period"]) for p in periods],
        values,
        unit="delivered",
        lines=[Line(median, f"median {median:g}", "#57606a")] if median is not None else [],
        under_way=bool(periods) and "to_date_of" in periods[-1],
        links=[delivered_between(p, flt) for p in periods],
        counts=True,
    )


CyclePoint = tuple[date, int, str, str]
"""A delivered request on the cycle-time chart: its delivery day, cycle time in days, name
and id."""


def request_page(request_id: str) -> str:
    """Where a dot of a request leads: its page, which every reader of these charts may
    open (a VP's charts hold their own department's requests only)."""
    return f"/requests/{request_id}"


def cycle_time_points(history: History, span: Span, flt: Filter, zone: tzinfo) -> list[CyclePoint]:
    """Each request delivered in the period: its delivery day and cycle time in days."""
    points = []
    for r in delivered_in(history, span, flt, zone):
        if r.accepted_at and r.delivered_at:
            days = days_inclusive(r.accepted_at, r.delivered_at, zone)
            named = f"{r.reference} {r.title}".strip()
            points.append((local_date(r.delivered_at, zone), days, named, r.id))
    return points


def cycle_time_chart(span: Span, points: list[CyclePoint], summary: dict[str, Any]) -> Markup:
    labels = []
    day = span.start
    while day <= span.end:
        labels.append(_day_label(day))
        day += timedelta(days=1)
    return charts.scatter(
        "Cycle time of each delivered request, with percentiles",
        labels,
        [
            charts.Dot((d - span.start).days, float(n), f"{title}: {n} days", request_page(id_))
            for d, n, title, id_ in points
        ],
        unit="days",
        lines=percentile_lines(summary),
    )


def cumulative_flow_chart(doc: dict[str, Any]) -> tuple[Markup, Markup]:
    days = doc["cumulative_flow"]["days"]
    bands = [s for s in CFD_BANDS if s in doc["cumulative_flow"]["stages"]]
    labels = [_day_label(date.fromisoformat(d["date"])) for d in days]
    series = [(s.replace("_", " "), [float(d.get(s, 0)) for d in days]) for s in bands]
    colors = [CFD_COLORS[s] for s in bands]
    chart = charts.stacked_area(
        "Cumulative flow: requests in each state, day by day",
        labels,
        series,
        unit="requests",
        colors=colors,
    )
    return chart, charts.legend([name for name, _ in series], colors)


def aging_chart(doc: dict[str, Any]) -> Markup:
    """The aging work-in-progress chart as flow practitioners draw it: each request under
    way at its days since acceptance, in its stage, against the cycle times of the
    period's delivered work. A dot above the 85% line is already older than 85 of every
    100 delivered requests took: the one to ask about. Work not yet accepted (waiting for
    triage, deferred) has not started, and is counted in the tiles instead."""
    wip = doc["work_in_progress"]
    columns = [
        (
            stage.replace("_", " "),
            [
                charts.Dot(
                    0,
                    float(i["days_since_accepted"]),
                    f"{i['reference']} {i['title']}".strip() + f": {i['days_since_accepted']}"
                    f" days since accepted, {i['days_in_stage']} in {i['stage'].replace('_', ' ')}",
                    request_page(i["id"]),
                )
                for i in wip["items"]
                if i["stage"] == stage and i["days_since_accepted"] is not None
            ],
        )
        for stage in WORK_STAGES
    ]
    return charts.dot_columns(
        "Days since each request in progress was accepted, by stage, against the cycle"
        " times of the work delivered in the period",
        columns,
        unit="days since accepted",
        lines=percentile_lines(doc["flow_times"]["cycle_time_days"]),
    )
