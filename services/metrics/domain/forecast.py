"""Monte Carlo delivery forecasts from recent throughput and the plan's order.

Each trial draws a day's deliveries at random from the daily counts of the last
`window_days` (empty days included) until the plan reaches a request's position; the
50/85/95% dates are nearest-rank percentiles of the trials. The generator is seeded, so
the same log, date and seed always give the same forecast.

When recent work shipped in release bundles, daily draws would scatter a bundle's
deliveries over random days; those trials draw instead, for each upcoming deployment
(the planned bundles, then the recent cadence), how many requests it ships from what
recent bundles shipped. A request never ships before its own bundle's date.
"""

from __future__ import annotations

import random
import statistics
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from services.metrics.domain.calendar import local_date, trailing
from services.metrics.domain.records import (
    WORK_STAGES,
    BundleRecord,
    Filter,
    History,
    RequestRecord,
)
from services.metrics.domain.stats import nearest_rank

EVERYTHING = Filter()

CONFIDENCE = (50, 85, 95)
HORIZON_DAYS = 3 * 365
MIN_RELEASES = 2  # bundles deployed in the window before forecasting by release
MIN_CADENCE_DAYS = 7

Planned = tuple[BundleRecord, str] | None
"""A request's bundle at the end of the as-of day and the date it was to deploy then."""


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
    into a bundle by the bundle's deployment date, the furthest along first within a
    bundle (a bundle planned past what a release ships leaves its least finished work
    for the next, not what passed QA), then the rest by their department's ranking (each
    department's first, then each one's second, ...), then acceptance."""
    stages = {r.id: r.stage_on(as_of, zone) for r in history.requests.values()}
    open_work = [r for r in history.requests.values() if stages[r.id] in WORK_STAGES]
    rank: dict[str, int] = {}
    for r in open_work:
        order = history.ranking_of(r.department)
        if r.id in order:
            rank[r.id] = order.index(r.id)

    def key(r: RequestRecord) -> tuple[int, str, int, str, str]:
        planned = planned_bundle(r, history, as_of, zone)
        if planned is not None:
            behind = len(WORK_STAGES) - WORK_STAGES.index(str(stages[r.id]))
            return (0, planned[1], behind, r.accepted_at or "", r.id)
        return (1, "", rank.get(r.id, len(open_work)), r.accepted_at or "", r.id)

    return sorted(open_work, key=key)


def planned_bundle(r: RequestRecord, history: History, as_of: date, zone: tzinfo) -> Planned:
    """The bundle the request was in at the end of `as_of` and the date it was to deploy
    on then, as that day saw the plan (what was planned, moved or taken out later does
    not count); None when it was in no bundle with a date, or in one cancelled by then."""
    bundle_id = r.bundle_on(as_of, zone)
    bundle = history.bundles.get(bundle_id) if bundle_id else None
    if bundle is None or _by(bundle.cancelled_at, as_of, zone):
        return None
    deploy_date = bundle.deploy_date_on(as_of, zone)
    return (bundle, deploy_date) if deploy_date else None


def _by(instant: str | None, day: date, zone: tzinfo) -> bool:
    """`instant` happened by the end of `day`."""
    return instant is not None and local_date(instant, zone) <= day


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


@dataclass(frozen=True)
class Releases:
    """Deliveries that come in bundles: the upcoming deployment days (as offsets from the
    as-of date: the planned bundles, then every `cadence` days), how many requests each
    recent bundle shipped, and the median days from scheduling a request into a bundle
    to its deployment (work in no bundle yet cannot ship sooner)."""

    days: list[int]
    shipped: list[int]
    lead_days: int


def releases(
    history: History, as_of: date, window_days: int, zone: tzinfo, samples: list[int]
) -> Releases | None:
    """The release pace, when most recent deliveries came with bundle deployments."""
    span = trailing(as_of, window_days)
    deployed = [
        b
        for b in history.bundles.values()
        if b.deployed_at and local_date(b.deployed_at, zone) in span
    ]
    recent = sorted(local_date(b.deployed_at, zone) for b in deployed if b.deployed_at)
    shipped = [len(b.shipped) for b in deployed]
    if len(recent) < MIN_RELEASES or sum(shipped) * 2 < sum(samples):
        return None
    leads = [
        (local_date(b.deployed_at, zone) - local_date(b.scheduled[r], zone)).days
        for b in deployed
        if b.deployed_at
        for r in b.shipped
        if r in b.scheduled
    ]
    gaps = [(later - earlier).days for earlier, later in pairwise(recent)]
    cadence = max(MIN_CADENCE_DAYS, round(statistics.median(gaps)))
    planned = (b.deploy_date_on(as_of, zone) for b in history.bundles.values())
    days = sorted(
        max(1, (date.fromisoformat(deploy_date[:10]) - as_of).days)
        for b, deploy_date in zip(history.bundles.values(), planned, strict=True)
        if deploy_date and _upcoming(b, as_of, zone)
    )
    last = days[-1] if days else (recent[-1] - as_of).days
    while last + cadence <= HORIZON_DAYS:
        last += cadence
        if last > 0:
            days.append(last)
    return Releases(days, shipped, round(statistics.median(leads)) if leads else 0)


def _upcoming(bundle: BundleRecord, as_of: date, zone: tzinfo) -> bool:
    """Planned by the end of `as_of`, and neither deployed nor cancelled by then."""
    return (
        _by(bundle.planned_at, as_of, zone)
        and not _by(bundle.deployed_at, as_of, zone)
        and not _by(bundle.cancelled_at, as_of, zone)
    )


def _release_trials(
    paced: Releases, own_days: list[int], trials: int, seed: int, ready: list[bool]
) -> list[list[int]]:
    """For each position, the day each trial shipped it: every release takes up to a
    drawn number of requests in plan order, stopping at one whose bundle comes later.
    Work `ready` (passed QA, in its upcoming bundle) ships with its bundle in every trial,
    taking none of the draw: the draw is of how much work a release gets done, and that
    work is done."""
    rng = random.Random(seed)  # noqa: S311  # a reproducible simulation, not a secret
    reached: list[list[int]] = [[] for _ in own_days]
    waiting = [i for i, done in enumerate(ready) if not done]
    for i in (i for i, done in enumerate(ready) if done):
        shipped = next((day for day in paced.days if day >= own_days[i]), None)
        reached[i] = [shipped] * trials if shipped is not None else []
    for _ in range(trials):
        head = 0
        for day in paced.days:
            room = paced.shipped[rng.randrange(len(paced.shipped))]
            while room > 0 and head < len(waiting):
                if own_days[waiting[head]] > day:
                    break
                reached[waiting[head]].append(day)
                head += 1
                room -= 1
            if head == len(waiting):
                break
    return reached


def _own_day(planned: Planned, as_of: date, zone: tzinfo, paced: Releases) -> int:
    """The first day (from the as-of date) the request can ship: its bundle's deployment,
    or, in no bundle yet, the recent time from scheduling to deployment."""
    if planned is None or not _upcoming(planned[0], as_of, zone):
        return paced.lead_days
    return max(1, (date.fromisoformat(planned[1][:10]) - as_of).days)


def _target(planned: Planned, r: RequestRecord) -> str | None:
    """The date the request is due: a fixed date, else its bundle's, else the one asked."""
    if r.fixed_date:
        return r.fixed_date
    if planned is not None:
        return planned[1]
    return r.desired_date


