"""Business calendar arithmetic: periods, buckets and calendar days in one time zone.

Conventions applied by every metric: instants are turned into dates in the configured
business time zone; calendar days are counted inclusively (an item started and finished
on the same day took 1 day); weeks are ISO weeks (Monday to Sunday, `2026-W47`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

UNITS = ("day", "week", "month", "quarter")

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class Span:
    """A period of whole business days, both ends included."""

    start: date
    end: date
    label: str = ""
    full: Span | None = None
    """For a period still under way: the whole period this is the part of, to date."""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(
                f"the period starts after it ends ({self.start} .. {self.end}):"
                " give the earlier date first"
            )
        if not self.label:
            object.__setattr__(self, "label", f"{self.start.isoformat()}..{self.end.isoformat()}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def whole_months(self) -> int | None:
        """How many calendar months the span covers exactly, or None if it is not aligned."""
        if self.start.day != 1 or (self.end + timedelta(days=1)).day != 1:
            return None
        after = self.end + timedelta(days=1)
        return (after.year - self.start.year) * 12 + after.month - self.start.month

    def to_date(self, as_of: date) -> Span:
        """The part of the period up to `as_of` when the period is still under way (so a
        year, quarter or month that has not ended is not set against a whole one)."""
        if not self.start <= as_of < self.end:
            return self
        return Span(self.start, as_of, f"{self.label} to {as_of.isoformat()}", full=self)

    def previous(self) -> Span:
        """The period of the same length just before: the previous month, quarter, year
        or run of months when the span is whole months, else the same number of days.
        For a period to date, the same part of the period before it (2026 to 4 December:
        2025 to 4 December)."""
        if self.full is not None:
            before = self.full.previous()
            months = self.full.whole_months()
            if months:
                first = _add_months(self.end, -months)
                end = date(first.year, first.month, min(self.end.day, _month_end_day(first)))
            else:
                end = before.start + (self.end - self.start)
            return Span(before.start, min(end, before.end))
        months = self.whole_months()
        if months is not None:
            start = _add_months(self.start, -months)
            return Span(start, self.start - timedelta(days=1))
        length = timedelta(days=self.days)
        return Span(self.start - length, self.end - length)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "start": self.start.isoformat(),
                               "end": self.end.isoformat(), "days": self.days}  # fmt: skip
        if self.full is not None:
            out["to_date_of"] = self.full.label
        return out


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(year: int, month: int) -> date:
    return _add_months(date(year, month, 1), 1) - timedelta(days=1)


def _month_end_day(day: date) -> int:
    return _month_end(day.year, day.month).day


class NoSuchWeek(ValueError):
    """A week its ISO year does not have (2023-W53): said as such, by a week's parser too."""

    def __init__(self, message: str, year: int, weeks: int) -> None:
        super().__init__(message)
        self.year = year
        self.weeks = weeks


def _one(text: str) -> Span:
    if m := _YEAR.match(text):
        year = int(m[1])
        return Span(date(year, 1, 1), date(year, 12, 31), text)
    if m := _QUARTER.match(text):
        year, quarter = int(m[1]), int(m[2])
        first = 3 * quarter - 2
        return Span(date(year, first, 1), _month_end(year, first + 2), text)
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        return Span(date(year, month, 1), _month_end(year, month), text)
    if m := _WEEK.match(text):
        year, week = int(m[1]), int(m[2])
        weeks = date(year, 12, 28).isocalendar()[1]  # 28 December is in the last ISO week
        if not 1 <= week <= weeks:
            raise NoSuchWeek(
                f"invalid period {text!r}: ISO year {year} has weeks 1 to {weeks}", year, weeks
            )
        monday = date.fromisocalendar(year, week, 1)
        return Span(monday, monday + timedelta(days=6), text)
    if _DAY.match(text):
        day = date.fromisoformat(text)
        return Span(day, day, text)
    raise ValueError(
        f"unknown period {text!r}: use 2026, 2026-Q4, 2026-11, 2026-W47, 2026-11-21"
        " or a range such as 2025-12-01..2026-11-30"
    )


