"""An independent, deliberately naive recomputation of the metrics from the raw feed.

It shares no code with services/metrics: it reads feed entries as plain dicts, walks
them once per question, and does its own date arithmetic and percentiles, so a mistake
in the service's arithmetic cannot hide in both.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def day_of(instant: str, zone: ZoneInfo) -> date:
    return datetime.fromisoformat(instant).astimezone(zone).date()


def pct(values: list[float], p: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


class Naive:
    def __init__(self, feed: list[dict[str, Any]], zone: ZoneInfo) -> None:
        self.feed = feed
        self.zone = zone

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.feed if e["type"] == type_]

    def first(self, type_: str) -> dict[str, str]:
        """aggregate id -> when the first event of that type happened to it."""
        out: dict[str, str] = {}
        for e in self.of(type_):
            out.setdefault(e["aggregate_id"], e["occurred_at"])
        return out

    def delivered_between(self, start: date, end: date) -> dict[str, str]:
        return {
            rid: at
            for rid, at in self.first("ChangeRequest.Delivered").items()
            if start <= day_of(at, self.zone) <= end
        }

    def throughput_by_month(self, start: date, end: date) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        day = start
        while day <= end:
            counts[f"{day.year}-{day.month:02d}"] += 0
            day += timedelta(days=1)
        for at in self.delivered_between(start, end).values():
            d = day_of(at, self.zone)
            counts[f"{d.year}-{d.month:02d}"] += 1
        return dict(counts)

    def times(self, start: date, end: date) -> tuple[list[float], list[float]]:
        submitted = self.first("ChangeRequest.Submitted")
        accepted = self.first("ChangeRequest.Accepted")
        lead: list[float] = []
        cycle: list[float] = []
        for rid, at in self.delivered_between(start, end).items():
            done = day_of(at, self.zone)
            lead.append((done - day_of(submitted[rid], self.zone)).days + 1)
            if rid in accepted:
                cycle.append((done - day_of(accepted[rid], self.zone)).days + 1)
        return lead, cycle

    def open_work_on(self, day: date) -> int:
        """Accepted, not delivered, rejected, withdrawn by the end of `day`."""
        ends = ("Delivered", "Withdrawn", "Rejected", "MarkedDuplicate")
        count = 0
        for rid, at in self.first("ChangeRequest.Accepted").items():
            if day_of(at, self.zone) > day:
                continue
            closed = [
                e for e in self.feed
                if e["aggregate_id"] == rid and e["type"].split(".")[1] in ends
                and day_of(e["occurred_at"], self.zone) <= day
            ]  # fmt: skip
            count += not closed
        return count

    def ratings(self, start: date, end: date) -> list[int]:
        latest: dict[str, tuple[str, int]] = {}
        for e in self.of("ChangeRequest.Rated"):
            latest[e["aggregate_id"]] = (e["occurred_at"], e["data"]["score"])
        return [s for at, s in latest.values() if start <= day_of(at, self.zone) <= end]

    def bundles_on_time(self, start: date, end: date) -> tuple[int, int]:
        windows = {
            e["aggregate_id"]: (e["data"]["window_start"], e["data"]["window_end"])
            for e in self.of("ReleaseBundle.Planned")
        }
        deployed = on_time = 0
        for bid, at in self.first("ReleaseBundle.Deployed").items():
            if not start <= day_of(at, self.zone) <= end:
                continue
            deployed += 1
            first, last = windows[bid]
            when = datetime.fromisoformat(at)
            on_time += datetime.fromisoformat(first) <= when <= datetime.fromisoformat(last)
        return deployed, on_time

    def change_failure(self, start: date, end: date) -> tuple[int, int]:
        rolled_back = {e["data"]["change_id"] for e in self.of("ReleaseBundle.RolledBack")}
        completed = failed = 0
        for e in self.of("ProductionChange.Completed"):
            if start <= day_of(e["occurred_at"], self.zone) <= end:
                completed += 1
                bad = e["data"]["outcome"] != "succeeded" or e["aggregate_id"] in rolled_back
                failed += bad
        return completed, failed

    def unauthorised(self, start: date, end: date) -> int:
        return sum(
            1
            for e in self.of("DeploymentReport.Recorded")
            if e["data"]["unauthorised"]
            and start <= day_of(e["data"]["deployed_at"], self.zone) <= end
        )

    def cab_hours(self, start: date, end: date) -> list[float]:
        raised = self.first("ProductionChange.Raised")
        hours = []
        for cid, at in self.first("ProductionChange.Approved").items():
            if start <= day_of(at, self.zone) <= end:
                delta = datetime.fromisoformat(at) - datetime.fromisoformat(raised[cid])
                hours.append(round(delta.total_seconds() / 3600, 2))
        return hours

    def deployed_bundles(self, start: date, end: date) -> dict[str, dict[str, Any]]:
        """bundle id -> its latest Deployed event, for those deployed in the period."""
        latest: dict[str, dict[str, Any]] = {}
        for e in self.of("ReleaseBundle.Deployed"):
            latest[e["aggregate_id"]] = e
        return {
            bid: e
            for bid, e in latest.items()
            if start <= day_of(e["occurred_at"], self.zone) <= end
        }

    def lead_time_for_changes(self, start: date, end: date) -> list[float]:
        """Days from a request's (last) scheduling into the bundle that shipped it to the
        bundle's deployment."""
        scheduled: dict[tuple[str, str], str] = {}
        for e in self.of("ReleaseBundle.RequestScheduled"):
            scheduled[(e["aggregate_id"], e["data"]["request_id"])] = e["occurred_at"]
        days: list[float] = []
        for bid, e in self.deployed_bundles(start, end).items():
            shipped = day_of(e["occurred_at"], self.zone)
            for rid in e["data"]["request_ids"]:
                if (bid, rid) in scheduled:
                    days.append((shipped - day_of(scheduled[(bid, rid)], self.zone)).days + 1)
        return days

    def recovery_hours(self, start: date, end: date) -> tuple[list[float], int]:
        """Hours from each failed change completed in the period to the next successful
        change (never one rolled back) on the same bundle or a shared subsystem."""
        raised = {e["aggregate_id"]: e["data"] for e in self.of("ProductionChange.Raised")}
        rolled_back = {e["data"]["change_id"] for e in self.of("ReleaseBundle.RolledBack")}
        done = {
            e["aggregate_id"]: (e["occurred_at"], e["data"]["outcome"])
            for e in self.of("ProductionChange.Completed")
        }
        hours: list[float] = []
        unrecovered = 0
        for cid, (at, outcome) in done.items():
            if not start <= day_of(at, self.zone) <= end:
                continue
            if outcome == "succeeded" and cid not in rolled_back:
                continue
            mine = raised[cid]
            fixes = [
                later
                for other, (later, result) in done.items()
                if other != cid and result == "succeeded" and other not in rolled_back
                and datetime.fromisoformat(later) > datetime.fromisoformat(at)
                and (
                    (mine["bundle_id"] and raised[other]["bundle_id"] == mine["bundle_id"])
                    or set(mine["subsystems"]) & set(raised[other]["subsystems"])
                )
            ]  # fmt: skip
            if not fixes:
                unrecovered += 1
                continue
            first = min(datetime.fromisoformat(f) for f in fixes)
            hours.append(round((first - datetime.fromisoformat(at)).total_seconds() / 3600, 2))
        return hours, unrecovered

    def delivered_by_day(self, start: date, day: date) -> int:
        return len(self.delivered_between(start, day))
