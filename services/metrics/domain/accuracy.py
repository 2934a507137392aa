"""How often the delivery forecasts came true: the forecasts as of each week (or month)
of a period, each judged against what happened since.

A request's forecast came true at a confidence when it was delivered by that date. A
forecast is judged once the request was delivered or its date has passed undelivered
(a miss); one whose date is still to come (today's included: today is not over),
undelivered, is pending. A request withdrawn, rejected or closed as a duplicate
afterwards is not judged: nothing was delivered late. A day with nothing delivered in
the window before it has no forecasts to judge.
"""

from __future__ import annotations

from datetime import date, timedelta, tzinfo
from math import sqrt
from typing import Any

from services.metrics.domain.calendar import Span, buckets, local_date
from services.metrics.domain.forecast import CONFIDENCE, EVERYTHING, forecast_requests
from services.metrics.domain.records import TERMINAL_STAGES, Filter, History

SHORT_BY_ERRORS = 2
"""A share is short of its confidence when below it by more than this many standard
errors (a few forecasts may miss by chance)."""


def forecast_days(span: Span, unit: str, judged_on: date) -> list[date]:
    """The period's first day and the first day of each later `unit` in it, up to the
    day the forecasts are judged on."""
    return [b.start for b in buckets(span, unit) if b.start <= judged_on]


def forecast_accuracy(
    history: History,
    days: list[date],
    zone: tzinfo,
    judged_on: date,
    *,
    over: bool = False,
    window_days: int = 90,
    seed: int = 0,
    flt: Filter = EVERYTHING,
) -> dict[str, Any]:
    """For each confidence, how many of the forecasts made as of `days` came true, of
    those that can be judged by what had happened at the end of `judged_on` (`over`: a
    past day, so a date on it undelivered has passed; else today, which has not).
    `history` holds every record the days' forecasts read and what happened to their
    requests."""
    still_to_come = (
        judged_on.isoformat() if not over else (judged_on + timedelta(days=1)).isoformat()
    )
    delivered = {
        r.id: day
        for r in history.requests.values()
        if r.delivered_at and (day := local_date(r.delivered_at, zone)) <= judged_on
    }
    came_true = dict.fromkeys(CONFIDENCE, 0)
    judged = dict.fromkeys(CONFIDENCE, 0)
    pending = dict.fromkeys(CONFIDENCE, 0)
    requests: dict[int, set[str]] = {c: set() for c in CONFIDENCE}
    unforecast: list[str] = []
    for day in days:
        # Only the requests alive in the forecast's window: the same forecast, sooner.
        seen = history.overlapping(day - timedelta(days=window_days), day)
        made = forecast_requests(seen, day, zone, window_days=window_days, seed=seed, flt=flt)
        if made["reason"] is not None:  # nothing delivered lately: no forecast was made
            unforecast.append(day.isoformat())
            continue
        for item in made["items"]:
            actual = delivered.get(item["id"])
            request = history.requests[item["id"]]
            if actual is None and request.stage_on(judged_on, zone) in TERMINAL_STAGES:
                continue
            for c in CONFIDENCE:
                forecast = item["forecast"][f"p{c}"]
                if actual is None and (forecast is None or forecast >= still_to_come):
                    pending[c] += 1
                    continue
                judged[c] += 1
                requests[c].add(item["id"])
                # No date within the horizon said "later still": anything delivered is in it.
                came_true[c] += actual is not None and (
                    forecast is None or actual.isoformat() <= forecast
                )
    confidences = []
    for c in CONFIDENCE:
        share = round(came_true[c] / judged[c], 3) if judged[c] else None
        confidences.append({
            "confidence": c,
            "judged": judged[c],
            "requests": len(requests[c]),
            "came_true": came_true[c],
            "share": share,
            "pending": pending[c],
            "short": share is not None and _short(share, c / 100, len(requests[c])),
        })  # fmt: skip
    return {
        "forecast_days": [d.isoformat() for d in days],
        "days_without_forecasts": unforecast,
        "judged_on": judged_on.isoformat(),
        "seed": seed,
        "window_days": window_days,
        "confidences": confidences,
    }


def _short(share: float, confidence: float, requests: int) -> bool:
    """Short by more than chance explains. A request forecast on many days tends to
    miss on all of them together (its bundle slipped), so the error is that of a share
    of as many requests as were judged, not of as many forecasts."""
    error = sqrt(confidence * (1 - confidence) / requests)
    return share < confidence - SHORT_BY_ERRORS * error
