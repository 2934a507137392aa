"""The weekly status report: where things stand, for every stakeholder, from the log."""

from __future__ import annotations

import re
from datetime import date, timedelta, tzinfo
from typing import Any

from services.metrics.domain.calendar import NoSuchWeek, Span, local_date, parse_period
from services.metrics.domain.delivery import dora, unauthorised_changes
from services.metrics.domain.flow import (
    delivered_in,
    flow_times,
    satisfaction,
    work_in_progress,
)
from services.metrics.domain.forecast import forecast_requests
from services.metrics.domain.overview import FORECAST_WINDOW_DAYS
from services.metrics.domain.records import Filter, History, RequestRecord
from services.metrics.domain.stats import change_percent, exact_average

TRIAGE_DECISIONS = ("accepted", "rejected", "deferred", "duplicate")
SCHEDULED_OR_LATER = ("scheduled", "in_development", "in_qa", "awaiting_deployment")


def parse_week(text: str) -> Span:
    # As people write it too: 2026-w48, 2026-W5.
    if loose := re.fullmatch(r"(\d{4})-[Ww](\d{1,2})", text.strip()):
        text = f"{loose[1]}-W{int(loose[2]):02d}"
    try:
        span = parse_period(text)
    except NoSuchWeek as exc:  # a week its year does not have: said as such, as a week
        raise NoSuchWeek(
            f"there is no week {text}: ISO year {exc.year} has weeks {exc.year}-W01 to"
            f" {exc.year}-W{exc.weeks:02d}",
            exc.year,
            exc.weeks,
        ) from None
    except ValueError:
        span = None
    if span is None or span.days != 7 or "-W" not in text:
        raise ValueError(f"a week is written like 2026-W47 (ISO year and week), not {text!r}")
    return span


def weekly_window(week: Span) -> tuple[date, date]:
    return min(week.previous().start, week.end - timedelta(days=FORECAST_WINDOW_DAYS)), week.end


def _brief(r: RequestRecord, **extra: Any) -> dict[str, Any]:
    return {**r.brief(), **extra}


def key_figures(history: History, week: Span, zone: tzinfo) -> dict[str, Any]:
    return _key_figures(history, week, zone)[0]


def _key_figures(
    history: History, week: Span, zone: tzinfo
) -> tuple[dict[str, Any], dict[str, float | None]]:
    """The key figures as shown, and the exact values of those shown rounded (the
    average rating, the change failure rate), which their changes are computed from."""
    everyone = Filter()
    cycle = flow_times(history, week, everyone, zone)["cycle_time_days"]
    changes = dora(history, week, "week", everyone, zone)
    rated = satisfaction(history, week, "week", everyone, zone)
    deployments = changes["deployment_frequency"]["deployments"]
    shown = {
        "delivered": len(delivered_in(history, week, everyone, zone)),
        "median_cycle_time_days": cycle["p50"],
        "p85_cycle_time_days": cycle["p85"],
        "work_in_progress": work_in_progress(history, week.end, everyone, zone)["in_progress"],
        "satisfaction": rated["average"],
        "deployments": deployments,
        "change_failure_rate": changes["change_failure_rate"],
    }
    exact = {
        "satisfaction": exact_average(rated["distribution"]),
        "change_failure_rate": changes["failed_changes"] / deployments if deployments else None,
    }
    return shown, exact


def _slipped(history: History, week: Span, zone: tzinfo) -> list[dict[str, Any]]:
    slipped: dict[str, dict[str, Any]] = {}
    for bundle in history.bundles.values():
        for move in bundle.moves:
            at, before, after = move.get("at"), move.get("from"), move.get("to")
            if not at or local_date(at, zone) not in week or not before or not after:
                continue
            if after <= before:
                continue
            for request_id in bundle.request_ids:
                r = history.requests.get(request_id)
                if r is not None:
                    reason = f"bundle {bundle.name} moved from {before} to {after}"
                    slipped.setdefault(r.id, _brief(r, reason=reason))
    for r in history.requests.values():
        previous = None
        for at, stage in r.transitions:
            if (
                previous in SCHEDULED_OR_LATER
                and stage == "accepted"
                and local_date(at, zone) in week
            ):
                slipped.setdefault(r.id, _brief(r, reason=_taken_out(history, r, at)))
            previous = stage
        if r.fixed_date and week.start.isoformat() <= r.fixed_date <= week.end.isoformat():
            delivered = local_date(r.delivered_at, zone).isoformat() if r.delivered_at else None
            if r.open or (delivered is not None and delivered > r.fixed_date):
                slipped.setdefault(r.id, _brief(r, reason=f"fixed date {r.fixed_date} missed"))
    return sorted(slipped.values(), key=lambda i: (i["department"], i["title"], i["id"]))


