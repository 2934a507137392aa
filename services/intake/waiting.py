"""What of intake waits for a person, on their start page: the triage queue for the release
manager; answers and ratings for a department's requester; the open requests an IT owner
holds. Each opens the list that shows the same requests."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from services.intake.domain import CLOSED, Status
from services.intake.filters import RequestFilter
from services.intake.views import IntakeViews
from shared.identity.domain import Principal, Role
from shared.platform import Waiting, WaitingFor

OPEN = tuple(s.value for s in Status if s not in CLOSED)


def _ago(day: date, today: date) -> str:
    days = (today - day).days
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


def waiting_in_intake(views: IntakeViews) -> WaitingFor:
    def count(f: RequestFilter) -> int:
        return views.find(f, limit=1).total

    def waiting(principal: Principal) -> list[Waiting]:
        found: list[Waiting] = []
        if principal.has(Role.RELEASE_MANAGER):
            today = views.today()
            queue = views.triage_queue(today)
            first = min((r["submitted_at"] for r in queue), default=None)
            oldest = datetime.fromisoformat(first).astimezone(views.zone).date() if first else None
            found.append(
                Waiting(
                    len(queue),
                    "request awaits triage",
                    "requests await triage",
                    "/triage",
                    f"the oldest submitted {_ago(oldest, today)}" if oldest else "",
                )
            )
        department = principal.department
        if principal.has(Role.REQUESTER) and department:
            asked = RequestFilter(status=(Status.INFO_REQUESTED.value,), department=department)
            to_rate = RequestFilter(
                status=(Status.DELIVERED.value,), department=department, unrated=True
            )
            found += [
                Waiting(
                    count(asked),
                    f"{department} request awaits your answer",
                    f"{department} requests await your answer",
                    "/requests?"
                    + urlencode({"status": Status.INFO_REQUESTED.value, "department": department}),
                    "triage asked a question; your answer returns it to triage",
                ),
                Waiting(
                    count(to_rate),
                    f"delivered {department} request to rate",
                    f"delivered {department} requests to rate",
                    "/requests?"
                    + urlencode(
                        {
                            "status": Status.DELIVERED.value,
                            "department": department,
                            "rating": "none",
                        }
                    ),
                ),
            ]
        if principal.has(Role.IT_STAFF, Role.RELEASE_MANAGER):
            owned = RequestFilter(status=OPEN, owner=principal.username)
            found.append(
                Waiting(
                    count(owned),
                    "open request has you as its IT owner",
                    "open requests have you as their IT owner",
                    "/requests?" + urlencode({"owner": principal.username}),
                )
            )
        return found

    return waiting
