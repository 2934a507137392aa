"""Importing existing requests from CSV through intake's real commands, at their real times.

Two column sets are understood (see the README): Railyard's own (`key`, `title`,
`department`, `submitted_at`, ...) and the common Jira export (`Issue key`, `Summary`,
`Created`, `Resolved`, `Status`, `Fix Version/s`). Every step of a row (submit, accept,
deliver, ...) runs as a use case with the row's original time as business time and an
idempotency key derived from the external key, stored in the log's transaction: a
second import of the same file finds every step already recorded and imports nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from itertools import pairwise
from pathlib import Path

from railyard.import_dates import DATE_COLUMNS, day_month_order, parse_time
from services.intake.domain import MAX_TITLE
from shared.domain import InvalidCommand
from shared.settings import Settings

IMPORT_SCOPE = "import"
STATES = ("submitted", "accepted", "delivered", "rejected", "withdrawn", "deferred")
CATEGORIES = ("business_project", "it_project", "change_maintenance", "unplanned")
SIZES = ("XS", "S", "M", "L", "XL")
MAX_POINTS = 1000  # as triage takes them (the intake API's size_points)

JIRA_STATUS = {
    "done": "delivered", "closed": "delivered", "resolved": "delivered",
    "released": "delivered", "deployed": "delivered",
    "won't do": "rejected", "won't fix": "rejected", "rejected": "rejected",
    "declined": "rejected", "duplicate": "rejected", "cancelled": "withdrawn",
    "canceled": "withdrawn", "withdrawn": "withdrawn",
    "in progress": "accepted", "in review": "accepted", "in qa": "accepted",
    "in development": "accepted", "selected for development": "accepted",
    "approved": "accepted", "accepted": "accepted", "ready": "accepted",
    "to do": "submitted", "open": "submitted", "backlog": "submitted", "new": "submitted",
    "submitted": "submitted", "deferred": "deferred", "on hold": "deferred",
    # Open-source trackers (Apache and the like) and Jira Service Management:
    "reopened": "accepted", "patch available": "accepted", "code review": "accepted",
    "in testing": "accepted", "testing": "accepted", "ready for qa": "accepted",
    "ready for review": "accepted", "blocked": "accepted", "verified": "delivered",
    "complete": "delivered", "completed": "delivered", "fixed": "delivered",
    "invalid": "rejected", "abandoned": "withdrawn", "needs triage": "submitted",
    "triage": "submitted", "pending": "submitted", "waiting for support": "submitted",
    "waiting for customer": "submitted", "under review": "submitted",
}  # fmt: skip
# A generic closing status (Done, Closed, Resolved) says only that the issue was closed;
# Jira's Resolution says how. Apache-style trackers close everything as Closed or Resolved
# and put Won't Fix or Duplicate there, so with a resolution given it decides.
JIRA_RESOLUTION = {
    "fixed": "delivered", "done": "delivered", "resolved": "delivered",
    "implemented": "delivered", "delivered": "delivered", "complete": "delivered",
    "completed": "delivered",
    "won't fix": "rejected", "won't do": "rejected", "won't implement": "rejected",
    "duplicate": "rejected", "invalid": "rejected", "not a problem": "rejected",
    "not a bug": "rejected", "cannot reproduce": "rejected", "works as designed": "rejected",
    "works as intended": "rejected", "incomplete": "rejected", "declined": "rejected",
    "rejected": "rejected", "abandoned": "withdrawn", "cancelled": "withdrawn",
    "canceled": "withdrawn", "withdrawn": "withdrawn", "later": "deferred",
    "postponed": "deferred",
}  # fmt: skip
UNRESOLVED = {"", "unresolved", "none"}
# Jira writes a multi-valued field as the same column repeated; these keep every value.
JIRA_LISTS = {"component/s", "fix version/s"}
JIRA_TYPES = {"epic": "business_project", "bug": "unplanned", "incident": "unplanned"}
JIRA_FOOTER = re.compile(r"^Generated at .* using JIRA ", re.IGNORECASE)
"""The line Jira Server's CSV export ends with ("Generated at Sat Mar 22 10:53:30 UTC 2014
by ... using JIRA 6.2#6252-sha1:..."): not an issue."""
ENDED = {"delivered": "is delivered", "rejected": "is rejected", "withdrawn": "is withdrawn"}
"""How an issue that ended is imported: each at its Resolved date."""