def parse_period(text: str) -> Span:
    """`2026`, `2026-Q4`, `2026-11`, `2026-W47`, `2026-11-21`, or `A..B` (from the start
    of A to the end of B). Raises ValueError with a readable message."""
    text = text.strip()
    try:
        if ".." in text:
            first, _, last = text.partition("..")
            return Span(_one(first.strip()).start, _one(last.strip()).end, text)
        return _one(text)
    except ValueError as exc:
        if "period" in str(exc):
            raise
        raise ValueError(f"invalid period {text!r}: {exc}") from None


def check_as_of(as_of: date, today: date) -> None:
    """A question is asked as of a day that has happened: the log holds nothing later, so
    open work would be aged and forecasts drawn from days with no deliveries yet."""
    if as_of > today:
        raise ValueError(
            f"as_of {as_of.isoformat()} is after today ({today.isoformat()} in the business"
            " time zone): figures are measured up to today at the latest"
        )


def check_begun(span: Span, as_of: date, today: date) -> None:
    """A period asked about has begun by the day asked about: nothing of one still to come
    has happened, and every figure of it would be a zero."""
    if span.start > as_of:
        asked = "today" if as_of == today else "the day asked about"
        raise ValueError(
            f"the period {span.label} begins {span.start.isoformat()}, after {asked}"
            f" ({as_of.isoformat()} in the business time zone): figures are measured up to"
            " today at the latest"
        )


def trailing(as_of: date, days: int) -> Span:
    """The `days` days ending on `as_of`."""
    return Span(as_of - timedelta(days=days - 1), as_of)


def bucket_key(day: date, unit: str) -> str:
    if unit == "day":
        return day.isoformat()
    if unit == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return f"{day.year}-{day.month:02d}"
    if unit == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    raise ValueError(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}")


def buckets(span: Span, unit: str) -> list[Span]:
    """Every period of `unit` overlapping `span`, clipped to it, empty ones included. When
    `span` is a period to date, the last of them, if still under way, has its whole period
    as `full` (its JSON names it `to_date_of`)."""
    out: list[Span] = []
    day = span.start
    while day <= span.end:
        key = bucket_key(day, unit)
        whole = _one(key)
        last = min(whole.end, span.end)
        under_way = span.full is not None and last == span.end < whole.end
        out.append(Span(day, last, key, full=whole if under_way else None))
        day = last + timedelta(days=1)
    return out


@lru_cache(maxsize=200_000)
def local_date(instant: str, zone: tzinfo) -> date:
    """The business date of an ISO instant (with offset) in `zone`."""
    return parse_instant(instant).astimezone(zone).date()


def parse_instant(value: str) -> datetime:
    """An ISO instant; a bare date means its midnight in UTC, a naive time is UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def to_utc(value: str) -> str:
    """One sortable spelling of an instant: UTC with microseconds."""
    if len(value) == 32 and value.endswith("+00:00") and value[19] == ".":
        return value  # already in that spelling (what the log mostly holds)
    if len(value) == 25 and value.endswith("+00:00") and value[10] == "T":
        return f"{value[:19]}.000000+00:00"  # a whole second (isoformat drops the zeros)
    return parse_instant(value).astimezone(UTC).isoformat(timespec="microseconds")


def start_of(day: date, zone: tzinfo) -> str:
    """The UTC instant at which `day` begins in `zone`, sortable like `to_utc`."""
    local = datetime(day.year, day.month, day.day, tzinfo=zone)
    return local.astimezone(UTC).isoformat(timespec="microseconds")


def days_inclusive(first: str, last: str, zone: tzinfo) -> int:
    """Calendar days from one instant to another in `zone`; the same day counts as 1."""
    return (local_date(last, zone) - local_date(first, zone)).days + 1


def hours_between(first: str, last: str) -> float:
    return (parse_instant(last) - parse_instant(first)).total_seconds() / 3600
