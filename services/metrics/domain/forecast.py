"""Monte Carlo delivery forecasts from recent throughput and the plan's order.

Each trial draws a day's deliveries at random from the daily counts of the last
`window_days` (empty days included) until the plan reaches a request's position; the
50/85/95% dates are nearest-rank percentiles of the trials. The generator is seeded, so
the same log, date and seed always give the same forecast.

When recent work shipped in release bundles, daily draws would scatter a bundle's
deliveries over random days; those trials draw instead, for each upcoming deployment
(the planned bundles, then the recent cadence), how many requests it ships from what
recent bundles shipped. A request never ships before its own bundle's date.

The plan's order is followed where it decides one; requests it leaves in no order (one
bundle at one stage, unranked work) are taken in a random order in each trial. Work
accepted later takes the share of deliveries it took lately while older work waited
(`overtaken_share`). "How many by a date" counts the same trials (decision 126).
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Callable, Hashable
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
NEVER = HORIZON_DAYS + 1  # a trial's day for work it did not deliver within the horizon
MIN_RELEASES = 2  # bundles deployed in the window before forecasting by release
MIN_CADENCE_DAYS = 7
RELEASE_SIZE_AT_MOST = 2  # times the largest recent release: a bound on t's long tail

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


def overtaken_share(history: History, as_of: date, window_days: int, zone: tzinfo) -> float:
    """Of the deliveries in the window made while work already accepted at its start was
    still waiting, the share that went to work accepted later: how often new work has
    recently overtaken the queue (none where the queue is served first)."""
    span = trailing(as_of, window_days)
    before = span.start - timedelta(days=1)
    queued = [r for r in history.requests.values() if r.stage_on(before, zone) in WORK_STAGES]
    if not queued:
        return 0.0
    ends = [local_date(r.ended_at, zone) if r.ended_at else None for r in queued]
    cleared = None if None in ends else max(e for e in ends if e is not None)
    ids = {r.id for r in queued}
    served = [
        r.id
        for r in history.requests.values()
        if r.delivered_at
        and local_date(r.delivered_at, zone) in span
        and (cleared is None or local_date(r.delivered_at, zone) <= cleared)
    ]
    return sum(rid not in ids for rid in served) / len(served) if served else 0.0


def plan_order(history: History, as_of: date, zone: tzinfo) -> list[RequestRecord]:
    """Accepted, undelivered work in the order it is planned to ship: requests scheduled
    into a bundle by the bundle's deployment date, the furthest along first within a
    bundle (a bundle planned past what a release ships leaves its least finished work
    for the next, not what passed QA), then the rest by their department's ranking (each
    department's first, then each one's second, ...), then acceptance."""
    return [q.request for q in _plan(history, as_of, zone)]


@dataclass(frozen=True)
class _Queued:
    """A request in the plan, with what placing it read: its place as the plan decides
    it, its bundle and that bundle's date then, and its stage then."""

    request: RequestRecord
    place: Hashable
    planned: Planned
    stage: str


def _plan(history: History, as_of: date, zone: tzinfo) -> list[_Queued]:
    """`plan_order` with each request's place as the plan decides it: requests sharing
    a place (in one bundle at one stage; unranked; each department's n-th) are in an order
    the plan does not promise, acceptance only breaking the tie."""
    stages = {r.id: r.stage_on(as_of, zone) for r in history.requests.values()}
    open_work = [r for r in history.requests.values() if stages[r.id] in WORK_STAGES]
    places: dict[str, dict[str, int]] = {}  # per department: request id -> its place
    for department in {r.department for r in open_work}:
        order = history.ranking_of(department, as_of, zone)
        places[department] = {rid: i for i, rid in reversed(list(enumerate(order)))}
    rank = {r.id: places[r.department][r.id] for r in open_work if r.id in places[r.department]}

    def queued(r: RequestRecord) -> tuple[tuple[tuple[int, str, int], str, str], _Queued]:
        planned = planned_bundle(r, history, as_of, zone)
        stage = str(stages[r.id])
        if planned is not None:
            place = (0, planned[1], len(WORK_STAGES) - WORK_STAGES.index(stage))
        else:
            place = (1, "", rank.get(r.id, len(open_work)))
        return (place, r.accepted_at or "", r.id), _Queued(r, place, planned, stage)

    return [q for _, q in sorted((queued(r) for r in open_work), key=lambda kq: kq[0])]


