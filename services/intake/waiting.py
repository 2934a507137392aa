"""What of intake waits for a person, on their start page: the triage queue for the release
manager; answers and ratings for a department's requester; the open requests an IT owner
holds. Each opens the list that shows the same requests."""

from __future__ import annotations

from urllib.parse import urlencode

from services.intake.domain import Status
from services.intake.filters import RequestFilter
from services.intake.open_titles import OPEN
from services.intake.views import IntakeViews
from shared.identity.domain import Principal, Role
from shared.platform import Waiting, WaitingFor


def _requests(**asked: str) -> str:
    """The Requests page listing what `asked` filters."""
    return "/requests?" + urlencode(asked)


def _triage_detail(waiting: list[int], target: int) -> str:
    """ "the longest waiting 12 days, 3 past the 5-day triage target" (days as the triage
    page counts them: both the first and today)."""
    if not waiting:
        return ""
    longest, late = max(waiting), sum(days > target for days in waiting)
    said = f"the longest waiting {longest} day{'' if longest == 1 else 's'}"
    return f"{said}, {late} past the {target}-day triage target" if late else said


def waiting_in_intake(views: IntakeViews) -> WaitingFor:
    def count(f: RequestFilter) -> int:
        return views.find(f, limit=1).total

    def waiting(principal: Principal) -> list[Waiting]:
        found: list[Waiting] = []
        if principal.has(Role.RELEASE_MANAGER):
            queue = views.triage_queue()
            target = views.triage_target_days
            found.append(
                Waiting(
                    len(queue),
                    "request awaits triage",
                    "requests await triage",
                    "/triage",
                    _triage_detail([r["waiting_days"] for r in queue], target),
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
                    _requests(status=Status.INFO_REQUESTED.value, department=department),
                    "triage asked a question; your answer returns it to triage",
                ),
                Waiting(
                    count(to_rate),
                    f"delivered {department} request to rate",
                    f"delivered {department} requests to rate",
                    _requests(status=Status.DELIVERED.value, department=department, rating="none"),
                ),
            ]
        if principal.has(Role.IT_STAFF, Role.RELEASE_MANAGER):
            owned = RequestFilter(status=tuple(s.value for s in OPEN), owner=principal.username)
            found.append(
                Waiting(
                    count(owned),
                    "open request has you as its IT owner",
                    "open requests have you as their IT owner",
                    _requests(owner=principal.username),
                )
            )
        return found

    return waiting
