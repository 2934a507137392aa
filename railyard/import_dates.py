"""The dates an import reads, and the order of a numeric date's day and month.

ISO 8601 (Railyard's own columns, ServiceNow's default `2024-01-05 10:00:00`), Jira's
`12/Jan/24 3:45 PM`, and numeric dates `05/01/2024`, `05.01.2024` or `05-01-2024`, with
an optional time (`10:00`, `10:00:00`, `10:00 AM`). A numeric date is day/month/year
unless `--month-first` says month/day/year (a US export, or one saved again by a US
spreadsheet). Which it is, the file says: `31/12/2023` can only be day-first and
`12/31/2023` only month-first, so a file holding a date that cannot be read in the order
chosen is refused whole, naming it and the option to use, rather than importing its
other dates in the wrong order. When every numeric date of the file reads either way
(`05/01/2024`), the order chosen decides; without `--month-first` the import says once
how it read them, and how to read them the other way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo

from shared.domain import InvalidCommand

DATE_COLUMNS = (
    "created", "resolved", "submitted_at", "accepted_at", "delivered_at", "closed_at",
    "rated_at",
)  # fmt: skip
"""The columns an import reads a date from (case-folded)."""
NAMED_MONTH_FORMATS = (
    "%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M", "%d/%b/%Y %H:%M",
)  # fmt: skip
"""Jira's own: 12/Jan/24 3:45 PM (and the 24-hour and four-digit-year forms)."""
NUMERIC = re.compile(
    r"(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4})"
    r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"(?:\s*(?P<half>[AaPp][Mm]))?)?"
)
FORMATS_READ = (
    "ISO 8601 (2024-01-05 10:00), Jira's 05/Jan/24 10:00 AM, or a numeric"
    " day/month/year (month/day/year with --month-first)"
)


def parse_time(value: str, zone: tzinfo, month_first: bool = False) -> datetime:
    """One of the formats above; times without an offset are business time (`zone`)."""
    text = value.strip()
    try:
        parsed: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        parsed = _numeric(text, month_first) or _named_month(text)
    if parsed is None:
        raise InvalidCommand("bad_time", f"{value!r} is not a date and time: {FORMATS_READ}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _numeric(text: str, month_first: bool) -> datetime | None:
    match = NUMERIC.fullmatch(text)
    if match is None:
        return None
    first, second = int(match["a"]), int(match["b"])
    day, month = (second, first) if month_first else (first, second)
    hour = int(match["hour"] or 0)
    if match["half"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["half"].upper() == "PM" else 0)
    try:
        return datetime(
            int(match["year"]), month, day, hour, int(match["minute"] or 0),
            int(match["second"] or 0),
        )  # fmt: skip
    except ValueError:
        return None


def _named_month(text: str) -> datetime | None:
    for form in NAMED_MONTH_FORMATS:
        try:
            return datetime.strptime(text, form)  # zone applied by parse_time
        except ValueError:
            continue
    return None


def _order(value: str) -> str | None:
    """'day' when a numeric date can only be day-first, 'month' when only month-first,
    'either' when it reads both ways as two different days, None otherwise."""
    match = NUMERIC.fullmatch(value.strip())
    if match is None:
        return None
    first, second = int(match["a"]), int(match["b"])
    if first > 12 >= second:
        return "day"
    if second > 12 >= first:
        return "month"
    return "either" if first != second and first and second else None


Dated = tuple[int, str, str]
"""A date as the file writes it: its line, its column's name and its text."""


def day_month_order(dates: Iterable[Dated], month_first: bool) -> str | None:
    """Refuses a file whose numeric dates cannot all be read in the order chosen; says,
    as a note, how they were read when neither the file nor `--month-first` tells."""
    first: dict[str, Dated] = {}
    for dated in dates:
        order = _order(dated[2])
        if order is not None:
            first.setdefault(order, dated)
    day, month, either = first.get("day"), first.get("month"), first.get("either")
    if day and month:
        raise InvalidCommand(
            "date_order",
            f"{_where(day)} can only be day/month/year and {_where(month)} only"
            " month/day/year: the file mixes both orders; correct the dates of one",
        )
    if month and not month_first:
        raise InvalidCommand(
            "date_order",
            f"{_where(month)} cannot be day/month/year, as numeric dates are read unless"
            " told: this file's numeric dates are month/day/year; import it with --month-first",
        )
    if day and month_first:
        raise InvalidCommand(
            "date_order",
            f"{_where(day)} cannot be month/day/year, as --month-first reads it: this file's"
            " numeric dates are day/month/year; import it without --month-first",
        )
    if either and not (day or month or month_first):
        read = parse_time(either[2], UTC)
        return (
            "nothing in the file tells whether its numeric dates are day or month first:"
            f" they are read day/month/year ({_where(either)} is {read.day} {read:%B %Y});"
            " if they are month/day/year, give --month-first"
        )
    return None


def _where(dated: Dated) -> str:
    line, column, value = dated
    return f"line {line}'s {column} {value!r}"