def _shuffled_ties(order: list[int], places: list[Hashable], rng: random.Random) -> list[int]:
    """`order` (indexes into `places`) with each run of equal places in a random order:
    one trial's guess at what the plan leaves open."""
    out = list(order)
    start = 0
    for end in range(1, len(out) + 1):
        if end == len(out) or places[out[end]] != places[out[start]]:
            if end - start > 1:
                run = out[start:end]
                rng.shuffle(run)
                out[start:end] = run
            start = end
    return out


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


def _trials(
    places: list[Hashable], samples: list[int], overtaken: float, trials: int, seed: int
) -> list[list[int]]:
    """For each request in plan order, the day (1-based) on which each trial delivered
    it (`NEVER`: not within the horizon): the trial's deliveries taken in plan order,
    ties in a random order, each going to later work instead with the `overtaken` share."""
    rng = random.Random(seed)  # noqa: S311  # a reproducible simulation, not a secret
    need = len(places)
    reached = [[NEVER] * trials for _ in range(need)]
    for trial in range(trials):
        order = _shuffled_ties(list(range(need)), places, rng)
        done = 0
        day = 0
        while done < need and day < HORIZON_DAYS:
            day += 1
            done_before = done
            drawn = samples[rng.randrange(len(samples))]
            done += sum(rng.random() >= overtaken for _ in range(drawn)) if overtaken else drawn
            for position in range(done_before, min(done, need)):
                reached[order[position]][trial] = day
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
    shipped = sorted(len(b.shipped) for b in deployed)  # not in the order records load
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
    paced: Releases,
    own_days: list[int],
    places: list[Hashable],
    overtaken: list[float],
    trials: int,
    seed: int,
    ready: list[bool],
) -> list[list[int]]:
    """For each position, the day each trial shipped it: every release takes up to a
    drawn number of requests (`_release_size`) in plan order (ties in a random order),
    stopping at one whose bundle comes later. Work `ready` (passed QA, in its upcoming
    bundle) ships with its bundle in every trial, and is part of that release's draw:
    the draw is of how many requests a release ships, and it ships those first."""
    rng = random.Random(seed)  # noqa: S311  # a reproducible simulation, not a secret
    reached = [[NEVER] * trials for _ in own_days]
    waiting = [i for i, done in enumerate(ready) if not done]
    ready_on: Counter[int] = Counter()
    for i in (i for i, done in enumerate(ready) if done):
        shipped = next((day for day in paced.days if day >= own_days[i]), NEVER)
        reached[i] = [shipped] * trials
        ready_on[shipped] += 1
    size = _release_size(paced.shipped)
    for trial in range(trials):
        order = _shuffled_ties(waiting, places, rng)
        head = 0
        for day in paced.days:
            room = size(rng) - ready_on[day]
            while room > 0 and head < len(order):
                if own_days[order[head]] > day:
                    break
                room -= 1
                if overtaken[order[head]] and rng.random() < overtaken[order[head]]:
                    continue  # this place in the release went to work accepted later
                reached[order[head]][trial] = day
                head += 1
            if head == len(order):
                break
    return reached


def _release_size(shipped: list[int]) -> Callable[[random.Random], int]:
    """A draw of how many requests the next release ships, predicted from the few recent
    ones (at least MIN_RELEASES): Student's t predictive distribution, as for a normal
    quantity whose mean and spread are both estimated from them (decision 128), not the
    sizes seen alone. Three releases seen put no chance below the smallest of them, yet a
    fourth falls below the smallest of three about a quarter of the time. Between none
    and twice the largest seen; the sizes seen if they are all the same."""
    n = len(shipped)
    mean = statistics.fmean(shipped)
    spread = statistics.stdev(shipped) * math.sqrt(1 + 1 / n)
    largest = RELEASE_SIZE_AT_MOST * max(shipped)
    if not spread:
        return lambda rng: shipped[0]

    def draw(rng: random.Random) -> int:
        t = rng.gauss(0, 1) / math.sqrt(rng.gammavariate((n - 1) / 2, 2) / (n - 1))
        return min(largest, max(0, round(mean + spread * t)))

    return draw


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


