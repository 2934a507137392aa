"""Release and production-change metrics: on-time releases, scope churn, the DORA keys,
unauthorised changes and CAB approval lead time. Pure functions of a History.

Request durations are calendar days (inclusive); production-change durations (CAB
approval, recovery) are hours, because they are measured in hours.
"""

from __future__ import annotations

from collections import Counter
from datetime import tzinfo
from typing import Any

from services.metrics.domain.calendar import (
    Span,
    buckets,
    days_inclusive,
    hours_between,
    local_date,
    parse_instant,
)
from services.metrics.domain.records import BundleRecord, ChangeRecord, Filter, History
from services.metrics.domain.stats import summary


def _per_bucket(days: list[Any], span: Span, unit: str, name: str) -> list[dict[str, Any]]:
    counts = Counter(days)
    return [
        {"period": b.label, name: sum(n for d, n in counts.items() if d in b)}
        for b in buckets(span, unit)
    ]


def on_time(bundle: BundleRecord, zone: tzinfo) -> bool | None:
    """Deployed inside the window it was first planned with (a moved window is a slip)."""
    if bundle.deployed_at is None:
        return None
    start, end = bundle.planned_window_start, bundle.planned_window_end
    if start is None or end is None:
        return None
    deployed = parse_instant(bundle.deployed_at)
    if "T" in start and "T" in end:
        return parse_instant(start) <= deployed <= parse_instant(end)
    day = local_date(bundle.deployed_at, zone)
    return start[:10] <= day.isoformat() <= end[:10]


def deployed_bundles(history: History, span: Span, zone: tzinfo) -> list[BundleRecord]:
    return sorted(
        (
            b
            for b in history.bundles.values()
            if b.deployed_at and local_date(b.deployed_at, zone) in span
        ),
        key=lambda b: (b.deployed_at or "", b.id),
    )


def release_metrics(history: History, span: Span, unit: str, zone: tzinfo) -> dict[str, Any]:
    """Bundles deployed in the period, how many inside their planned window, and how much
    their scope changed after it was frozen."""
    deployed = deployed_bundles(history, span, zone)
    judged = [on_time(b, zone) for b in deployed]
    known = [j for j in judged if j is not None]
    frozen_scope = sum(b.scope_at_freeze or 0 for b in deployed)
    churn = sum(b.added_after_freeze + b.removed_after_freeze for b in deployed)
    return {
        "bundles_deployed": len(deployed),
        "on_time": sum(1 for j in known if j),
        "on_time_rate": round(sum(1 for j in known if j) / len(known), 4) if known else None,
        "scope_added_after_freeze": sum(b.added_after_freeze for b in deployed),
        "scope_removed_after_freeze": sum(b.removed_after_freeze for b in deployed),
        "scope_churn_rate": round(churn / frozen_scope, 4) if frozen_scope else None,
        "rolled_back": sum(1 for b in deployed if b.rolled_back_at),
        "periods": _per_bucket(
            [local_date(b.deployed_at, zone) for b in deployed if b.deployed_at],
            span,
            unit,
            "bundles_deployed",
        ),
        "bundles": [
            {
                "id": b.id,
                "name": b.name,
                "deployed_at": b.deployed_at,
                "on_time": j,
                "requests": len(b.shipped),
                "added_after_freeze": b.added_after_freeze,
                "removed_after_freeze": b.removed_after_freeze,
            }
            for b, j in zip(deployed, judged, strict=True)
        ],
    }


def _completed(history: History, span: Span, flt: Filter, zone: tzinfo) -> list[ChangeRecord]:
    return sorted(
        (
            c
            for c in history.changes.values()
            if c.completed_at
            and local_date(c.completed_at, zone) in span
            and flt.touches(c.subsystems)
        ),
        key=lambda c: (c.completed_at or "", c.id),
    )


