"""Wires metrics into a process: its view of the whole log, its read routes and pages."""

from __future__ import annotations

from services.metrics.api import metrics_router
from services.metrics.application import MetricsQueries
from services.metrics.issuing import ReportIssuer
from services.metrics.pages import NAV, MetricsPages, metrics_pages
from services.metrics.pages.dashboard import TEMPLATES
from services.metrics.views import MetricsViews
from shared.platform import Component, Platform
from shared.web.access import PageAccess
from shared.web.rendering import Templates


def component(platform: Platform) -> Component:
    views = MetricsViews(platform.log)
    queries = MetricsQueries(views)
    pages = MetricsPages(
        queries, PageAccess(platform.directory), Templates(TEMPLATES, platform.settings.zone)
    )
    return Component(
        name="metrics",
        routers=[metrics_router(platform.auth, queries), metrics_pages(pages)],
        groups=[views.group],
        workers=[ReportIssuer(platform.log, queries)],
        nav=NAV,
    )
