"""A list page's question, read from its address: filters chosen among known values or
typed, and a page number. What cannot be read is named (`errors`) and set aside, and the
page answers the rest: an address is typed, pasted and kept in bookmarks, so a stale or
mistyped one deserves a sentence, not a 422."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from shared.web.rendering import label
from shared.words import words

PAGE_SIZE = 50
LAST_PAGE = 100_000


@dataclass(frozen=True)
class Statuses:
    """A list's status filter: the open ones (the default), the closed ones, every one,
    or one alone."""

    every: tuple[str, ...]
    closed: frozenset[str]
    closed_key: str
    """What the closed ones are called: "closed", "ended"."""

    @classmethod
    def of(cls, every: Iterable[str], closed: Collection[str], closed_key: str) -> Statuses:
        return cls(tuple(every), frozenset(closed), closed_key)

    def choices(self) -> list[tuple[str, str]]:
        named = [
            ("open", "Open"),
            (self.closed_key, label(self.closed_key)),
            ("all", "Every status"),
        ]
        return named + [(s, label(s)) for s in self.every]

    def chosen(self, key: str) -> tuple[str, ...]:
        """The statuses a choice stands for (none: every one)."""
        if key == "open":
            return tuple(s for s in self.every if s not in self.closed)
        if key == self.closed_key:
            return tuple(s for s in self.every if s in self.closed)
        return () if key == "all" else (key,)

    def read(self, asked: Listing, what: str) -> tuple[str, ...]:
        """The statuses `asked` names ("status"); an unknown one is named, and the list's
        default shown (open ones, unless the list says otherwise)."""
        default = asked.defaults.get("status", "open")
        instead = f"{words(default)} {what}"
        key = asked.choice("status", (k for k, _ in self.choices()), "status", instead)
        return self.chosen(key)


class Listing:
    """Read each filter with `choice` or `text`; `address` gives this list's address with
    some of its parts changed (a page, a person), leaving out what is at its default."""

    def __init__(
        self, base: str, params: Mapping[str, str], defaults: Mapping[str, str] | None = None
    ) -> None:
        self.base = base
        self.defaults = dict(defaults or {})
        self.values: dict[str, str] = {}
        self.errors: list[str] = []
        self._params = params
        given = params.get("page", "").strip() or "1"
        self.page = 1
        if given.isdigit() and 1 <= int(given) <= LAST_PAGE:
            self.page = int(given)
        else:
            self.errors.append(f"“{given[:20]}” is not a page number: showing the first page.")

    def choice(self, name: str, known: Iterable[str], what: str, instead: str) -> str:
        """One of `known` (matched whatever its case, spelled as known), else the default;
        an unknown value is named: "There is no {what} “x”: showing {instead}."."""
        given = self._params.get(name, "").strip()
        value = self.defaults.get(name, "")
        if given:
            spelled = {k.casefold(): k for k in known}
            if given.casefold() in spelled:
                value = spelled[given.casefold()]
            else:
                self.errors.append(f"There is no {what} “{given[:100]}”: showing {instead}.")
        self.values[name] = value
        return value

    def day(self, name: str, instead: str) -> date | None:
        """A calendar day written YYYY-MM-DD (a date field's value), else None; anything
        else is named: "“x” is not a date (YYYY-MM-DD): showing {instead}."."""
        given = self._params.get(name, "").strip()
        self.values[name] = ""
        if not given:
            return None
        try:
            day = date.fromisoformat(given)
            if day.isoformat() != given:  # 20260301 and 2026-W09-1 are ISO too
                raise ValueError(given)
        except ValueError:
            self.errors.append(f"“{given[:40]}” is not a date (YYYY-MM-DD): showing {instead}.")
            return None
        self.values[name] = given
        return day

    def days(
        self, first: str, last: str, what: str, instead: str
    ) -> tuple[date | None, date | None]:
        """Two days bounding a range of `what` ("delivery dates"), each read by `day`;
        given the wrong way round, they are swapped and that is said."""
        low, high = self.day(first, instead), self.day(last, instead)
        if low is not None and high is not None and low > high:
            low, high = high, low
            self.values[first], self.values[last] = low.isoformat(), high.isoformat()
            self.errors.append(
                f"The {what} were the wrong way round: showing {low.isoformat()}"
                f" to {high.isoformat()}."
            )
        return low, high

    def text(self, name: str, longest: int) -> str:
        value = self._params.get(name, "").strip()[:longest]
        self.values[name] = value
        return value

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    @staticmethod
    def pages(total: int) -> int:
        return max(1, -(-total // PAGE_SIZE))

    def address(self, *, at: str | None = None, **changed: str | int) -> str:
        """`at`: another address with the same question (the list's CSV file)."""
        parts: dict[str, str | int] = {**self.values, "page": self.page, **changed}
        kept = {
            k: v
            for k, v in parts.items()
            if v and v != self.defaults.get(k, "") and not (k == "page" and v == 1)
        }
        return (at or self.base) + (f"?{urlencode(kept)}" if kept else "")

    def csv_address(self) -> str:
        """The same list, every page of it, as a CSV file (`{base}.csv`)."""
        return self.address(at=f"{self.base}.csv", page=1)


EXPORT_CHUNK = 1_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet would run as a formula: a cell typed by a person (a title) that
starts so is written with a leading apostrophe, as spreadsheets mark text."""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def csv_download(
    name: str,
    columns: Sequence[tuple[str, str]],
    page: Callable[[int, int], tuple[list[dict[str, Any]], int]],
) -> Response:
    """Every row `page(limit, offset)` gives, a chunk at a time, as `name-<date>.csv`:
    `columns` are (heading, key) pairs."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([heading for heading, _ in columns])
    offset, total = 0, 1
    while offset < total:
        rows, total = page(EXPORT_CHUNK, offset)
        if not rows:
            break
        writer.writerows([_cell(row.get(key)) for _, key in columns] for row in rows)
        offset += len(rows)
    filename = f"{name}-{date.today().isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
