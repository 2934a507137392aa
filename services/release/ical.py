"""The release calendar as iCalendar (RFC 5545): each bundle's deployment window and its
milestones, so release dates land in people's own calendars.

Every event has a stable UID per bundle and milestone, and a SEQUENCE that grows each
time the bundle moves, so a subscribed calendar updates the entry instead of adding a
second one; a cancelled bundle stays in the feed with STATUS:CANCELLED, which tells
clients to remove it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from icalendar import Calendar, Event

from shared.words import count, words

PRODID = "-//Railyard//Release calendar//EN"
MILESTONES = (
    ("scope_freeze_at", "scope-freeze", "Scope freeze"),
    ("code_complete_at", "code-complete", "Code complete"),
    ("qa_start_at", "qa-start", "QA starts"),
)


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _event(bundle: Mapping[str, Any], uid: str, summary: str, start: str, end: str | None) -> Event:
    cancelled = bundle["status"] == "cancelled"
    event = Event()
    event.add("uid", f"{bundle['id']}-{uid}@railyard")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", _utc(start))
    if end is not None:
        event.add("dtend", _utc(end))
    else:
        event.add("transp", "TRANSPARENT")  # a moment to know about, not time to block
    moved = bundle.get("slot_date") not in (None, bundle["deploy_date"])
    event.add(
        "summary",
        f"{summary}: {bundle['name']}"
        + (f" (moved to {bundle['deploy_date']})" if moved else "")
        + (" (cancelled)" if cancelled else ""),
    )
    event.add(
        "description",
        f"Release bundle {bundle['name']} ({words(bundle['status'])}):"
        f" {count(bundle['item_count'], 'request')}, {bundle['load']} of"
        f" {bundle['capacity_points']} points; deploys {bundle['deploy_date']}.",
    )
    event.add("categories", ["Release"])
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    # Moves and the cancellation each supersede what a client has stored.
    event.add("sequence", int(bundle["moves"]) + (1 if cancelled else 0))
    event.add("last-modified", _utc(bundle["updated_at"]))
    return event


def release_calendar(bundles: Sequence[Mapping[str, Any]], name: str) -> bytes:
    """An RFC 5545 calendar of the bundles' deployment windows and milestones."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for bundle in bundles:
        calendar.add_component(
            _event(bundle, "window", "Deployment", bundle["window_start"], bundle["window_end"])
        )
        for field, uid, summary in MILESTONES:
            calendar.add_component(_event(bundle, uid, summary, bundle[field], None))
    document: bytes = calendar.to_ical()
    return document
