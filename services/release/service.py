"""Wires release into a process: its use cases, views, routes and reaction."""

from __future__ import annotations

from services.release.api import release_router
from services.release.application import Releases
from services.release.publishing import publishing_router
from services.release.queries import ReleaseViews
from services.release.reactions import BundleFollowsItsDeploymentChange
from services.release.subscriptions import CalendarFeeds
from shared.platform import Component, Platform


def component(platform: Platform) -> Component:
    views = ReleaseViews(platform.log)
    releases = Releases(platform.log, views)
    feeds = CalendarFeeds(platform.log, views, platform.directory)
    return Component(
        name="release",
        routers=[
            release_router(platform.auth, releases, views),
            publishing_router(platform.auth, releases, feeds, views, platform.directory),
        ],
        groups=[views.group],
        reactions=[BundleFollowsItsDeploymentChange(releases, views)],
    )
