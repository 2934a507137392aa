"""A revision's line in a change's history, naming what it changed (the window, title,
subsystems, implementers and risk from and to; a plan's text only as changed), so that
the CAB approving it again knows what it approves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from services.change_control.domain.plans import LONG_FIELDS, PLAN_FIELDS
from shared.words import words

NAMES = {
    "affected_users": "users affected",
    "required_approvals": "approvals needed",
    "operations_approver_required": "operations approver needed",
}
"""A field's name where its code's words would not say it."""
WINDOW = ("window_start", "window_end")


def changes_named(
    d: Mapping[str, Any], before: Mapping[str, Any] | None = None, zone: tzinfo = UTC
) -> str:
    """'window end from 15 Dec 2026 18:00 to 19:00 UTC; implementation plan changed'.

    A revision recorded before revisions named their changes is compared with the plan
    before it (`before`, the Raised or Revised event preceding it), when known."""
    changed: Sequence[str] | None = d.get("changed")
    previous: Mapping[str, Any] = d.get("previous") or {}
    if changed is None:
        if before is None:
            return ""
        changed = [k for k in PLAN_FIELDS if k in d and k in before and before[k] != d[k]]
        previous = before
    parts = [
        f"{NAMES.get(k, words(k))} {_from_to(k, previous.get(k), d.get(k), zone)}"
        for k in changed
        if k not in LONG_FIELDS
    ]
    long = [words(k) for k in changed if k in LONG_FIELDS]
    if long:
        listed = ", ".join(long[:-1]) + " and " + long[-1] if len(long) > 1 else long[0]
        parts.append(f"{listed} changed")
    return "; ".join(parts)


def _from_to(field: str, old: Any, new: Any, zone: tzinfo) -> str:
    if field in WINDOW:
        return _window(old, new, zone)
    return f"from {_value(field, old)} to {_value(field, new)}"


def _value(field: str, value: Any) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if field == "title":
        return f"“{value}”"
    return words(value) if isinstance(value, str) else str(value)


def _window(old: str | None, new: str | None, zone: tzinfo) -> str:
    """'from 15 Dec 2026 18:00 to 19:00 UTC': in the business time zone, named once, the
    date said again only when it is another day."""
    first = datetime.fromisoformat(old).astimezone(zone) if old else None
    then = datetime.fromisoformat(new).astimezone(zone) if new else None
    shown = [(a.strftime("%d %b %Y %H:%M").lstrip("0") if a else "none") for a in (first, then)]
    if first and then and first.date() == then.date():
        shown[1] = then.strftime("%H:%M")
    named = then or first
    return f"from {shown[0]} to {shown[1]}" + (f" {named.strftime('%Z')}" if named else "")