@dataclass(frozen=True)
class Defaults:
    """What a row may leave out, given on the command line."""

    department: str | None = None
    subsystem: str | None = None
    owner: str | None = None
    category: str = "change_maintenance"
    size_points: int = 3


@dataclass
class Row:
    """One request to import, validated: what happened to it, and when."""

    line: int
    key: str
    title: str
    department: str
    category: str
    subsystems: list[str]
    size_estimate: str
    status: str
    submitted_at: datetime
    requester: str
    description: str
    owner: str | None = None
    size_points: int = 3
    accepted_at: datetime | None = None
    delivered_at: datetime | None = None
    closed_at: datetime | None = None
    rating: int | None = None
    rated_at: datetime | None = None
    fix_version: str | None = None
    steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the import changed of the row as written (a title shortened)."""


Record = tuple[int, list[str], dict[str, str]]
"""A row as the file writes it: its line, its values, and its cells by column."""


@dataclass(frozen=True)
class Rejected:
    line: int
    key: str
    reason: str


# The short names of Jira's columns (as the issue tracker's docs and hand-made exports write
# them) read as the export's own.
JIRA_ALIASES = {"key": "issue key", "fix version": "fix version/s", "fix versions": "fix version/s"}


def detect(header: list[str]) -> str:
    names = {h.strip().casefold() for h in header}
    if {"summary", "created", "status"} <= names and names & {"issue key", "key"}:
        return "jira"
    if {"key", "title", "submitted_at"} <= names:
        return "railyard"
    raise InvalidCommand(
        "unknown_columns",
        "the header is neither Railyard's columns (key, title, department, submitted_at, ...)"
        " nor a Jira export (Issue key, Summary, Created, Resolved, Status, Fix Version/s)",
    )


class Reader:
    """Turns CSV lines into validated rows or rejections with a reason."""

    def __init__(
        self,
        settings: Settings,
        defaults: Defaults,
        now: datetime | None = None,
        month_first: bool = False,
        encoding: str = "utf-8",
    ) -> None:
        self.zone = settings.zone
        self.encoding = _codec(encoding)
        """The file's character encoding (UTF-8, with or without a byte-order mark)."""
        self.catalogue = {s.casefold(): s for s in settings.subsystems}
        self.defaults = defaults
        if defaults.subsystem and defaults.subsystem.strip().casefold() not in self.catalogue:
            # Refused once, before any row, rather than as every row without a subsystem.
            raise InvalidCommand(
                "unknown_subsystem",
                f"--subsystem {defaults.subsystem!r} is not in the catalogue, {self._listed()}",
            )
        if defaults.category not in CATEGORIES:
            raise InvalidCommand(
                "unknown_category",
                f"--category {defaults.category!r} is not one of {', '.join(CATEGORIES)}",
            )
        self.month_first = month_first
        """Numeric dates are month/day/year (`--month-first`), not day/month/year."""
        self.now = now
        """No date may come after it (default: the clock's now): the log holds nothing
        still to come, and an import must not make it."""
        self.columns: dict[str, str] = {}
        """Each column's name as the file writes it, by its case-folded name."""
        self.notes: list[str] = []
        """What the last file read says as a whole (a column missing, a line skipped)."""

    def _records(self, path: Path) -> tuple[str, list[Record]]:
        """The file's kind and its rows' cells, by line; blank lines and Jira's footer left out."""
        text = self._text(path)
        with io.StringIO(text, newline="") as handle:
            reader = csv.reader(handle, delimiter=_delimiter(text))
            header = next(reader, None)
            if header is None:
                raise InvalidCommand("empty_file", f"{path} is empty")
            kind = detect(header)
            self.notes = []
            self.columns = {}
            for name in header:
                self.columns.setdefault(name.strip().casefold(), name.strip())
            if kind == "jira":
                header = [JIRA_ALIASES.get(h.strip().casefold(), h) for h in header]
                if "resolved" not in {h.strip().casefold() for h in header}:
                    self.notes.append(
                        "the file has no Resolved column: an issue that ended (Done, Closed,"
                        " Won't Fix, ...) cannot be dated and is rejected; export Resolved too"
                    )
            records: list[Record] = []
            ended = reader.line_num
            for values in reader:
                # The line a row begins on, as an editor numbers it: a quoted cell may
                # hold line breaks, so rows and lines part ways.
                line, ended = ended + 1, reader.line_num
                if not any(v.strip() for v in values):
                    continue
                if kind == "jira" and _footer(values):
                    self.notes.append(f"line {line} is Jira's footer (Generated at ...): skipped")
                    continue
                records.append((line, values, _cells(header, values)))
        return kind, records

    def _text(self, path: Path) -> str:
        """The file decoded, or refused naming the first line that is not in its encoding."""
        data = path.read_bytes()
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            named = "UTF-8" if self.encoding == "utf-8-sig" else self.encoding
            advice = (
                "a spreadsheet on Windows saves CSV as cp1252: give --encoding cp1252 (or"
                ' latin-1), or save it as "CSV UTF-8"'
                if self.encoding == "utf-8-sig"
                else "give the --encoding the file was saved in"
            )
            raise InvalidCommand(
                "not_in_encoding",
                f"line {line} of {path} is not {named} (byte 0x{data[exc.start]:02X} at"
                f" column {column}): {advice}",
            ) from None

    def read(self, path: Path) -> Iterator[Row | Rejected]:
        kind, records = self._records(path)
        # The whole file tells a numeric date's order (31/12 or 12/31), before any row.
        dates = (
            (line, self.columns.get(name, name), cells[name])
            for line, _, cells in records
            for name in DATE_COLUMNS
            if name in cells
        )
        if note := day_month_order(dates, self.month_first):
            self.notes.append(note)
        seen: set[str] = set()
        for line, values, cells in records:
            key = (cells.get("issue key") or cells.get("key") or "").strip()
            try:
                if any("\x00" in v for v in values):
                    raise InvalidCommand(
                        "nul_character", "a cell holds the NUL character, which no text may"
                    )
                if not key:
                    raise InvalidCommand("key_required", "every row needs its external key")
                if key.casefold() in seen:
                    raise InvalidCommand("key_repeated", f"{key} appears twice in the file")
                seen.add(key.casefold())
                yield (
                    self._jira(line, key, cells) if kind == "jira" else self._own(line, key, cells)
                )
            except InvalidCommand as exc:
                yield Rejected(line, key, f"{exc.detail} ({exc.rule})")

    def _time(self, cells: Mapping[str, str], name: str) -> datetime | None:
        value = (cells.get(name) or "").strip()
        if not value:
            return None
        try:
            at = parse_time(value, self.zone, self.month_first)
        except InvalidCommand as exc:
            raise InvalidCommand(exc.rule, f"{self.columns.get(name, name)} {exc.detail}") from None
        now = self.now or datetime.now(UTC)
        if at > now:
            raise InvalidCommand(
                "date_in_future",
                f"{self.columns.get(name, name)} {value!r} is after now"
                f" ({now.astimezone(self.zone):%Y-%m-%d %H:%M %Z}):"
                " the log holds nothing still to come",
            )
        return at

    def _listed(self) -> str:
        return f"which holds {', '.join(self.catalogue.values())}"

    def _subsystems(self, text: str) -> list[str]:
        names = [n.strip() for n in text.replace("|", ";").replace(",", ";").split(";")]
        given = [n for n in names if n]
        if not given and self.defaults.subsystem:
            given = [self.defaults.subsystem.strip()]
        if not given:
            raise InvalidCommand("subsystem_required", "no subsystem (give --subsystem)")
        unknown = [n for n in given if n.casefold() not in self.catalogue]
        if unknown:
            named = ", ".join(repr(n) for n in unknown)
            raise InvalidCommand(
                "unknown_subsystem",
                f"{named} {'is' if len(unknown) == 1 else 'are'} not in the catalogue,"
                f" {self._listed()}",
            )
        return [self.catalogue[n.casefold()] for n in given]

    def _own(self, line: int, key: str, cells: Mapping[str, str]) -> Row:
        status = (cells.get("status") or "").strip().casefold() or "submitted"
        if status not in STATES:
            raise InvalidCommand(
                "unknown_status", f"status {status!r} is not one of {', '.join(STATES)}"
            )
        category = (cells.get("category") or self.defaults.category).strip()
        if category not in CATEGORIES:
            raise InvalidCommand(
                "unknown_category", f"category {category!r} is not one of {', '.join(CATEGORIES)}"
            )
        size = (cells.get("size_estimate") or "M").strip().upper()
        if size not in SIZES:
            raise InvalidCommand("unknown_size", f"size {size!r} is not one of {', '.join(SIZES)}")
        rating = (cells.get("rating") or "").strip()
        row = self._row(
            line, key, cells.get("title") or "", cells.get("department"), category,
            cells.get("subsystems") or "", size, status, cells, cells.get("description") or "",
            cells.get("requester"),
        )  # fmt: skip
        row.accepted_at = self._time(cells, "accepted_at")
        row.delivered_at = self._time(cells, "delivered_at")
        row.closed_at = self._time(cells, "closed_at")
        row.rated_at = self._time(cells, "rated_at")
        row.owner = (cells.get("owner") or "").strip() or self.defaults.owner
        row.size_points = _points(cells.get("size_points")) or self.defaults.size_points
        if rating:
            if rating not in {"1", "2", "3", "4", "5"}:
                raise InvalidCommand("rating_out_of_range", "a rating is 1 to 5")
            row.rating = int(rating)
        return self._checked(row)

    def _jira(self, line: int, key: str, cells: Mapping[str, str]) -> Row:
        raw = (cells.get("status") or "").strip()
        status = JIRA_STATUS.get(raw.casefold())
        if status is None:
            raise InvalidCommand("unknown_status", f"Jira status {raw!r} has no mapping")
        resolution = (cells.get("resolution") or "").strip()
        if status == "delivered" and resolution.casefold() not in UNRESOLVED:
            status = JIRA_RESOLUTION.get(resolution.casefold(), "")
            if not status:
                raise InvalidCommand(
                    "unknown_resolution", f"Jira resolution {resolution!r} has no mapping"
                )
        kind = (cells.get("issue type") or "").strip().casefold()
        row = self._row(
            line, key, cells.get("summary") or "", cells.get("department"),
            JIRA_TYPES.get(kind, self.defaults.category), cells.get("component/s") or "", "M",
            status, cells, cells.get("description") or "", cells.get("reporter"),
        )  # fmt: skip
        row.fix_version = (cells.get("fix version/s") or "").strip() or None
        resolved = self._time(cells, "resolved")
        row.owner = self.defaults.owner
        row.size_points = self.defaults.size_points
        if status in ("accepted", "delivered"):
            row.accepted_at = row.submitted_at  # Jira does not say when work was accepted
        if status in ENDED and resolved is None:
            # Dated at its creation instead, a Won't Fix would end the day it was raised.
            how = f" resolved as {resolution}" if resolution.casefold() not in UNRESOLVED else ""
            raise InvalidCommand(
                "resolved_required",
                f"a {raw} issue{how} {ENDED[status]} at its Resolved date, and this row has none",
            )
        if status == "delivered":
            row.delivered_at = resolved
        elif status in ("rejected", "withdrawn", "deferred"):
            row.closed_at = resolved  # a deferral without one: parked when it was raised
        return self._checked(row)

    def _row(
        self,
        line: int,
        key: str,
        title: str,
        department: str | None,
        category: str,
        subsystems: str,
        size: str,
        status: str,
        cells: Mapping[str, str],
        description: str,
        requester: str | None,
    ) -> Row:
        if not title.strip():
            raise InvalidCommand("title_required", "the title (Summary) is empty")
        dept = (department or "").strip() or self.defaults.department
        if not dept:
            raise InvalidCommand("department_required", "no department (give --department)")
        submitted = self._time(cells, "created") or self._time(cells, "submitted_at")
        if submitted is None:
            raise InvalidCommand("submitted_at_required", "no submission time (Created)")
        row = Row(
            line=line, key=key, title=title.strip()[:MAX_TITLE], department=dept,
            category=category, subsystems=self._subsystems(subsystems), size_estimate=size,
            status=status, submitted_at=submitted,
            requester=(requester or "").strip() or "import", description=description.strip(),
        )  # fmt: skip
        if len(title.strip()) > MAX_TITLE:
            row.notes.append(f"title shortened to {MAX_TITLE} characters")
        return row

    def _checked(self, row: Row) -> Row:
        needs_owner = row.status in ("accepted", "delivered")
        if needs_owner and not row.owner:
            raise InvalidCommand("owner_required", "accepted work needs an IT owner (--owner)")
        if row.status == "delivered" and row.delivered_at is None:
            raise InvalidCommand("delivered_at_required", "delivered work needs its date")
        _in_order(row)
        if row.rating is not None and row.status != "delivered":
            raise InvalidCommand("rating_before_delivery", "only delivered work is rated")
        row.steps = ["submit"]
        if needs_owner:
            row.steps.append("accept")
        if row.status in ("delivered", "rejected", "withdrawn", "deferred"):
            row.steps.append(
                {"delivered": "deliver", "rejected": "reject"}.get(row.status, row.status)
            )
        if row.rating is not None:
            row.steps.append("rate")
        return row