@dataclass(frozen=True)
class _Simulated:
    """The plan as of a day and its trials: for each request in plan order, the day
    (from the as-of date) each trial delivered it, `NEVER` if not within the horizon;
    no trials when nothing was delivered lately (`reason` says so)."""

    queue: list[RequestRecord]
    plans: list[Planned]
    days: list[list[int]] | None
    basis: dict[str, Any]
    reason: str | None


def _simulate(
    history: History, as_of: date, zone: tzinfo, window_days: int, trials: int, seed: int
) -> _Simulated:
    samples = daily_throughput(history, as_of, window_days, zone)
    planned_queue = _plan(history, as_of, zone)
    queue = [q.request for q in planned_queue]
    places = [q.place for q in planned_queue]
    plans = [q.planned for q in planned_queue]
    paced = releases(history, as_of, window_days, zone, samples)
    overtaken = overtaken_share(history, as_of, window_days, zone)
    basis = {"as_of": as_of.isoformat(), "window_days": window_days, "trials": trials,
             "seed": seed, "recent_deliveries": sum(samples),
             "model": "releases" if paced else "daily",
             "overtaken_share": round(overtaken, 3)}  # fmt: skip
    if not sum(samples):
        reason = f"no deliveries in the {window_days} days before {as_of.isoformat()}"
        return _Simulated(queue, plans, None, basis, reason)
    if paced is not None:
        own = [_own_day(planned, as_of, zone, paced) for planned in plans]
        upcoming = [p is not None and _upcoming(p[0], as_of, zone) for p in plans]
        ready = [
            due and q.stage == "awaiting_deployment"
            for q, due in zip(planned_queue, upcoming, strict=True)
        ]
        # Later work takes places in a release only from work in no bundle yet: a
        # bundle's own scope was planned before it.
        exposed = [0.0 if due else overtaken for due in upcoming]
        reached = _release_trials(paced, own, places, exposed, trials, seed, ready)
    else:
        reached = _trials(places, samples, overtaken, trials, seed)
    return _Simulated(queue, plans, reached, basis, None)


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
    sim = _simulate(history, as_of, zone, window_days, trials, seed)
    items = [
        _item(r, i, sim.days[i] if sim.days else None, sim.plans[i], as_of)
        for i, r in enumerate(sim.queue)
        if flt.matches(r)
    ]
    return {**sim.basis, "reason": sim.reason, "items": items}


def _item(
    r: RequestRecord,
    index: int,
    days: list[int] | None,
    planned: Planned,
    as_of: date,
) -> dict[str, Any]:
    dates: dict[str, str | None] = {f"p{c}": None for c in CONFIDENCE}
    if days is not None:
        ordered = sorted(days)
        for c in CONFIDENCE:
            # Trials that did not get there within the horizon count as "later still".
            day = ordered[-(-c * len(ordered) // 100) - 1]
            if day != NEVER:
                dates[f"p{c}"] = (as_of + timedelta(days=day)).isoformat()
    target = _target(planned, r)
    p85 = dates["p85"]
    return {
        **r.brief(),
        "position": index + 1,
        "bundle_id": planned[0].id if planned else None,
        "target_date": target,
        # What the requester asked for: a target later than it is late for them already.
        "desired_date": r.desired_date,
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
    many"): in each trial of the requests' own forecasts, how many it delivered by `by`
    (what is submitted later is not in the backlog being forecast). With a filter, the
    backlog is the requests it selects, the rest of the plan taking its share as before."""
    days = max(0, (by - as_of).days)
    sim = _simulate(history, as_of, zone, window_days, trials, seed)
    selected = [i for i, r in enumerate(sim.queue) if flt.matches(r)]
    totals = [0] * trials
    reached = sim.days or []
    for i in selected if reached else ():
        for trial, day in enumerate(reached[i]):
            totals[trial] += day <= days
    totals.sort()
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "by": by.isoformat(), "days": days,
                           "backlog": len(selected), "trials": trials, "seed": seed,
                           "filter": flt.to_json()}  # fmt: skip
    for c in CONFIDENCE:
        value = nearest_rank(totals, 100 - c) if totals else None
        out[f"p{c}"] = int(value) if value is not None else 0
    return out
