"""Flow metrics of change requests: throughput, lead and cycle time, work in progress,
time in each state, cumulative flow and satisfaction. Pure functions of a History."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta, tzinfo
from typing import Any

from services.metrics.domain.calendar import Span, buckets, days_inclusive, local_date
from services.metrics.domain.records import (
    OPEN_STAGES,
    TERMINAL_STAGES,
    TRIAGE_STAGES,
    WORK_STAGES,
    Filter,
    History,
    RequestRecord,
)
from services.metrics.domain.stats import mean, summary


def _requests(history: History, flt: Filter) -> Iterator[RequestRecord]:
    return (r for r in history.requests.values() if flt.matches(r))


def delivered_in(history: History, span: Span, flt: Filter, zone: tzinfo) -> list[RequestRecord]:
    return [
        r
        for r in _requests(history, flt)
        if r.delivered_at is not None and local_date(r.delivered_at, zone) in span
    ]


def throughput(
    history: History, span: Span, unit: str, flt: Filter, zone: tzinfo
) -> dict[str, Any]:
    """Requests delivered per period of `unit`, periods with none included."""
    per_day = Counter(
        local_date(r.delivered_at, zone)
        for r in delivered_in(history, span, flt, zone)
        if r.delivered_at
    )
    periods = []
    for bucket in buckets(span, unit):
        count = sum(n for day, n in per_day.items() if day in bucket)
        periods.append({**bucket.to_json(), "period": bucket.label, "delivered": count})
    return {"unit": unit, "total": sum(per_day.values()), "periods": periods}


def flow_times(history: History, span: Span, flt: Filter, zone: tzinfo) -> dict[str, Any]:
    """Lead time (submitted to delivered) and cycle time (accepted to delivered), in
    calendar days, of the requests delivered in the period."""
    lead: list[float] = []
    cycle: list[float] = []
    for r in delivered_in(history, span, flt, zone):
        assert r.delivered_at is not None
        lead.append(days_inclusive(r.submitted_at, r.delivered_at, zone))
        if r.accepted_at:
            cycle.append(days_inclusive(r.accepted_at, r.delivered_at, zone))
    return {"lead_time_days": summary(lead), "cycle_time_days": summary(cycle)}


def work_in_progress(history: History, as_of: date, flt: Filter, zone: tzinfo) -> dict[str, Any]:
    """Every open request at the end of `as_of`, its stage and its age in calendar days."""
    by_stage: Counter[str] = Counter()
    items: list[dict[str, Any]] = []
    for r in _requests(history, flt):
        stage = r.stage_on(as_of, zone)
        if stage is None or stage in TERMINAL_STAGES:
            continue
        by_stage[stage] += 1
        spans = r.stage_spans(zone, as_of)
        entered = spans[stage][0]
        items.append(
            {
                **r.brief(),
                "category": r.category,
                "stage": stage,
                "age_days": (as_of - local_date(r.submitted_at, zone)).days + 1,
                "days_in_stage": (as_of - local_date(entered, zone)).days + 1,
                "days_since_accepted": (
                    (as_of - local_date(r.accepted_at, zone)).days + 1
                    if r.accepted_at and local_date(r.accepted_at, zone) <= as_of
                    else None
                ),
            }
        )
    items.sort(key=lambda i: (-i["age_days"], i["id"]))
    return {
        "as_of": as_of.isoformat(),
        "by_stage": {s: by_stage.get(s, 0) for s in OPEN_STAGES},
        "awaiting_triage": sum(by_stage.get(s, 0) for s in TRIAGE_STAGES),
        "in_progress": sum(by_stage.get(s, 0) for s in WORK_STAGES),
        "age_days": summary([i["age_days"] for i in items]),
        "items": items,
    }


def time_in_state(history: History, span: Span, flt: Filter, zone: tzinfo) -> dict[str, Any]:
    """Calendar days spent in each stage by the requests that left it during the period
    (first start to last finish): where work waits."""
    days: dict[str, list[float]] = defaultdict(list)
    for r in _requests(history, flt):
        for stage, (first, last) in r.stage_spans(zone, span.end).items():
            if last is None or stage in TERMINAL_STAGES:
                continue
            if local_date(last, zone) in span:
                days[stage].append(days_inclusive(first, last, zone))
    stages = {
        s: {**summary(days.get(s, [])), "total_days": sum(days.get(s, []))} for s in OPEN_STAGES
    }
    waiting = sorted((s for s in OPEN_STAGES if days.get(s)), key=lambda s: -sum(days[s]))
    return {"stages": stages, "most_waiting": waiting[:3]}


def cumulative_flow(history: History, span: Span, flt: Filter, zone: tzinfo) -> dict[str, Any]:
    """Per day: how many requests are in each open stage at the end of the day, and how
    many have reached each final stage since the start of the period."""
    start_counts: Counter[str] = Counter()
    deltas: dict[date, Counter[str]] = defaultdict(Counter)
    for r in _requests(history, flt):
        before: str | None = None
        for day, stage in r.timeline(zone):
            if day < span.start:
                before = stage
                continue
            if day > span.end:
                break
            if before is not None and before in OPEN_STAGES:
                deltas[day][before] -= 1
            deltas[day][stage] += 1
            before = stage
        first = _stage_before(r, span.start, zone)
        if first is not None and first in OPEN_STAGES:
            start_counts[first] += 1
    running = Counter(start_counts)
    series = []
    day = span.start
    while day <= span.end:
        running.update(deltas.get(day, Counter()))
        series.append({"date": day.isoformat(), **{s: running.get(s, 0) for s in _CFD_ORDER}})
        day += timedelta(days=1)
    return {"stages": list(_CFD_ORDER), "days": series}


_CFD_ORDER = OPEN_STAGES + TERMINAL_STAGES


def _stage_before(r: RequestRecord, day: date, zone: tzinfo) -> str | None:
    return r.stage_on(day - timedelta(days=1), zone)


def satisfaction(
    history: History, span: Span, unit: str, flt: Filter, zone: tzinfo
) -> dict[str, Any]:
    """Ratings given in the period (a request's latest rating counts, at its time)."""
    rated = [
        (local_date(r.rated_at, zone), r.rating)
        for r in _requests(history, flt)
        if r.rating is not None and r.rated_at and local_date(r.rated_at, zone) in span
    ]
    scores = [float(s) for _, s in rated if s is not None]
    periods = []
    for bucket in buckets(span, unit):
        inside = [float(s) for day, s in rated if s is not None and day in bucket]
        periods.append({"period": bucket.label, "count": len(inside), "average": mean(inside)})
    distribution = Counter(int(s) for s in scores)
    return {
        "count": len(scores),
        "average": mean(scores),
        "distribution": {str(n): distribution.get(n, 0) for n in range(1, 6)},
        "periods": periods,
    }