def _codec(name: str) -> str:
    """A codec Python knows by that name; UTF-8 reads past a byte-order mark (Excel's)."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise InvalidCommand(
            "unknown_encoding",
            f"--encoding {name!r} is not an encoding: utf-8 (the default), cp1252 or latin-1"
            " (a spreadsheet on Windows), utf-16, ...",
        ) from None
    return "utf-8-sig" if codec in ("utf-8", "utf-8-sig") else codec


def _delimiter(text: str) -> str:
    """What separates the header's columns: a comma, or, in a spreadsheet's CSV saved
    where the comma writes decimals (much of Europe), a semicolon; or a tab."""
    header = text.partition("\n")[0]
    return max((",", ";", "\t"), key=header.count)


def _points(text: str | None) -> int | None:
    """A row's size in points (as triage gives them, 1 to 1000), None if it gives none."""
    value = (text or "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_POINTS:
        raise InvalidCommand(
            "size_points_invalid", f"size_points {value!r} is not a whole number 1 to {MAX_POINTS}"
        )
    return int(value)


def _in_order(row: Row) -> None:
    """Each step no earlier than the one before it (submitted, accepted, delivered, rated;
    closed after submitted), else refused naming the two dates."""
    steps = [("submitted", row.submitted_at), ("accepted", row.accepted_at),
             ("delivered", row.delivered_at), ("rated", row.rated_at)]  # fmt: skip
    known = [(name, at) for name, at in steps if at is not None]
    pairs = list(pairwise(known))
    if row.closed_at is not None:
        pairs.append((("submitted", row.submitted_at), ("closed", row.closed_at)))
    for (first, before), (then, after) in pairs:
        if after < before:
            raise InvalidCommand(
                "dates_out_of_order",
                f"{then} {after:%Y-%m-%d %H:%M} is before {first} {before:%Y-%m-%d %H:%M}",
            )


def _footer(values: list[str]) -> bool:
    """Whether a line is Jira Server's footer: its first cell says so, the others are empty."""
    first, rest = (values[0] if values else ""), values[1:]
    return bool(JIRA_FOOTER.match(first.strip())) and not any(v.strip() for v in rest)


def _cells(header: list[str], values: list[str]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for name, value in zip(header, values, strict=False):
        # Jira repeats a column for a multi-valued field (several Component/s): a list
        # keeps every value, `;`-separated; any other column its first non-empty one.
        key = name.strip().casefold()
        if not value.strip():
            continue
        if not cells.get(key):
            cells[key] = value.strip()
        elif key in JIRA_LISTS:
            cells[key] = f"{cells[key]}; {value.strip()}"
    return cells


def today_in(zone: tzinfo) -> date:
    return datetime.now(zone).date()
