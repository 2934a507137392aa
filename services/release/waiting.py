"""What of release waits for the release manager, on their start page: accepted requests
in no bundle yet (the suggested plan places or explains each), and upcoming bundles planned
past their capacity (points, or a subsystem's), which only a replan mends; for the QA
team, the items ready for QA; and for IT owners, their items QA failed."""

from __future__ import annotations

from services.release.domain import Phase, now
from services.release.queries import ReleaseViews
from shared.identity.domain import Principal, Role, Team
from shared.platform import Waiting, WaitingFor

SHIPPED_OR_CLOSED = frozenset({Phase.DEPLOYED, Phase.ROLLED_BACK, Phase.CANCELLED})


def waiting_in_release(views: ReleaseViews) -> WaitingFor:
    def waiting(principal: Principal) -> list[Waiting]:
        found = _for_qa(views) if principal.team == Team.QA else []
        if principal.has(Role.IT_STAFF):
            found.append(_failed_qa(views, principal.username))
        if not principal.has(Role.RELEASE_MANAGER):
            return found
        over = [
            b
            for b in views.bundles(from_date=now().date())
            if b["phase"] not in SHIPPED_OR_CLOSED and b["capacity_warnings"]
        ]
        if len(over) == 1:
            [bundle] = over
            over_by = bundle["capacity_warnings"][0]  # the total first, then subsystems
            where = "points" if over_by["scope"] == "total" else f"points of {over_by['scope']}"
            detail = f"{bundle['name']}: {over_by['load']} of {over_by['capacity']} {where}"
            path = f"/release/bundles/{bundle['id']}"
        else:
            detail, path = "", "/release"
        return [
            *found,
            Waiting(
                len(views.backlog()),
                "accepted request is in no bundle yet",
                "accepted requests are in no bundle yet",
                "/release#suggestion",
                "the suggested plan places each that fits",
            ),
            Waiting(
                len(over),
                "upcoming bundle is planned past its capacity",
                "upcoming bundles are planned past their capacity",
                path,
                detail,
            ),
        ]

    return waiting


def _for_qa(views: ReleaseViews) -> list[Waiting]:
    """The QA team's work: the items of bundles still to ship that are ready for QA, as
    the board's column of them shows (QA was told nothing waited while items did)."""
    ready = views.ready_for_qa()
    first = ready[0] if ready else None
    detail = f"the first in {first[1]}, deploying {first[0]}" if first else ""
    return [
        Waiting(
            len(ready),
            "item is ready for QA",
            "items are ready for QA",
            "/board#ready_for_qa",
            detail,
        )
    ]


def _failed_qa(views: ReleaseViews, owner: str) -> Waiting:
    """The IT owner's items QA failed: its note is on the item's row (the owner's start
    page said nothing of it, their list only "QA failed" without the note)."""
    failed = views.failed_qa(owner)
    # One: its row, where QA's note is; several: the owner's list, each linking its row.
    path = (
        f"/release/bundles/{failed[0][0]}#item-{failed[0][1]}" if len(failed) == 1 else "/my-work"
    )
    return Waiting(
        len(failed),
        "item of yours failed QA",
        "items of yours failed QA",
        path,
        "QA's note says what failed" if failed else "",
    )
