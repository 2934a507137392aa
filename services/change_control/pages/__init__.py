"""Change control's web pages: the CAB's approval queue, each change with its gates,
conflicts and history (approve, reject, start, complete), raising an operations change,
every change as a list to filter, the change calendar, the catalogue of standard changes,
and the release manager's blackout windows. Thin handlers over the same use cases and
views as the API."""

from __future__ import annotations

from fastapi import APIRouter

from services.change_control.pages.base import ChangePages
from services.change_control.pages.blackouts import blackout_routes
from services.change_control.pages.board import board_routes
from services.change_control.pages.listing import listing_routes
from services.change_control.pages.raising import raising_routes
from services.change_control.pages.standard import standard_routes
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.rendering import NavLink

NAV = [
    NavLink(
        "CAB queue",
        "/cab",
        (Role.CAB_MEMBER,),
        "Changes awaiting your approval, with risk, gates, conflicts and blackouts.",
    ),
    NavLink(
        "Raise a change",
        "/changes/new",
        (Role.IT_STAFF, Role.RELEASE_MANAGER),
        "An operations change (standard, normal or emergency) for the CAB.",
    ),
    NavLink(
        "Changes",
        "/changes",
        (),
        "Every production change: what is open, what you raised or implement, what failed.",
    ),
    NavLink("Change calendar", "/changes/calendar", (), "Planned changes and blackout windows."),
]


def change_pages(pages: ChangePages) -> APIRouter:
    router = ServiceRouter(include_in_schema=False)
    router.include_router(raising_routes(pages))  # /changes/new before /changes/{id}
    router.include_router(board_routes(pages))
    router.include_router(listing_routes(pages))
    router.include_router(blackout_routes(pages))
    router.include_router(standard_routes(pages))
    return router


__all__ = ["NAV", "ChangePages", "change_pages"]
