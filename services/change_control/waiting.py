"""What of change control waits for a person, on their start page: the changes a CAB
member may still approve (the CAB queue), and the approved or under-way changes a person
raised or implements. Each opens the list that shows the same changes."""

from __future__ import annotations

from urllib.parse import urlencode

from services.change_control.domain import Status
from services.change_control.views import ChangeControlViews, ChangeFilter
from services.change_control.views.board import OPEN, awaiting
from shared.identity.domain import IT_ROLES, Principal, Role
from shared.platform import Waiting, WaitingFor


def waiting_in_change_control(views: ChangeControlViews) -> WaitingFor:
    def theirs(principal: Principal, status: Status, one: str, many: str) -> Waiting:
        f = ChangeFilter(status=(status.value,), person=principal.username)
        _, total = views.find(f, limit=1)
        address = urlencode({"status": status.value, "person": principal.username})
        return Waiting(total, one, many, f"/changes?{address}")

    def waiting(principal: Principal) -> list[Waiting]:
        found: list[Waiting] = []
        if principal.has(Role.CAB_MEMBER):
            changes, _ = views.find(ChangeFilter(status=OPEN), limit=10_000)
            count = sum(awaiting(c, principal.username) is not None for c in changes)
            found.append(
                Waiting(
                    count,
                    "production change awaits your approval",
                    "production changes await your approval",
                    "/cab",
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