def _taken_out(history: History, r: RequestRecord, at: str) -> str:
    """Which bundle the request was taken out of at `at`, and the one it went into next."""
    names = {b.id: b.name for b in history.bundles.values()}
    before = [names.get(b, b) for when, b in r.bundles if b and when and when < at]
    after = [names.get(b, b) for when, b in r.bundles if b and when and when >= at]
    said = f"taken out of release bundle {before[-1]}" if before else "taken out of its bundle"
    return f"{said}, then scheduled into {after[0]}" if after else said


def _triaged(history: History, week: Span, zone: tzinfo) -> list[dict[str, Any]]:
    out = []
    for r in history.requests.values():
        decision = None
        previous = None
        for at, stage in r.transitions:
            # Back to accepted from a bundle is a request taken out of it (it slipped),
            # not a triage decision.
            unscheduled = stage == "accepted" and previous in SCHEDULED_OR_LATER
            if stage in TRIAGE_DECISIONS and not unscheduled and local_date(at, zone) in week:
                decision = stage
            previous = stage
        if decision is not None:
            out.append(_brief(r, decision=decision))
    return sorted(out, key=lambda i: (i["decision"], i["department"], i["title"], i["id"]))


def weekly_report(
    history: History, whole: Span, zone: tzinfo, *, seed: int = 0, as_of: date | None = None
) -> dict[str, Any]:
    """What was submitted, triaged and delivered in the week, what slipped, what is at
    risk, unauthorised changes, and the key figures against the week before. A week under
    way on `as_of` is reported to that day: its figures against the same days of the week
    before, its forecasts as of that day."""
    everyone = Filter()
    week = whole.to_date(as_of) if as_of is not None else whole
    before = week.previous()  # the same days of the week before, for a week under way
    this_week, this_exact = _key_figures(history, week, zone)
    last_week, last_exact = _key_figures(history, before, zone)
    forecast = forecast_requests(
        history, week.end, zone, window_days=FORECAST_WINDOW_DAYS, seed=seed
    )
    submitted = [
        _brief(r, category=r.category)
        for r in history.requests.values()
        if local_date(r.submitted_at, zone) in week
    ]
    delivered = [
        _brief(r, delivered_on=local_date(r.delivered_at, zone).isoformat())
        for r in delivered_in(history, week, everyone, zone)
        if r.delivered_at
    ]
    return {
        "week": whole.label,
        "start": whole.start.isoformat(),
        "end": whole.end.isoformat(),
        "to_date": week.end.isoformat() if week.full is not None else None,
        "submitted": sorted(submitted, key=lambda i: (i["department"], i["title"], i["id"])),
        "triaged": _triaged(history, week, zone),
        "delivered": sorted(delivered, key=lambda i: (i["delivered_on"], i["title"], i["id"])),
        "slipped": _slipped(history, week, zone),
        "at_risk": [i for i in forecast["items"] if i["at_risk"]],
        "unauthorised_changes": unauthorised_changes(history, week, "week", everyone, zone)[
            "items"
        ],
        "key_figures": {
            "this_week": this_week,
            "last_week": last_week,
            "periods": {"this_week": week.to_json(), "last_week": before.to_json()},
            "change_percent": {
                k: change_percent(this_exact.get(k, v), last_exact.get(k, last_week[k]))
                for k, v in this_week.items()
                if isinstance(v, int | float) or v is None
            },
        },
    }
