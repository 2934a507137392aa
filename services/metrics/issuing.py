"""Issuing each week's status report to the log once the week is over, so that everyone
who subscribes hears of it (the notification service follows `WeeklyReport.Issued`).

A report is due the Monday after its week at the digest hour, business time; a process
that was down then issues it when it is back. Every process that runs the followers may
try: the report's id is the week's, so the log takes it once and the others' attempts
are refused as a conflict. No report is issued for a week that ended before the first
request was submitted.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import structlog

from services.metrics.application import MetricsQueries
from services.metrics.domain.calendar import bucket_key, local_date
from services.metrics.domain.issued import WeeklyReport, issued_from, weekly_report_id
from shared.application import SYSTEM_ACTOR, acting_as
from shared.store.errors import WriteConflict
from shared.store.log import EventLog

log = structlog.get_logger(__name__)

POLL_S = 60.0


class ReportIssuer:
    """Issues the last whole week's status report when it is due, once."""

    def __init__(self, events: EventLog, queries: MetricsQueries, poll_s: float = POLL_S) -> None:
        self.log = events
        self.queries = queries
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due(self, now: datetime) -> str | None:
        """The latest week whose report was due by `now` and is not in the log yet."""
        settings = self.log.settings
        shifted = now.astimezone(settings.zone) - timedelta(hours=settings.digest_hour)
        monday = shifted.date() - timedelta(days=shifted.weekday() + 7)
        week = bucket_key(monday, "week")
        if self.log.exists(weekly_report_id(week)):
            return None
        first = self.queries.views.first_submitted()
        if first is None or local_date(first, settings.zone) > monday + timedelta(days=6):
            return None  # the first request came after that week: nothing to tell yet
        return week

    def issue_due(self, now: datetime | None = None) -> str | None:
        """Issue the report due by `now` (the wall clock if not given), if any; returns
        its week, or None when none was due or another process issued it first."""
        week = self.due(now or datetime.now(UTC))
        if week is None:
            return None
        report = self.queries.weekly(week)
        try:
            with acting_as(SYSTEM_ACTOR):
                self.log.save(WeeklyReport(**issued_from(report)))
        except WriteConflict:
            return None  # another process issued it a moment before
        log.info("weekly_report_issued", week=week)
        return week

    # -- running with the followers -------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.issue_due()
            except Exception:  # keep trying: the store may be back on the next round
                log.exception("weekly_report_issue_failed")
            self._stop.wait(self.poll_s)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="railyard-weekly-report", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
