"""What of change control waits for a person, on their start page: the changes a CAB
member may still approve and the reviews they may still record (the CAB queue), and the
approved or under-way changes a person raised or implements. Each opens the list that
shows the same changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from services.change_control.domain import Status
from services.change_control.domain.values import ChangeType, Window, instant
from services.change_control.views import ChangeControlViews, ChangeFilter
from services.change_control.views.board import OPEN, awaiting, owes_review
from shared.identity.domain import IT_ROLES, Principal, Role
from shared.platform import Waiting, WaitingFor
from shared.words import words


def _reviewed_for(change: dict[str, Any]) -> str:
    """Why one change is owed a review: "CHG-7 Swap the load balancer: rolled back"."""
    why = words(change["outcome"] or "")
    if change["change_type"] == ChangeType.EMERGENCY:
        why = f"an emergency, {why}" if why != "succeeded" else "an emergency"
    return f"{change['reference']} {change['title']}: {why}"


def _window_said(change: dict[str, Any], whose: str, when: Callable[[str | None], str]) -> str:
    """When an approved change may start: its window opens, is open, or has closed."""
    phase = Window(instant(change["window_start"]), instant(change["window_end"])).phase(
        datetime.now(UTC)
    )
    if phase == "before":
        return f"{whose} window opens {when(change['window_start'])}"
    if phase == "open":
        return f"{whose} window opened {when(change['window_start'])}: it may start now"
    return f"{whose} window closed {when(change['window_end'])}: revise it to a new window"


def waiting_in_change_control(
    views: ChangeControlViews, when: Callable[[str | None], str]
) -> WaitingFor:
    """`when`: an instant as the pages write it (business time)."""

    def theirs(principal: Principal, status: Status, one: str, many: str) -> Waiting:
        f = ChangeFilter(status=(status.value,), person=principal.username)
        # Only the approved ones are read through, for their windows; else the count.
        changes, total = views.find(f, limit=1_000 if status == Status.APPROVED else 1)
        address = urlencode({"status": status.value, "person": principal.username})
        detail = ""
        if status == Status.APPROVED:  # when the first of them may start
            windowed = [c for c in changes if c["window_start"]]
            first = min(windowed, key=lambda c: str(c["window_start"]), default=None)
            if first is not None:
                detail = _window_said(first, "its" if total == 1 else "the first", when)
        return Waiting(total, one, many, f"/changes?{address}", detail)

    def waiting(principal: Principal) -> list[Waiting]:
        found: list[Waiting] = []
        if principal.has(Role.CAB_MEMBER):
            # One read of the open changes for both: completed ones are open until reviewed.
            changes, _ = views.find(ChangeFilter(status=OPEN), limit=10_000)
            count = sum(awaiting(c, principal.username) is not None for c in changes)
            due = [c for c in changes if owes_review(c, principal.username)]
            found.append(
                Waiting(
                    count,
                    "production change awaits your approval",
                    "production changes await your approval",
                    "/cab",
                )
            )
            found.append(
                Waiting(
                    len(due),
                    "completed change awaits your post-implementation review",
                    "completed changes await your post-implementation review",
                    "/cab#reviews",
                    _reviewed_for(due[0]) if len(due) == 1 else "",
                )
            )
        if principal.has(*IT_ROLES):
            found += [
                theirs(
                    principal,
                    Status.APPROVED,
                    "approved change of yours awaits its start",
                    "approved changes of yours await their start",
                ),
                theirs(
                    principal,
                    Status.IMPLEMENTING,
                    "change of yours is under way: record how it ended",
                    "changes of yours are under way: record how they ended",
                ),
            ]
        return found

    return waiting
