"""Wires metrics into a process: its view of the whole log and its read routes."""

from __future__ import annotations

from services.metrics.api import metrics_router
from services.metrics.application import MetricsQueries
from services.metrics.views import MetricsViews
from shared.platform import Component, Platform


def component(platform: Platform) -> Component:
    views = MetricsViews(platform.log)
    queries = MetricsQueries(views)
    return Component(
        name="metrics",
        routers=[metrics_router(platform.auth, queries)],
        groups=[views.group],
    )
