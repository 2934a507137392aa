"""Metrics' web pages: the dashboard with pictures (throughput run chart, cycle-time
scatterplot with percentile lines, cumulative flow, aging work in progress, DORA tiles,
period-over-period table) and the weekly status report. Read-only, over the query layer."""

from __future__ import annotations

from services.metrics.pages.asked import WHOLE_ORGANISATION
from services.metrics.pages.dashboard import MetricsPages, metrics_pages
from shared.web.rendering import NavLink

NAV = [
    NavLink(
        "Metrics",
        "/dashboard",
        (),
        "Throughput, cycle time, flow, aging work, delivery forecasts and the year-on-year"
        " table; for IT and the CAB, the DORA keys too.",
    ),
    NavLink(
        "Weekly report",
        "/dashboard/weekly",
        WHOLE_ORGANISATION,
        "Where everything stands this week.",
    ),
]

__all__ = ["NAV", "MetricsPages", "metrics_pages"]
