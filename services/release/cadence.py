"""When a release train deploys, and when each bundle's milestones fall.

Pure calendar arithmetic, no storage: a cadence yields deployment dates (monthly on the
Nth weekday, or every N weeks from a start date), and milestone offsets turn one
deployment date into the concrete instants of its scope freeze, code complete, QA start
and deployment window, in the train's own time zone.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain import InvalidCommand

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
LAST = -1
MAX_INTERVAL_WEEKS = 26


class CadenceKind(StrEnum):
    MONTHLY = "monthly"
    EVERY_N_WEEKS = "every_n_weeks"


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The Nth (1-4) or last (-1) given weekday (0 = Monday) of a month."""
    if n == LAST:
        last_day = calendar.monthrange(year, month)[1]
        last = date(year, month, last_day)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


@dataclass(frozen=True)
class Cadence:
    """How often a train deploys."""

    kind: CadenceKind
    start_date: date
    weekday: int | None = None
    week_of_month: int | None = None
    interval_weeks: int | None = None

    @classmethod
    def monthly(cls, weekday: str, week_of_month: int, start_date: date) -> Cadence:
        """Monthly on, say, the second Tuesday, from the first such day on `start_date`."""
        day = weekday.strip().casefold()
        if day not in WEEKDAYS:
            raise InvalidCommand("unknown_weekday", f"{weekday!r} is not a day of the week")
        if week_of_month not in ORDINALS:
            raise InvalidCommand(
                "week_of_month_out_of_range",
                "the week of the month is 1 to 4, or -1 for the last; a fifth weekday"
                " does not exist in every month",
            )
        return cls(
            CadenceKind.MONTHLY,
            start_date,
            weekday=WEEKDAYS.index(day),
            week_of_month=week_of_month,
        )

    @classmethod
    def every_n_weeks(cls, interval_weeks: int, start_date: date) -> Cadence:
        """Every N weeks, the first deployment on `start_date`."""
        if not 1 <= interval_weeks <= MAX_INTERVAL_WEEKS:
            raise InvalidCommand(
                "interval_out_of_range", f"a train runs every 1 to {MAX_INTERVAL_WEEKS} weeks"
            )
        return cls(CadenceKind.EVERY_N_WEEKS, start_date, interval_weeks=interval_weeks)

    def dates(self, on_or_after: date) -> Iterator[date]:
        """Deployment dates in order, from `on_or_after` (never before the start date)."""
        start = max(self.start_date, on_or_after)
        if self.kind == CadenceKind.EVERY_N_WEEKS:
            assert self.interval_weeks is not None
            step = timedelta(weeks=self.interval_weeks)
            behind = (start - self.start_date).days
            periods = -(-behind // step.days)  # ceiling division
            current = self.start_date + step * periods
            while True:
                yield current
                current += step
        assert self.weekday is not None
        assert self.week_of_month is not None
        year, month = start.year, start.month
        while True:
            candidate = nth_weekday(year, month, self.weekday, self.week_of_month)
            if candidate >= start:
                yield candidate
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def upcoming(self, after: date, count: int) -> list[date]:
        """The next `count` deployment dates strictly after `after`."""
        found: list[date] = []
        for day in self.dates(after + timedelta(days=1)):
            if len(found) == count:
                break
            found.append(day)
        return found

    def describe(self) -> str:
        if self.kind == CadenceKind.EVERY_N_WEEKS:
            weeks = "week" if self.interval_weeks == 1 else f"{self.interval_weeks} weeks"
            return f"every {weeks} from {self.start_date.isoformat()}"
        assert self.weekday is not None
        assert self.week_of_month is not None
        return f"monthly on the {ORDINALS[self.week_of_month]} {WEEKDAYS[self.weekday].title()}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "start_date": self.start_date.isoformat()}
        if self.kind == CadenceKind.MONTHLY:
            assert self.weekday is not None
            out["weekday"] = WEEKDAYS[self.weekday]
            out["week_of_month"] = self.week_of_month
        else:
            out["interval_weeks"] = self.interval_weeks
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cadence:
        start = date.fromisoformat(data["start_date"])
        if data["kind"] == CadenceKind.MONTHLY:
            return cls.monthly(data["weekday"], int(data["week_of_month"]), start)
        return cls.every_n_weeks(int(data["interval_weeks"]), start)


MILESTONES = ("scope_freeze", "code_complete", "qa_start", "window_start", "window_end")
MAX_OFFSET_DAYS = 120


@dataclass(frozen=True, order=True)
class Offset:
    """A milestone's place relative to the deployment date: days before (negative) or
    after, at a local time of day."""

    days: int
    at: time

    @classmethod
    def parse(cls, days: int, at: str, milestone: str) -> Offset:
        if not -MAX_OFFSET_DAYS <= days <= MAX_OFFSET_DAYS:
            raise InvalidCommand(
                "offset_out_of_range",
                f"{milestone.replace('_', ' ')} is at most {MAX_OFFSET_DAYS} days from deployment",
            )
        try:
            moment = time.fromisoformat(at)
        except ValueError:
            raise InvalidCommand(
                "invalid_time_of_day", f"{milestone.replace('_', ' ')}: {at!r} is not HH:MM"
            ) from None
        return cls(days, moment.replace(second=0, microsecond=0, tzinfo=None))

    def to_json(self) -> dict[str, Any]:
        return {"days": self.days, "time": self.at.strftime("%H:%M")}


@dataclass(frozen=True)
class Milestones:
    """One bundle's concrete dates: its deployment day and the instants of its milestones."""

    deploy_date: date
    scope_freeze_at: datetime
    code_complete_at: datetime
    qa_start_at: datetime
    window_start: datetime
    window_end: datetime

    def event_fields(self) -> dict[str, str]:
        return {
            "deploy_date": self.deploy_date.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "scope_freeze_at": self.scope_freeze_at.isoformat(),
            "code_complete_at": self.code_complete_at.isoformat(),
            "qa_start_at": self.qa_start_at.isoformat(),
        }


@dataclass(frozen=True)
class MilestoneOffsets:
    """Where every milestone falls relative to the deployment date, in order."""

    scope_freeze: Offset
    code_complete: Offset
    qa_start: Offset
    window_start: Offset
    window_end: Offset

    @classmethod
    def parse(cls, raw: Mapping[str, Mapping[str, Any]]) -> MilestoneOffsets:
        missing = [m for m in MILESTONES if m not in raw]
        if missing:
            raise InvalidCommand(
                "milestone_required", f"missing milestone offsets: {', '.join(missing)}"
            )
        offsets = cls(
            **{m: Offset.parse(int(raw[m]["days"]), str(raw[m]["time"]), m) for m in MILESTONES}
        )
        ordered = [getattr(offsets, m) for m in MILESTONES]
        if not all(a <= b for a, b in itertools.pairwise(ordered)):
            raise InvalidCommand(
                "milestones_out_of_order",
                "milestones must fall in order: scope freeze, code complete, QA start,"
                " deployment window start, window end",
            )
        if not offsets.scope_freeze < offsets.window_start < offsets.window_end:
            raise InvalidCommand(
                "milestones_out_of_order",
                "the scope freeze comes before the deployment window, and the window has a length",
            )
        return offsets

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {m: getattr(self, m).to_json() for m in MILESTONES}

    def for_deploy_date(self, deploy_date: date, zone: ZoneInfo) -> Milestones:
        def at(offset: Offset) -> datetime:
            return datetime.combine(deploy_date + timedelta(days=offset.days), offset.at, zone)

        return Milestones(
            deploy_date=deploy_date,
            scope_freeze_at=at(self.scope_freeze),
            code_complete_at=at(self.code_complete),
            qa_start_at=at(self.qa_start),
            window_start=at(self.window_start),
            window_end=at(self.window_end),
        )


DEFAULT_OFFSETS: dict[str, dict[str, Any]] = {
    "scope_freeze": {"days": -14, "time": "17:00"},
    "code_complete": {"days": -8, "time": "17:00"},
    "qa_start": {"days": -7, "time": "09:00"},
    "window_start": {"days": 0, "time": "20:00"},
    "window_end": {"days": 1, "time": "02:00"},
}


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidCommand("unknown_timezone", f"unknown time zone {name!r}") from None