def forecast_requests(
    history: History,
    as_of: date,
    zone: tzinfo,
    *,
    window_days: int = 90,
    trials: int = 1000,
    seed: int = 0,
    flt: Filter = EVERYTHING,
) -> dict[str, Any]:
    """A delivery-date forecast for every accepted, undelivered request the filter selects.
    The whole plan is simulated (work of other departments ahead in it takes its share of
    the throughput); the filter only chooses which requests are listed."""
    samples = daily_throughput(history, as_of, window_days, zone)
    queue = plan_order(history, as_of, zone)
    plans = [planned_bundle(r, history, as_of, zone) for r in queue]
    paced = releases(history, as_of, window_days, zone, samples)
    basis = {"as_of": as_of.isoformat(), "window_days": window_days, "trials": trials,
             "seed": seed, "recent_deliveries": sum(samples),
             "model": "releases" if paced else "daily"}  # fmt: skip
    if not sum(samples):
        reason = f"no deliveries in the {window_days} days before {as_of.isoformat()}"
        items = [
            _item(r, i, None, trials, plans[i], as_of)
            for i, r in enumerate(queue)
            if flt.matches(r)
        ]
        return {**basis, "reason": reason, "items": items}
    if paced is not None:
        own = [_own_day(planned, as_of, zone, paced) for planned in plans]
        ready = [
            planned is not None
            and _upcoming(planned[0], as_of, zone)
            and r.stage_on(as_of, zone) == "awaiting_deployment"
            for r, planned in zip(queue, plans, strict=True)
        ]
        reached = _release_trials(paced, own, trials, seed, ready)
    else:
        reached = _trials(samples, len(queue), trials, seed)
    items = [
        _item(r, i, reached[i], trials, plans[i], as_of)
        for i, r in enumerate(queue)
        if flt.matches(r)
    ]
    return {**basis, "reason": None, "items": items}


def _item(
    r: RequestRecord,
    index: int,
    days: list[int] | None,
    trials: int,
    planned: Planned,
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
    target = _target(planned, r)
    p85 = dates["p85"]
    return {
        **r.brief(),
        "position": index + 1,
        "bundle_id": planned[0].id if planned else None,
        "target_date": target,
        "forecast": dates,
        "at_risk": bool(target and (p85 is None or p85 > target)),
        # The target has already passed undelivered: no forecast can meet it any more.
        "overdue": bool(target and target < as_of.isoformat()),
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
    flt: Filter = EVERYTHING,
) -> dict[str, Any]:
    """How many of the backlog's requests (accepted, not yet delivered) will be delivered
    from `as_of` (exclusive) to `by` (inclusive), with 50/85/95% confidence ("at least this
    many"). A trial that delivers more than the backlog holds has delivered all of it:
    what is submitted later is not in the backlog being forecast. With a filter, the
    backlog is the requests it selects, and a trial that delivers the first N of the plan
    delivers those of them that are among the first N."""
    samples = daily_throughput(history, as_of, window_days, zone)
    days = max(0, (by - as_of).days)
    rng = random.Random(seed)  # noqa: S311  # a reproducible simulation, not a secret
    paced = releases(history, as_of, window_days, zone, samples)
    if paced is not None:  # one draw per deployment up to `by`, from what bundles shipped
        draws, pool = sum(1 for d in paced.days if d <= days), paced.shipped
    else:
        draws, pool = days, samples
    queue = plan_order(history, as_of, zone)
    selected = [i for i, r in enumerate(queue) if flt.matches(r)]
    backlog = len(selected)
    totals = sorted(
        bisect_left(selected, sum(pool[rng.randrange(len(pool))] for _ in range(draws)))
        for _ in range(trials)
    )
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "by": by.isoformat(), "days": days,
                           "backlog": backlog, "trials": trials, "seed": seed,
                           "filter": flt.to_json()}  # fmt: skip
    for c in CONFIDENCE:
        value = nearest_rank(totals, 100 - c) if totals else None
        out[f"p{c}"] = int(value) if value is not None else 0
    return out
