"""The metrics query layer: load the records a question needs, ask the pure arithmetic.

Metrics changes nothing in the log; its use cases are questions. Each loads only the
records whose lives overlap the days it looks at, so answering costs the same whether
the log holds a month or ten years.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.metrics.domain import delivery, flow
from services.metrics.domain.accuracy import forecast_accuracy, forecast_days
from services.metrics.domain.calendar import (
    UNITS,
    Span,
    bucket_key,
    check_as_of,
    check_begun,
    parse_period,
)
from services.metrics.domain.forecast import EVERYTHING, forecast_requests, how_many_by
from services.metrics.domain.issued import WeeklyReport, weekly_report_id
from services.metrics.domain.overview import (
    FORECAST_WINDOW_DAYS,
    comparison,
    every_metric,
    noted,
    window_needed,
)
from services.metrics.domain.records import Filter, History
from services.metrics.domain.weekly import parse_week, weekly_report, weekly_window
from services.metrics.views import MetricsViews
from shared.domain import InvalidCommand, NotFound

FIRST_YEAR, LAST_YEAR = 1900, 2999
ACCURACY_UNITS = ("week", "month", "quarter")
MAX_FORECAST_DAYS = 60  # a year of weeks, five of months: each is a whole forecast


@dataclass(frozen=True)
class Question:
    """A period, how to bucket it, which requests, and the day open work is seen from."""

    span: Span
    as_of: date
    unit: str = "week"
    filter: Filter = field(default_factory=Filter)


def twelve_months_to(as_of: date) -> Span:
    """The default period: the 12 calendar months ending with the month of `as_of`."""
    first = date(as_of.year - 1, as_of.month, 1)
    index = first.year * 12 + first.month  # the month after `first`, a year on
    return parse_period(f"{index // 12}-{index % 12 + 1:02d}..{as_of:%Y-%m}")


class MetricsQueries:
    def __init__(self, views: MetricsViews) -> None:
        self.views = views
        self.zone = views.zone
        self._judging = threading.Lock()

    def today(self) -> date:
        return datetime.now(self.zone).date()

    def last_week(self) -> str:
        """The ISO week before this one (the last whole week), in the business time zone:
        the weekly report's week when none is named."""
        return bucket_key(self.today() - timedelta(days=7), "week")

    def question(
        self,
        period: str | None = None,
        as_of: date | None = None,
        unit: str = "week",
        flt: Filter | None = None,
    ) -> Question:
        """Validate a question's parts; a bad period or unit is a 422 naming the rule."""
        day = as_of or self.today()
        self._happened(day)
        if unit not in UNITS:
            raise InvalidCommand("unknown_unit", f"unit is one of {', '.join(UNITS)}")
        try:
            span = parse_period(period) if period else twelve_months_to(day)
        except ValueError as exc:
            raise InvalidCommand("invalid_period", str(exc)) from None
        _sensible(span.start, "period")
        _sensible(span.end, "period")
        try:
            check_begun(span, day, self.today())
        except ValueError as exc:
            raise InvalidCommand("period_in_future", str(exc)) from None
        if span.days > 366 * 20:
            raise InvalidCommand("period_too_long", "a period is at most 20 years")
        if unit == "day" and span.days > 3 * 366:
            raise InvalidCommand("too_many_days", "daily series are limited to 3 years")
        return Question(span.to_date(day), day, unit, flt or Filter())

    def _history(self, first: date, last: date) -> History:
        return self.views.history(first, last)

    def every_metric(self, q: Question, seed: int = 0) -> dict[str, Any]:
        history = self._history(*window_needed(q.span, q.as_of))
        return noted(
            every_metric(history, q.span, q.unit, q.filter, self.zone, q.as_of, seed=seed),
            history,
            q.filter,
        )

    def throughput(self, q: Question) -> dict[str, Any]:
        history = self._history(q.span.start, q.span.end)
        return self._framed(
            q, flow.throughput(history, q.span, q.unit, q.filter, self.zone), history
        )

    def flow_times(self, q: Question) -> dict[str, Any]:
        history = self._history(q.span.start, q.span.end)
        return self._framed(q, flow.flow_times(history, q.span, q.filter, self.zone), history)

    def work_in_progress(self, q: Question) -> dict[str, Any]:
        history = self._history(q.as_of, q.as_of)
        return self._framed(
            q, flow.work_in_progress(history, q.as_of, q.filter, self.zone), history
        )

    def time_in_state(self, q: Question) -> dict[str, Any]:
        history = self._history(q.span.start, q.span.end)
        return self._framed(q, flow.time_in_state(history, q.span, q.filter, self.zone), history)

    def cumulative_flow(self, q: Question) -> dict[str, Any]:
        history = self._history(q.span.start, q.span.end)
        return self._framed(q, flow.cumulative_flow(history, q.span, q.filter, self.zone), history)

    def satisfaction(self, q: Question) -> dict[str, Any]:
        history = self._history(q.span.start, q.span.end)
        doc = flow.satisfaction(history, q.span, q.unit, q.filter, self.zone)
        return self._framed(q, doc, history)

    def releases(self, q: Question) -> dict[str, Any]:
        history = self._history(q.span.start, q.span.end)
        doc = delivery.release_metrics(history, q.span, q.unit, self.zone)
        return self._framed(q, doc, history, Filter())  # releases are the organisation's

    def dora(self, q: Question) -> dict[str, Any]:
        history = self._history(q.span.start, q.span.end)
        doc = {
            **delivery.dora(history, q.span, q.unit, q.filter, self.zone),
            "unauthorised_changes": delivery.unauthorised_changes(
                history, q.span, q.unit, q.filter, self.zone
            ),
            "cab": delivery.cab_lead_time(history, q.span, q.filter, self.zone),
        }
        # What change figures are filtered by: the subsystem alone.
        return self._framed(q, doc, history, Filter(subsystem=q.filter.subsystem))

    def comparison(self, q: Question) -> dict[str, Any]:
        history = self._history(q.span.previous().start, q.span.end)
        return self._framed(q, comparison(history, q.span, q.filter, self.zone), history)

    def _framed(
        self, q: Question, doc: dict[str, Any], history: History, flt: Filter | None = None
    ) -> dict[str, Any]:
        """One metric's document with what it answers, as `GET /api/metrics` says it: the
        period, unit, filter, as-of day and the business time zone its days are counted
        in (the metric's own fields first, where it names one of them itself)."""
        used = q.filter if flt is None else flt
        frame = {
            "period": q.span.to_json(),
            "unit": q.unit,
            "filter": used.to_json(),
            "as_of": q.as_of.isoformat(),
            "time_zone": getattr(self.zone, "key", str(self.zone)),
        }
        return noted({**frame, **doc}, history, used)

    def forecasts(self, as_of: date, seed: int = 0, flt: Filter = EVERYTHING) -> dict[str, Any]:
        self._happened(as_of)
        history = self._history(self._forecast_start(as_of), as_of)
        doc = forecast_requests(
            history, as_of, self.zone, window_days=FORECAST_WINDOW_DAYS, seed=seed, flt=flt
        )
        return noted(doc, history, flt)  # a department typed wrong is told, not only zeros

    def forecast_accuracy(self, q: Question, seed: int = 0) -> dict[str, Any]:
        """How often the forecasts made on the period's first day and the first day of
        each later week (or month, quarter) in it came true, judged by what had happened
        by the end of the question's as-of day. One at a time: each is up to 60 whole
        forecasts, and several at once would only slow every other question."""
        if q.unit not in ACCURACY_UNITS:
            raise InvalidCommand(
                "unknown_unit", f"forecasts are judged by {', '.join(ACCURACY_UNITS)}"
            )
        days = forecast_days(q.span, q.unit, q.as_of)
        if len(days) > MAX_FORECAST_DAYS:
            coarser = {"week": "by month or quarter, or a", "month": "by quarter, or a"}
            raise InvalidCommand(
                "too_many_forecasts",
                f"{len(days)} forecasts to judge, at most {MAX_FORECAST_DAYS}: judge them"
                f" {coarser.get(q.unit, 'over a')} shorter period",
            )
        with self._judging:
            history = self._history(self._forecast_start(q.span.start), q.as_of)
            doc = forecast_accuracy(
                history, days, self.zone, q.as_of, over=q.as_of < self.today(),
                window_days=FORECAST_WINDOW_DAYS, seed=seed, flt=q.filter,
            )  # fmt: skip
        return self._framed(q, doc, history)

    def forecast(self, request_id: str, as_of: date, seed: int = 0) -> dict[str, Any]:
        everything = self.forecasts(as_of, seed)
        for item in everything["items"]:
            if request_id == item["id"] or request_id.upper() == item["reference"].upper():
                basis = {k: v for k, v in everything.items() if k != "items"}
                return {**basis, **item}
        raise NotFound(
            "forecast_not_found",
            f"no accepted, undelivered request has the id or reference {request_id}"
            f" on {as_of.isoformat()}",
        )

    def how_many_by(
        self, as_of: date, by: date, seed: int = 0, flt: Filter = EVERYTHING
    ) -> dict[str, Any]:
        self._happened(as_of)
        if by < as_of:
            raise InvalidCommand(
                "date_in_the_past",
                f"`by` ({by.isoformat()}) must be on or after the as-of date ({as_of.isoformat()})",
            )
        if (by - as_of).days > 3 * 366:
            raise InvalidCommand("horizon_too_far", "forecasts reach at most 3 years ahead")
        history = self._history(self._forecast_start(as_of), as_of)
        doc = how_many_by(
            history, as_of, by, self.zone, window_days=FORECAST_WINDOW_DAYS, seed=seed, flt=flt
        )
        return noted(doc, history, flt)  # as every other metric: zeros for a typo say so

    def weekly(self, week: str, seed: int = 0) -> dict[str, Any]:
        try:
            span = parse_week(week)
        except ValueError as exc:
            raise InvalidCommand("invalid_week", str(exc)) from None
        _sensible(span.start, "week")
        today = self.today()
        if span.start > today:
            raise InvalidCommand(
                "week_in_future",
                f"{week} has not begun (today is {today.isoformat()} in the business time"
                " zone): a weekly report covers a week under way or past",
            )
        history = self._history(*weekly_window(span))
        return weekly_report(history, span, self.zone, seed=seed, as_of=today)

    def issued(self, week: str) -> dict[str, Any] | None:
        """What the organisation was told of `week` when its report was issued (when, the
        lists' lengths, the key figures), or None if it has not been issued."""
        report_id = weekly_report_id(week)
        if not self.views.log.exists(report_id):
            return None
        report = self.views.log.get(report_id, WeeklyReport)
        return {"at": report.created_on.isoformat(), "counts": report.counts}

    def _happened(self, as_of: date) -> None:
        _sensible(as_of, "as_of")
        try:
            check_as_of(as_of, self.today())
        except ValueError as exc:
            raise InvalidCommand("as_of_in_future", str(exc)) from None

    @staticmethod
    def _forecast_start(as_of: date) -> date:
        return date.fromordinal(as_of.toordinal() - FORECAST_WINDOW_DAYS)


def _sensible(day: date, what: str) -> None:
    """Dates far outside any organisation's history are a mistake, not a question."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidCommand(
            "date_out_of_range", f"{what} must fall between {FIRST_YEAR} and {LAST_YEAR}"
        )
