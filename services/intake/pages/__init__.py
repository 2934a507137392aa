"""Intake's web pages: the front door (submit, follow, answer, withdraw, rate), the
department's ranking, the release manager's triage queue, the board of all work in
play, and every request as a list to filter. Thin handlers over the same use cases and
views as the API."""

from __future__ import annotations

from fastapi import APIRouter

from services.intake.pages.base import IntakePages
from services.intake.pages.board import board_routes
from services.intake.pages.department import department_routes
from services.intake.pages.listing import listing_routes
from services.intake.pages.requests import request_routes
from services.intake.pages.submission import submission_routes
from services.intake.pages.triage import triage_routes
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role
from shared.web.rendering import NavLink

NAV = [
    NavLink(
        "Submit a request",
        "/requests/new",
        (Role.REQUESTER, Role.RELEASE_MANAGER, Role.IT_STAFF),
        "Ask IT for a change; similar open requests are suggested as you type.",
    ),
    NavLink(
        "My department",
        "/department",
        (Role.REQUESTER,),
        "Your department's requests with owner, bundle and target date; rank and rate them.",
    ),
    NavLink(
        "Triage",
        "/triage",
        (Role.RELEASE_MANAGER,),
        "Accept, reject, defer or ask about every submitted request, oldest first.",
    ),
    NavLink("Board", "/board", (), "All work in play by state, with age and WIP per column."),
    NavLink(
        "Requests",
        "/requests",
        (),
        "Every request: open or closed, by department, category, subsystem, owner or words.",
    ),
    NavLink(
        "My work",
        "/my-work",
        (Role.IT_STAFF,),
        "Requests you own and where they are in their bundle.",
    ),
]


def intake_pages(pages: IntakePages) -> APIRouter:
    router = ServiceRouter(include_in_schema=False)
    for routes in (
        submission_routes,
        request_routes,
        listing_routes,
        department_routes,
        triage_routes,
        board_routes,
    ):
        router.include_router(routes(pages))
    return router


__all__ = ["NAV", "IntakePages", "intake_pages"]
