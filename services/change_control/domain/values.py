"""The basic values of change control: kinds of change, outcomes, instants and windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from shared.domain import InvalidCommand, business_now

MAX_WINDOW = timedelta(days=31)
MAX_COMMENT = 5_000


class ChangeType(StrEnum):
    RELEASE_DEPLOYMENT = "release_deployment"
    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


def now() -> datetime:
    """Business time when history is imported or simulated, else the clock."""
    return business_now() or datetime.now(UTC)


def instant(value: str) -> datetime:
    """An ISO instant; one without an offset (or a bare date) is read as UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    """Instants are stored in UTC to the second, so their ISO strings compare as the
    times do (the views compare windows in SQL)."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Window:
    """A planned period [start, end): when a change may be implemented, or a blackout."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None) -> Window | None:
        """A checked window, or None when neither end is given (to be planned later)."""
        if start is None and end is None:
            return None
        if start is None or end is None:
            raise InvalidCommand("window_incomplete", "a window has both a start and an end")
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidCommand("window_without_time_zone", "give window times with an offset")
        window = cls(instant(iso(start)), instant(iso(end)))
        if window.end <= window.start:
            raise InvalidCommand(
                "window_end_before_start",
                "the window ends before it starts: give an end after the start",
            )
        if window.end - window.start > MAX_WINDOW:
            raise InvalidCommand(
                "window_too_long", f"a window lasts at most {MAX_WINDOW.days} days"
            )
        return window

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Window | None:
        if start is None or end is None:
            return None
        return cls(instant(start), instant(end))

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def phase(self, at: datetime) -> str:
        """Where `at` stands against it: `before` it opens, `open`, or `after` it closed."""
        if at < self.start:
            return "before"
        return "open" if at < self.end else "after"

    def shut_at(self, at: datetime) -> str:
        """Why nothing starts in it at `at` (not yet open, or closed), as anyone reads it
        wherever they are: "it starts in its window, which opens 2026-12-09 22:00 UTC"."""
        if self.phase(at) == "before":
            return f"it starts in its window, which opens {_utc(self.start)}; it is {_utc(at)}"
        return f"its window closed {_utc(self.end)}: revise it to a new window to start it"

    @property
    def start_iso(self) -> str:
        return iso(self.start)

    @property
    def end_iso(self) -> str:
        return iso(self.end)


def text(value: str, name: str, limit: int, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidCommand(f"{name}_required", f"{name.replace('_', ' ')} is required")
    if len(value) > limit:
        raise InvalidCommand(
            f"{name}_too_long", f"{name.replace('_', ' ')} is longer than {limit} characters"
        )
    return value


def catalogued(values: Sequence[str], catalogue: Sequence[str]) -> list[str]:
    """Subsystems in the catalogue's spelling, each once; at least one."""
    known = {name.casefold(): name for name in catalogue}
    chosen: list[str] = []
    for value in values:
        name = known.get(value.strip().casefold())
        if name is None:
            raise InvalidCommand(
                "unknown_subsystem",
                f"{value!r} is not in the subsystem catalogue",
                catalogue=list(catalogue),
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InvalidCommand("subsystem_required", "name at least one affected subsystem")
    return chosen


def _utc(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
