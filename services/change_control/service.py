"""Wires change control into a process: its use cases, views, routes and pages."""

from __future__ import annotations

from typing import Any

from services.change_control.api.catalogue import catalogue_router
from services.change_control.api.changes import changes_router
from services.change_control.api.deployments import deployments_router
from services.change_control.application.catalogue import Blackouts, StandardTemplates
from services.change_control.application.changes import ChangeControl
from services.change_control.application.deployments import DeploymentReports
from services.change_control.pages import NAV, ChangePages, change_pages
from services.change_control.pages.base import TEMPLATES
from services.change_control.views import ChangeControlViews, ChangeFilter
from services.change_control.waiting import waiting_in_change_control
from shared.contracts import CHANGE_REFERENCES
from shared.identity.domain import Role
from shared.platform import Component, Finder, Found, Platform
from shared.web.access import PageAccess
from shared.web.rendering import Templates


def finder(views: ChangeControlViews) -> Finder:
    """Production changes for the header's box: CHG-7 opens one; words list those with
    them in their title."""

    def matching(text: str, limit: int) -> tuple[list[Found], int]:
        items, total = views.find(ChangeFilter(text=text), limit=limit)
        return [
            Found(c["reference"], c["title"], f"/changes/{c['id']}", c["status"], c["raised_at"])
            for c in items
        ], total

    return Finder("Production changes", CHANGE_REFERENCES, "/changes", views.with_number, matching)


def component(platform: Platform) -> Component:
    directory = platform.directory

    def board() -> list[dict[str, Any]]:
        return [
            {"by": u.username, "team": u.team} for u in directory.users(Role.CAB_MEMBER) if u.active
        ]

    views = ChangeControlViews(platform.log, board)
    changes = ChangeControl(platform.log, views, platform.directory)
    blackouts = Blackouts(platform.log)
    templates = StandardTemplates(platform.log, views)
    reports = DeploymentReports(platform.log, views)
    zone = platform.settings.zone
    pages = ChangePages(
        changes,
        blackouts,
        templates,
        views,
        platform.directory,
        PageAccess(platform.directory),
        Templates(TEMPLATES, zone),
        zone,
    )
    return Component(
        name="change_control",
        routers=[
            changes_router(platform.auth, changes, views),
            catalogue_router(platform.auth, blackouts, templates, views),
            deployments_router(platform.auth, reports, views),
            change_pages(pages),
        ],
        groups=[views.group],
        nav=NAV,
        finders=[finder(views)],
        waiting=[waiting_in_change_control(views, pages.templates.when)],
    )
