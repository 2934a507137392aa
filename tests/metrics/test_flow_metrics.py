"""Flow metrics against hand-computed expectations on small histories (no database)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from services.metrics.domain.calendar import Span, buckets, parse_period
from services.metrics.domain.flow import (
    cumulative_flow,
    flow_times,
    satisfaction,
    throughput,
    time_in_state,
    work_in_progress,
)
from services.metrics.domain.overview import comparison
from services.metrics.domain.records import Filter
from services.metrics.domain.stats import nearest_rank
from services.metrics.domain.weekly import parse_week, weekly_report
from shared import contracts as c
from tests.metrics.builders import Story

UTC = ZoneInfo("UTC")
ALL = Filter()


def test_percentiles_are_nearest_rank() -> None:
    """p50 of 1..10 is 5, p85 is 9, p95 is 10: always an observed value."""
    values = list(range(1, 11))
    assert nearest_rank(values, 50) == 5
    assert nearest_rank(values, 70) == 7
    assert nearest_rank(values, 85) == 9
    assert nearest_rank(values, 95) == 10
    assert nearest_rank([4], 95) == 4
    assert nearest_rank([], 50) is None


def test_periods_parse_and_know_the_one_before() -> None:
    """Quarter against quarter, 12 months against the previous 12, ISO weeks."""
    assert parse_period("2026-Q1").previous() == Span(date(2025, 10, 1), date(2025, 12, 31))
    twelve = parse_period("2025-12..2026-11")
    assert twelve.previous() == Span(date(2024, 12, 1), date(2025, 11, 30))
    week = parse_period("2026-W01")
    assert (week.start, week.end) == (date(2025, 12, 29), date(2026, 1, 4))
    odd = parse_period("2026-01-10..2026-01-19")
    assert odd.previous() == Span(date(2025, 12, 31), date(2026, 1, 9))
    with pytest.raises(ValueError, match="unknown period"):
        parse_period("last tuesday")


def test_a_week_its_year_does_not_have_is_named_with_the_weeks_it_has() -> None:
    """2023 has 52 ISO weeks, 2026 has 53: `2023-W53` was refused as "Invalid week: 53"."""
    with pytest.raises(ValueError, match="ISO year 2023 has weeks 1 to 52"):
        parse_period("2023-W53")
    assert parse_period("2026-W53").start == date(2026, 12, 28)
    # Asked for a week, it says week (not "invalid period") and which weeks there are.
    with pytest.raises(
        ValueError, match="no week 2026-W60: ISO year 2026 has weeks 2026-W01 to 2026-W53"
    ):
        parse_week("2026-W60")


def test_a_period_under_way_is_measured_to_date_against_the_same_part_of_the_one_before() -> None:
    """2026 seen on 4 December is 1 January to 4 December, against 2025's 1 January to 4
    December, not a whole year; Q4 to date against Q3's first 65 days; an ended period or
    one seen before it starts is left whole."""
    year = parse_period("2026").to_date(date(2026, 12, 4))
    assert (year.start, year.end, year.label) == (date(2026, 1, 1), date(2026, 12, 4),
                                                   "2026 to 2026-12-04")  # fmt: skip
    assert year.previous() == Span(date(2025, 1, 1), date(2025, 12, 4))
    assert year.to_json()["to_date_of"] == "2026"
    quarter = parse_period("2026-Q4").to_date(date(2026, 12, 4))
    assert quarter.previous() == Span(date(2026, 7, 1), date(2026, 9, 4))
    march = parse_period("2026-03").to_date(date(2026, 3, 31))
    assert march.full is None
    assert march.end == date(2026, 3, 31)
    assert parse_period("2026-03").to_date(date(2026, 3, 30)).previous() == Span(
        date(2026, 2, 1), date(2026, 2, 28)
    )
    week = parse_period("2026-W49").to_date(date(2026, 12, 2))
    assert week.previous() == Span(date(2026, 11, 23), date(2026, 11, 25))
    assert parse_period("2027").to_date(date(2026, 12, 4)) == parse_period("2027")


def test_throughput_counts_deliveries_per_iso_week_with_empty_weeks() -> None:
    story = Story()
    story.flow("2026-01-01 09:00", "2026-01-02 09:00", "2026-01-05 10:00")  # Mon W02
    story.flow("2026-01-01 09:00", "2026-01-02 09:00", "2026-01-11 23:00")  # Sun W02
    story.flow("2026-01-01 09:00", "2026-01-02 09:00", "2026-01-19 10:00")  # W04
    result = throughput(story.history(), parse_period("2026-01"), "week", ALL, UTC)
    assert [(p["period"], p["delivered"]) for p in result["periods"]] == [
        ("2026-W01", 0),
        ("2026-W02", 2),
        ("2026-W03", 0),
        ("2026-W04", 1),
        ("2026-W05", 0),
    ]
    assert result["total"] == 3


def test_the_period_under_way_is_marked_as_to_date_of_its_whole_period() -> None:
    """December 2026 to the 5th, per week: the week of the 5th is under way, the others
    whole; a past month cut mid-week by its end marks nothing (it is not under way)."""
    story = Story()
    story.flow("2026-12-01 09:00", "2026-12-01 10:00", "2026-12-02 10:00")
    span = parse_period("2026-12").to_date(date(2026, 12, 5))
    result = throughput(story.history(), span, "week", ALL, UTC)
    assert [(p["period"], p["end"], p.get("to_date_of")) for p in result["periods"]] == [
        ("2026-W49", "2026-12-05", "2026-W49"),
    ]
    past = throughput(story.history(), parse_period("2026-01"), "week", ALL, UTC)
    assert not any("to_date_of" in p for p in past["periods"])  # W05 is cut, not under way
    month = throughput(story.history(), parse_period("2026").to_date(date(2026, 12, 5)),
                       "month", ALL, UTC)  # fmt: skip
    assert [p["period"] for p in month["periods"] if "to_date_of" in p] == ["2026-12"]


def test_a_day_ends_in_the_business_time_zone() -> None:
    """23:30 UTC on 11 January is already 12 January in Auckland: the next ISO week."""
    story = Story()
    story.flow("2026-01-01 09:00", "2026-01-02 09:00", "2026-01-11 23:30")
    history = story.history()
    in_utc = throughput(history, parse_period("2026-W02"), "day", ALL, UTC)
    auckland = ZoneInfo("Pacific/Auckland")
    in_nz = throughput(history, parse_period("2026-W03"), "day", ALL, auckland)
    assert in_utc["total"] == 1
    assert in_nz["total"] == 1


def test_lead_and_cycle_time_count_calendar_days_inclusively() -> None:
    """Accepted and delivered on the same day took 1 day, not 0."""
    story = Story()
    story.flow("2026-02-01 09:00", "2026-02-03 09:00", "2026-02-03 17:00")  # lead 3, cycle 1
    story.flow("2026-02-01 09:00", "2026-02-02 09:00", "2026-02-10 09:00")  # lead 10, cycle 9
    story.flow("2026-01-20 09:00", "2026-02-01 09:00", "2026-02-05 09:00")  # lead 17, cycle 5
    times = flow_times(story.history(), parse_period("2026-02"), ALL, UTC)
    assert times["lead_time_days"]["p50"] == 10
    assert times["lead_time_days"]["p95"] == 17
    assert times["cycle_time_days"]["p50"] == 5
    assert times["cycle_time_days"]["min"] == 1
    assert times["cycle_time_days"]["mean"] == 5.0


def test_filters_select_department_category_subsystem_and_class_of_service() -> None:
    story = Story()
    story.flow("2026-03-01 09:00", "2026-03-02 09:00", "2026-03-03 09:00", department="Sales")
    story.flow(
        "2026-03-01 09:00",
        "2026-03-02 09:00",
        "2026-03-03 09:00",
        department="Care",
        subsystems=("CRM", "Billing"),
        category="unplanned",
    )
    history = story.history()
    march = parse_period("2026-03")
    assert throughput(history, march, "month", Filter(department="care"), UTC)["total"] == 1
    assert throughput(history, march, "month", Filter(subsystem="crm"), UTC)["total"] == 1
    assert throughput(history, march, "month", Filter(subsystem="Billing"), UTC)["total"] == 2
    assert throughput(history, march, "month", Filter(category="unplanned"), UTC)["total"] == 1
    cos = Filter(class_of_service="expedite")
    assert throughput(history, march, "month", cos, UTC)["total"] == 0


def test_reentered_state_is_measured_from_first_start_to_last_finish() -> None:
    """Submitted 1 March, asked 3 March, answered 5 March, accepted 9 March: the
    request waited in 'submitted' from the 1st to the 9th (9 days), asked 3rd-5th (3)."""
    story = Story()
    rid = story.request("2026-03-01 09:00")
    story.add(c.REQUEST_INFO_REQUESTED, rid, "2026-03-03 09:00", question="why?")
    story.add(c.REQUEST_INFO_PROVIDED, rid, "2026-03-05 09:00", answer="because")
    story.accept(rid, "2026-03-09 09:00")
    story.deliver(rid, "2026-03-20 09:00")
    result = time_in_state(story.history(), parse_period("2026-03"), ALL, UTC)
    assert result["stages"]["submitted"]["p50"] == 9
    assert result["stages"]["info_requested"]["p50"] == 3
    assert result["stages"]["accepted"]["p50"] == 12
    assert result["most_waiting"][0] == "accepted"


def test_work_in_progress_lists_every_open_request_with_its_age() -> None:
    story = Story()
    waiting = story.request("2026-04-01 09:00")
    working = story.request("2026-04-02 09:00")
    story.accept(working, "2026-04-05 09:00")
    done = story.flow("2026-04-01 09:00", "2026-04-02 09:00", "2026-04-03 09:00")
    wip = work_in_progress(story.history(), date(2026, 4, 10), ALL, UTC)
    assert wip["by_stage"]["submitted"] == 1
    assert wip["in_progress"] == 1
    ages = {i["id"]: (i["age_days"], i["days_in_stage"]) for i in wip["items"]}
    assert ages == {waiting: (10, 10), working: (9, 6)}
    assert done not in ages
    earlier = work_in_progress(story.history(), date(2026, 4, 2), ALL, UTC)
    assert earlier["in_progress"] == 1  # `done` was accepted on the 2nd
    assert {i["id"] for i in earlier["items"]} == {waiting, working, done}


def test_cumulative_flow_counts_open_stages_and_accumulates_final_ones() -> None:
    story = Story()
    old = story.request("2026-04-28 09:00")
    story.accept(old, "2026-04-29 09:00")
    fresh = story.request("2026-05-02 09:00")
    story.deliver(old, "2026-05-02 15:00")
    story.add(c.REQUEST_REJECTED, fresh, "2026-05-03 09:00", reason="no")
    cfd = cumulative_flow(story.history(), Span(date(2026, 5, 1), date(2026, 5, 3)), ALL, UTC)
    days = {d["date"]: d for d in cfd["days"]}
    assert days["2026-05-01"]["accepted"] == 1
    assert days["2026-05-01"]["delivered"] == 0
    assert (days["2026-05-02"]["accepted"], days["2026-05-02"]["delivered"]) == (0, 1)
    assert days["2026-05-02"]["submitted"] == 1
    assert (days["2026-05-03"]["submitted"], days["2026-05-03"]["rejected"]) == (0, 1)
    assert days["2026-05-03"]["delivered"] == 1


def test_satisfaction_averages_the_latest_rating_of_each_request() -> None:
    story = Story()
    first = story.flow("2026-01-01 09:00", "2026-01-02 09:00", "2026-01-03 09:00")
    second = story.flow("2026-01-01 09:00", "2026-01-02 09:00", "2026-01-03 09:00")
    story.add(c.REQUEST_RATED, first, "2026-01-04 09:00", score=2, comment="", replaces=None)
    story.add(c.REQUEST_RATED, second, "2026-01-05 09:00", score=3, comment="", replaces=None)
    story.add(c.REQUEST_RATED, second, "2026-01-06 09:00", score=5, comment="", replaces=3)
    result = satisfaction(story.history(), parse_period("2026-01"), "month", ALL, UTC)
    assert result["average"] == 3.5
    assert result["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}


def test_period_comparison_shows_the_case_study_table() -> None:
    """Previous quarter: 2 delivered, median cycle 10; this quarter: 4, median 5."""
    story = Story()
    for day in ("01", "02"):
        rid = story.flow(f"2025-11-{day} 09:00", "2025-11-10 09:00", "2025-11-19 09:00")
        story.add(c.REQUEST_RATED, rid, "2025-11-20 09:00", score=2, comment="", replaces=None)
    for day in ("05", "06", "07", "08"):
        rid = story.flow(f"2026-01-{day} 09:00", "2026-01-10 09:00", "2026-01-14 09:00")
        story.add(c.REQUEST_RATED, rid, "2026-01-15 09:00", score=4, comment="", replaces=None)
    table = comparison(story.history(), parse_period("2026-Q1"), ALL, UTC)
    assert table["previous"]["delivered"] == 2
    assert table["current"]["delivered"] == 4
    assert table["change_percent"]["delivered"] == 100.0
    assert table["change_percent"]["median_cycle_time_days"] == -50.0
    assert table["satisfaction_change"] == 2.0


def test_a_change_in_satisfaction_is_computed_from_the_exact_averages_not_the_shown_ones() -> None:
    """Ratings 2, 2 and 3 (7/3, shown 2.33) on 28 December (2025-W52), then 3 and 4
    (3.5) on 4 January (2026-W01): +50.0% and +1.17, month on month and week on week,
    where the rounded averages would give +50.2%."""
    story = Story()
    for score, month, rated in ((2, "2025-12", "28"), (2, "2025-12", "28"),
                                (3, "2025-12", "28"), (3, "2026-01", "04"),
                                (4, "2026-01", "04")):  # fmt: skip
        rid = story.flow(f"{month}-01 09:00", f"{month}-02 09:00", f"{month}-03 09:00")
        story.add(c.REQUEST_RATED, rid, f"{month}-{rated} 09:00", score=score, comment="",
                  replaces=None)  # fmt: skip
    table = comparison(story.history(), parse_period("2026-01"), ALL, UTC)
    assert (table["previous"]["satisfaction"], table["current"]["satisfaction"]) == (2.33, 3.5)
    assert table["change_percent"]["satisfaction"] == 50.0
    assert table["satisfaction_change"] == 1.17
    figures = weekly_report(story.history(), parse_week("2026-W01"), UTC)["key_figures"]
    assert (figures["last_week"]["satisfaction"], figures["this_week"]["satisfaction"]) == (
        2.33,
        3.5,
    )
    assert figures["change_percent"]["satisfaction"] == 50.0


def test_buckets_are_clipped_to_the_period() -> None:
    months = buckets(Span(date(2026, 1, 15), date(2026, 3, 10)), "month")
    assert [(b.label, b.start.day, b.end.day) for b in months] == [
        ("2026-01", 15, 31),
        ("2026-02", 1, 28),
        ("2026-03", 1, 10),
    ]


def test_metrics_follow_every_published_fact_except_those_no_metric_needs() -> None:
    """A contract added or dropped from the fold is a decision, not an accident."""
    from services.metrics.facts import TOPICS

    unused = {
        c.REQUEST_OWNER_ASSIGNED.topic,
        c.CHANGE_IMPLEMENTATION_STARTED.topic,
        c.BUNDLE_DEPLOYMENT_APPROVAL_WITHDRAWN.topic,  # the change's own facts say it all
        c.REQUEST_COMMENTED.topic,  # a conversation: no metric counts what people say
        c.CHANGE_COMMENTED.topic,
        c.WEEKLY_REPORT_ISSUED.topic,  # what was told of the figures, not a fact they count
    }
    assert {p.topic for p in c.ALL} - TOPICS == unused
    assert {p.topic for p in c.ALL} >= TOPICS
