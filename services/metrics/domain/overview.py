"""Every metric for one period and filter in one document, and the period comparison
of the case study's table. The service's endpoints and a consumer's replay both call
`every_metric`, so their numbers are the same by construction."""

from __future__ import annotations

from datetime import date, timedelta, tzinfo
from typing import Any

from services.metrics.domain.calendar import Span
from services.metrics.domain.delivery import (
    cab_lead_time,
    dora,
    release_metrics,
    unauthorised_changes,
)
from services.metrics.domain.flow import (
    cumulative_flow,
    delivered_in,
    flow_times,
    satisfaction,
    throughput,
    time_in_state,
    work_in_progress,
)
from services.metrics.domain.forecast import forecast_requests
from services.metrics.domain.records import Filter, History, window
from services.metrics.domain.stats import change_percent, exact_average

FORECAST_WINDOW_DAYS = 90


def headline(
    history: History, span: Span, flt: Filter, zone: tzinfo
) -> tuple[dict[str, Any], float | None]:
    """The three figures of the case study's table for one period, and the exact average
    rating (the figure shows it rounded; changes are computed from the exact one)."""
    rated = satisfaction(history, span, "quarter", flt, zone)
    figures = {
        "period": span.to_json(),
        "delivered": len(delivered_in(history, span, flt, zone)),
        "median_cycle_time_days": flow_times(history, span, flt, zone)["cycle_time_days"]["p50"],
        "satisfaction": rated["average"],
    }
    return figures, exact_average(rated["distribution"])


def comparison(history: History, span: Span, flt: Filter, zone: tzinfo) -> dict[str, Any]:
    """A period against the one before it: change in throughput, median cycle time and
    average satisfaction (this 12 months against the previous 12, a quarter against the
    one before)."""
    current, now = headline(history, span, flt, zone)
    previous, before = headline(history, span.previous(), flt, zone)
    return {
        "current": current,
        "previous": previous,
        "change_percent": {
            "delivered": change_percent(current["delivered"], previous["delivered"]),
            "median_cycle_time_days": change_percent(
                current["median_cycle_time_days"], previous["median_cycle_time_days"]
            ),
            "satisfaction": change_percent(now, before),
        },
        "satisfaction_change": (
            round(now - before, 2) if now is not None and before is not None else None
        ),
    }


def window_needed(span: Span, as_of: date) -> tuple[date, date]:
    """The first and last business day whose facts `every_metric` can look at."""
    first = min(span.previous().start, as_of - timedelta(days=FORECAST_WINDOW_DAYS))
    return first, max(span.end, as_of)


def every_metric(
    history: History,
    span: Span,
    unit: str,
    flt: Filter,
    zone: tzinfo,
    as_of: date,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of the period, for the requests the filter selects."""
    return {
        "period": span.to_json(),
        "unit": unit,
        "filter": flt.to_json(),
        "as_of": as_of.isoformat(),
        # The business time zone every day here is counted in: a replay must use the same.
        "time_zone": getattr(zone, "key", str(zone)),
        "throughput": throughput(history, span, unit, flt, zone),
        "flow_times": flow_times(history, span, flt, zone),
        "work_in_progress": work_in_progress(history, as_of, flt, zone),
        "time_in_state": time_in_state(history, span, flt, zone),
        "cumulative_flow": cumulative_flow(history, span, flt, zone),
        "satisfaction": satisfaction(history, span, unit, flt, zone),
        "releases": release_metrics(history, span, unit, zone),
        "dora": dora(history, span, unit, flt, zone),
        "unauthorised_changes": unauthorised_changes(history, span, unit, flt, zone),
        "cab": cab_lead_time(history, span, flt, zone),
        "comparison": comparison(history, span, flt, zone),
        "forecasts": forecast_requests(
            history, as_of, zone, window_days=FORECAST_WINDOW_DAYS, seed=seed, flt=flt
        ),
    }


def replayed(
    history: History,
    span: Span,
    unit: str,
    flt: Filter,
    zone: tzinfo,
    as_of: date,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """What `GET /api/metrics` answers, from a whole history folded by a consumer: every
    metric, and the notes the service reads from the records its view selects for the
    question (`History.lived`), not from all of them."""
    asked = history.lived(*window(*window_needed(span, as_of), zone))
    return noted(every_metric(history, span, unit, flt, zone, as_of, seed=seed), asked, flt)


def noted(doc: dict[str, Any], history: History, flt: Filter) -> dict[str, Any]:
    """The document, with `notes` when a filter names a department or subsystem that
    nothing of the period has: every figure is then zero, most likely for a typo, and an
    API client is told so (as the dashboard tells a person)."""
    notes = []
    if history.empty:
        notes.append(
            "nothing of this period is in the log (no request, bundle, change or deployment"
            " lived in it), so every figure is zero"
        )
    elif flt.department and not history.names_department(flt.department):
        named = ", ".join(history.departments()) or "none"
        notes.append(
            f"no request of this period is from {flt.department!r}, so the figures are"
            f" zero; departments with requests in it: {named}"
        )
    if flt.subsystem and not history.empty:
        touched = {s for r in history.requests.values() for s in r.subsystems}
        touched |= {s for c in history.changes.values() for s in c.subsystems}
        if flt.subsystem.casefold() not in {s.casefold() for s in touched}:
            listed = ", ".join(sorted(touched)) or "none"
            notes.append(
                f"nothing of this period touches the subsystem {flt.subsystem!r}, so the"
                f" figures are zero; subsystems touched in it: {listed}"
            )
    return {**doc, "notes": notes} if notes else doc
