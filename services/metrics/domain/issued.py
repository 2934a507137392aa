"""What the organisation was told about a week: the weekly status report as issued.

A report read later may differ (events can arrive late, an import can bring history
in); the issued one is what stakeholders were sent, kept in the log as a fact.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from shared.domain import AuditedAggregate, name_based_id


class WeeklyReport(AuditedAggregate):
    """One ISO week's status report, issued once, when the week is over."""

    @staticmethod
    def create_id(week: str) -> UUID:
        return weekly_report_id(week)

    @event("Issued")
    def __init__(
        self, week: str, start: str, end: str, counts: dict[str, int], key_figures: dict[str, Any]
    ) -> None:
        self.week = week
        self.start = start
        self.end = end
        self.counts = dict(counts)
        self.key_figures = dict(key_figures)


def weekly_report_id(week: str) -> UUID:
    """The same id in every process for the same week: the log takes a week's report once."""
    return name_based_id("weekly-report", week)


COUNTED = ("submitted", "triaged", "delivered", "slipped", "at_risk", "unauthorised_changes")
"""The report's lists whose lengths an issued report records."""


def issued_from(report: dict[str, Any]) -> dict[str, Any]:
    """What an issued report records of a `weekly_report` document: its week, its days,
    how many items each list holds, and this week's key figures."""
    return {
        "week": report["week"],
        "start": report["start"],
        "end": report["end"],
        "counts": {name: len(report[name]) for name in COUNTED},
        "key_figures": dict(report["key_figures"]["this_week"]),
    }
