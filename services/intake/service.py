"""Wires intake into a process: its use cases, views, routes, pages and reaction."""

from __future__ import annotations

from services.intake.api import intake_router
from services.intake.application import Intake
from services.intake.filters import RequestFilter
from services.intake.pages import NAV, IntakePages, intake_pages
from services.intake.pages.base import TEMPLATES
from services.intake.reactions import DeliverShippedRequests
from services.intake.schedule import Schedule
from services.intake.views import IntakeViews
from services.intake.waiting import waiting_in_intake
from shared.contracts import REQUEST_REFERENCES
from shared.platform import Component, Finder, Found, Platform
from shared.web.access import PageAccess
from shared.web.rendering import Templates


def finder(views: IntakeViews) -> Finder:
    """Requests for the header's box: REQ-12 opens one; words list those with them."""

    def matching(text: str, limit: int) -> tuple[list[Found], int]:
        page = views.find(RequestFilter(text=text), limit=limit)
        return [
            Found(
                r["reference"], r["title"], f"/requests/{r['id']}", r["status"], r["submitted_at"]
            )
            for r in page.items
        ], page.total

    return Finder("Requests", REQUEST_REFERENCES, "/requests", views.with_number, matching)


def component(platform: Platform) -> Component:
    views = IntakeViews(platform.log)
    schedule = Schedule(platform.log)
    intake = Intake(platform.log, views, platform.directory)
    pages = IntakePages(
        intake,
        views,
        schedule,
        platform.directory,
        PageAccess(platform.directory),
        Templates(TEMPLATES, platform.settings.zone),
    )
    return Component(
        name="intake",
        routers=[intake_router(platform.auth, intake, views), intake_pages(pages)],
        groups=[views.group, schedule.group],
        nav=NAV,
        finders=[finder(views)],
        waiting=[waiting_in_intake(views)],
        reactions=[DeliverShippedRequests(intake)],
    )
