"""Wires release into a process: its use cases, views, routes, pages and reaction."""

from __future__ import annotations

from services.release.api import release_router
from services.release.application import Releases
from services.release.pages import NAV, ReleasePages, release_pages
from services.release.pages.base import TEMPLATES
from services.release.publishing import publishing_router
from services.release.queries import ReleaseViews
from services.release.reactions import (
    BundleFollowsItsDeploymentChange,
    WithdrawnRequestsLeaveTheirBundle,
)
from services.release.subscriptions import CalendarFeeds
from services.release.waiting import waiting_in_release
from shared.platform import Component, Platform
from shared.web.access import PageAccess
from shared.web.rendering import Templates


def component(platform: Platform) -> Component:
    views = ReleaseViews(platform.log)
    releases = Releases(platform.log, views)
    feeds = CalendarFeeds(platform.log, views, platform.directory)
    pages = ReleasePages(
        releases,
        views,
        feeds,
        PageAccess(platform.directory),
        Templates(TEMPLATES, platform.settings.zone),
    )
    return Component(
        name="release",
        routers=[
            release_router(platform.auth, releases, views),
            publishing_router(platform.auth, releases, feeds, views, platform.directory),
            release_pages(pages),
        ],
        groups=[views.group],
        reactions=[
            BundleFollowsItsDeploymentChange(releases, views),
            WithdrawnRequestsLeaveTheirBundle(releases),
        ],
        nav=NAV,
        waiting=[waiting_in_release(views)],
    )
