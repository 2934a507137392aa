"""What a list of requests asks for (`RequestFilter`), and the conditions on the requests
view that answer it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from shared.store.sql import escape_like, on_days


@dataclass(frozen=True)
class RequestFilter:
    status: Sequence[str] = ()
    department: str | None = None
    category: str | None = None
    subsystem: str | None = None
    class_of_service: str | None = None
    """Given at acceptance (standard, expedite, fixed_date): the metrics filter of that name."""
    owner: str | None = None
    requester: str | None = None
    text: str | None = None
    number: int | None = None
    delivered_from: date | None = None
    """Delivered on this business day or later (the business time zone's day)..."""
    delivered_to: date | None = None
    """...and on this one or earlier: the requests a metrics period counts as delivered."""
    rated_from: date | None = None
    """Rated (its latest rating) on this business day or later..."""
    rated_to: date | None = None
    """...and on this one or earlier: the ratings a metrics period's satisfaction counts."""
    rating: int | None = None
    """Its latest rating is this score (1-5)."""
    unrated: bool = False
    """Not rated (yet): with status delivered, what its department has still to rate."""


def conditions(f: RequestFilter, zone: tzinfo) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (with its parameters) of the requests view that `f` asks for;
    days are business days of `zone`."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if f.status:
        keys = [f"s{i}" for i in range(len(f.status))]
        clauses.append(f"status IN ({', '.join(':' + k for k in keys)})")
        params.update(dict(zip(keys, f.status, strict=True)))
    for column in ("department", "category", "class_of_service", "owner", "requester"):
        value = getattr(f, column)
        if value:
            clauses.append(f"LOWER({column}) = LOWER(:{column})")
            params[column] = value
    if f.number is not None:
        clauses.append("number = :number")
        params["number"] = f.number
    if f.subsystem:
        clauses.append("LOWER(subsystems) LIKE LOWER(:subsystem) ESCAPE '\\'")
        params["subsystem"] = f"%|{escape_like(f.subsystem)}|%"
    if f.text:
        clauses.append(
            "(LOWER(title) LIKE LOWER(:text) ESCAPE '\\'"
            " OR LOWER(description) LIKE LOWER(:text) ESCAPE '\\')"
        )
        params["text"] = f"%{escape_like(f.text)}%"
    for column, first, last in (
        ("delivered_at", f.delivered_from, f.delivered_to),
        ("rated_at", f.rated_from, f.rated_to),
    ):
        bounds, on = on_days(column, first, last, zone)
        clauses += bounds
        params.update(on)
    if f.rating is not None:
        clauses.append("rating = :rating")
        params["rating"] = f.rating
    if f.unrated:
        clauses.append("rating IS NULL")
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