def _recovered_by(failed: ChangeRecord, history: History) -> ChangeRecord | None:
    """The first successful change after a failure that touches what failed: the same
    bundle, or a subsystem in common."""
    assert failed.completed_at is not None
    best: ChangeRecord | None = None
    touched = {s.casefold() for s in failed.subsystems}
    for c in history.changes.values():
        if c.id == failed.id or c.failed or c.outcome != "succeeded" or not c.completed_at:
            continue
        if c.completed_at <= failed.completed_at:
            continue
        same_bundle = failed.bundle_id is not None and c.bundle_id == failed.bundle_id
        if not same_bundle and not touched & {s.casefold() for s in c.subsystems}:
            continue
        if best is None or (c.completed_at, c.id) < (best.completed_at or "", best.id):
            best = c
    return best


def dora(history: History, span: Span, unit: str, flt: Filter, zone: tzinfo) -> dict[str, Any]:
    """Deployment frequency, lead time for changes, change failure rate and failed
    deployment recovery time.

    Lead time for changes runs from a request being scheduled into the bundle that
    shipped it to that bundle's deployment: a proxy for commit time, which Railyard does
    not see."""
    completed = _completed(history, span, flt, zone)
    failed = [c for c in completed if c.failed]
    weeks = span.days / 7
    lead: list[float] = []
    for b in deployed_bundles(history, span, zone):
        assert b.deployed_at is not None
        for request_id in b.shipped:
            request = history.requests.get(request_id)
            if not flt.empty and (request is None or not flt.matches(request)):
                continue
            scheduled_at = b.scheduled.get(request_id)
            if scheduled_at:
                lead.append(days_inclusive(scheduled_at, b.deployed_at, zone))
    recovery: list[float] = []
    unrecovered = 0
    for c in failed:
        fixer = _recovered_by(c, history)
        if fixer is None or fixer.completed_at is None or c.completed_at is None:
            unrecovered += 1
        else:
            recovery.append(round(hours_between(c.completed_at, fixer.completed_at), 2))
    return {
        "deployment_frequency": {
            "deployments": len(completed),
            "per_week": round(len(completed) / weeks, 2),
            "by_type": dict(sorted(Counter(c.change_type for c in completed).items())),
            "periods": _per_bucket(
                [local_date(c.completed_at, zone) for c in completed if c.completed_at],
                span,
                unit,
                "deployments",
            ),
        },
        "lead_time_for_changes_days": summary(lead),
        "change_failure_rate": round(len(failed) / len(completed), 4) if completed else None,
        "failed_changes": len(failed),
        "recovery_time_hours": {**summary(recovery), "unrecovered": unrecovered},
    }


def unauthorised_changes(
    history: History, span: Span, unit: str, flt: Filter, zone: tzinfo
) -> dict[str, Any]:
    """Deployments reported with no approved change behind them."""
    found = sorted(
        (
            d
            for d in history.deployments.values()
            if d.unauthorised and local_date(d.at, zone) in span and flt.touches([d.subsystem])
        ),
        key=lambda d: (d.at, d.id),
    )
    return {
        "count": len(found),
        "periods": _per_bucket([local_date(d.at, zone) for d in found], span, unit, "count"),
        "items": [
            {"id": d.id, "at": d.at, "subsystem": d.subsystem, "pipeline": d.pipeline,
             "version": d.version}
            for d in found
        ],
    }  # fmt: skip


def cab_lead_time(history: History, span: Span, flt: Filter, zone: tzinfo) -> dict[str, Any]:
    """Hours from raising a production change to its approval, for approvals in the period."""
    hours: list[float] = []
    by_type: Counter[str] = Counter()
    for c in history.changes.values():
        if not c.approved_at or not flt.touches(c.subsystems):
            continue
        if local_date(c.approved_at, zone) in span:
            hours.append(round(hours_between(c.raised_at, c.approved_at), 2))
            by_type[c.change_type] += 1
    return {"approval_hours": summary(hours), "approved_by_type": dict(sorted(by_type.items()))}
