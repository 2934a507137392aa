"""Monte Carlo delivery forecasts from recent daily throughput and the plan's order.

Each trial draws a day's deliveries at random from the daily counts of the last
`window_days` (empty days included) until the plan reaches a request's position; the
50/85/95% dates are nearest-rank percentiles of the trials. The generator is seeded, so
the same log, date and seed always give the same forecast.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta, tzinfo
from typing import Any

from services.metrics.domain.calendar import local_date, trailing
from services.metrics.domain.records import WORK_STAGES, History, RequestRecord
from services.metrics.domain.stats import nearest_rank

CONFIDENCE = (50, 85, 95)
HORIZON_DAYS = 3 * 365


def daily_throughput(history: History, as_of: date, window_days: int, zone: tzinfo) -> list[int]:
    span = trailing(as_of, window_days)
    per_day = Counter(
        local_date(r.delivered_at, zone)
        for r in history.requests.values()
        if r.delivered_at and local_date(r.delivered_at, zone) in span
    )
    return [per_day.get(span.start + timedelta(days=i), 0) for i in range(span.days)]


def plan_order(history: History, as_of: date, zone: tzinfo) -> list[RequestRecord]:
    """Accepted, undelivered work in the order it is planned to ship: requests scheduled
    into a bundle by the bundle's deployment date, then the rest by their department's
    ranking (each department's first, then each one's second, ...), then acceptance."""
    open_work = [r for r in history.requests.values() if r.stage_on(as_of, zone) in WORK_STAGES]
    rank: dict[str, int] = {}
    for r in open_work:
        order = history.ranking_of(r.department)
        if r.id in order:
            rank[r.id] = order.index(r.id)

    def key(r: RequestRecord) -> tuple[int, str, int, str, str]:
        bundle = history.bundles.get(r.bundle_id) if r.bundle_id else None
        if bundle is not None and bundle.deploy_date and not bundle.cancelled_at:
            return (0, bundle.deploy_date, 0, r.accepted_at or "", r.id)
        return (1, "", rank.get(r.id, len(open_work)), r.accepted_at or "", r.id)

    return sorted(open_work, key=key)


def _trials(samples: list[int], need: int, trials: int, seed: int) -> list[list[int]]:
    """For each position 1..need, the day (1-based) on which each trial reached it."""
    rng = random.Random(seed)  # noqa: S311  # a reproducible simulation, not a secret
    reached: list[list[int]] = [[] for _ in range(need)]
    for _ in range(trials):
        done = 0
        day = 0
        while done < need and day < HORIZON_DAYS:
            day += 1
            done_before = done
            done += samples[rng.randrange(len(samples))]
            for position in range(done_before, min(done, need)):
                reached[position].append(day)
    return reached


def _target(r: RequestRecord, history: History) -> str | None:
    bundle = history.bundles.get(r.bundle_id) if r.bundle_id else None
    if r.fixed_date:
        return r.fixed_date
    if bundle is not None and bundle.deploy_date and not bundle.cancelled_at:
        return bundle.deploy_date
    return r.desired_date


def forecast_requests(
    history: History,
    as_of: date,
    zone: tzinfo,
    *,
    window_days: int = 90,
    trials: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """A delivery-date forecast for every accepted, undelivered request."""
    samples = daily_throughput(history, as_of, window_days, zone)
    queue = plan_order(history, as_of, zone)
    basis = {"as_of": as_of.isoformat(), "window_days": window_days, "trials": trials,
             "seed": seed, "recent_deliveries": sum(samples)}  # fmt: skip
    if not sum(samples):
        reason = f"no deliveries in the {window_days} days before {as_of.isoformat()}"
        items = [_item(r, i, None, trials, history, as_of) for i, r in enumerate(queue)]
        return {**basis, "reason": reason, "items": items}
    reached = _trials(samples, len(queue), trials, seed)
    items = [_item(r, i, reached[i], trials, history, as_of) for i, r in enumerate(queue)]
    return {**basis, "reason": None, "items": items}


def _item(
    r: RequestRecord,
    index: int,
    days: list[int] | None,
    trials: int,
    history: History,
    as_of: date,
) -> dict[str, Any]:
    dates: dict[str, str | None] = {f"p{c}": None for c in CONFIDENCE}
    if days is not None:
        ordered = sorted(days)
        for c in CONFIDENCE:
            # Trials that did not get there within the horizon count as "later still".
            rank = -(-c * trials // 100)
            if rank <= len(ordered):
                dates[f"p{c}"] = (as_of + timedelta(days=ordered[rank - 1])).isoformat()
    target = _target(r, history)
    p85 = dates["p85"]
    return {
        "id": r.id,
        "title": r.title,
        "department": r.department,
        "position": index + 1,
        "bundle_id": r.bundle_id,
        "target_date": target,
        "forecast": dates,
        "at_risk": bool(target and (p85 is None or p85 > target)),
    }


def how_many_by(
    history: History,
    as_of: date,
    by: date,
    zone: tzinfo,
    *,
    window_days: int = 90,
    trials: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """How many requests will be delivered from `as_of` (exclusive) to `by` (inclusive),
    with 50/85/95% confidence ("at least this many")."""
    samples = daily_throughput(history, as_of, window_days, zone)
    days = max(0, (by - as_of).days)
    rng = random.Random(seed)  # noqa: S311  # a reproducible simulation, not a secret
    totals = sorted(
        sum(samples[rng.randrange(len(samples))] for _ in range(days)) for _ in range(trials)
    )
    backlog = len(plan_order(history, as_of, zone))
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "by": by.isoformat(), "days": days,
                           "backlog": backlog, "trials": trials, "seed": seed}  # fmt: skip
    for c in CONFIDENCE:
        value = nearest_rank(totals, 100 - c) if totals else None
        out[f"p{c}"] = int(value) if value is not None else 0
    return out
