"""What of release waits for the release manager, on their start page: accepted requests
in no bundle yet (the suggested plan places or explains each), and upcoming bundles planned
past their capacity (points, or a subsystem's), which only a replan mends."""

from __future__ import annotations

from services.release.domain import Phase, now
from services.release.queries import ReleaseViews
from shared.identity.domain import Principal, Role
from shared.platform import Waiting, WaitingFor

SHIPPED_OR_CLOSED = frozenset({Phase.DEPLOYED, Phase.ROLLED_BACK, Phase.CANCELLED})


def waiting_in_release(views: ReleaseViews) -> WaitingFor:
    def waiting(principal: Principal) -> list[Waiting]:
        if not principal.has(Role.RELEASE_MANAGER):
            return []
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
