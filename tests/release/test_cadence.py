"""Release train cadences and milestone dates: pure calendar arithmetic."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.release.cadence import DEFAULT_OFFSETS, Cadence, MilestoneOffsets, nth_weekday
from shared.domain import InvalidCommand

LONDON = ZoneInfo("Europe/London")


def test_second_tuesday_is_always_a_tuesday_between_the_8th_and_the_14th() -> None:
    """A year of a monthly train on the second Tuesday."""
    cadence = Cadence.monthly("Tuesday", 2, date(2027, 1, 1))
    dates = cadence.upcoming(date(2026, 12, 31), 12)
    assert [d.month for d in dates] == list(range(1, 13))
    assert all(d.weekday() == 1 and 8 <= d.day <= 14 for d in dates)
    assert dates[:3] == [date(2027, 1, 12), date(2027, 2, 9), date(2027, 3, 9)]


def test_last_weekday_follows_month_lengths_and_leap_years() -> None:
    """The last Friday of February differs in a leap year; 30- and 31-day months too."""
    cadence = Cadence.monthly("friday", -1, date(2028, 1, 1))
    assert cadence.upcoming(date(2027, 12, 31), 5) == [
        date(2028, 1, 28),
        date(2028, 2, 25),
        date(2028, 3, 31),
        date(2028, 4, 28),
        date(2028, 5, 26),
    ]
    assert nth_weekday(2027, 2, 0, -1) == date(2027, 2, 22)  # February of a common year
    assert nth_weekday(2028, 2, 1, -1) == date(2028, 2, 29)  # a leap day that is a Tuesday


def test_first_weekday_of_a_month_that_starts_on_that_day_is_the_first() -> None:
    assert nth_weekday(2027, 2, 0, 1) == date(2027, 2, 1)  # 1 February 2027 is a Monday
    assert nth_weekday(2027, 2, 0, 4) == date(2027, 2, 22)


def test_a_fifth_weekday_is_refused_because_not_every_month_has_one() -> None:
    with pytest.raises(InvalidCommand) as refused:
        Cadence.monthly("tuesday", 5, date(2027, 1, 1))
    assert refused.value.rule == "week_of_month_out_of_range"
    with pytest.raises(InvalidCommand, match="day of the week"):
        Cadence.monthly("someday", 1, date(2027, 1, 1))


def test_monthly_train_starts_at_its_start_date_not_before() -> None:
    """A train starting on 15 January 2027 first deploys on the second Tuesday of February."""
    cadence = Cadence.monthly("tuesday", 2, date(2027, 1, 15))
    assert cadence.upcoming(date(2026, 6, 1), 1) == [date(2027, 2, 9)]


def test_every_n_weeks_counts_from_the_start_date() -> None:
    cadence = Cadence.every_n_weeks(2, date(2027, 1, 5))
    assert cadence.upcoming(date(2026, 1, 1), 3) == [
        date(2027, 1, 5),
        date(2027, 1, 19),
        date(2027, 2, 2),
    ]
    # From the middle of a cycle the next date is the next one on the cycle.
    assert cadence.upcoming(date(2027, 1, 20), 2) == [date(2027, 2, 2), date(2027, 2, 16)]


def test_upcoming_dates_are_strictly_after_the_day_given() -> None:
    """A deployment due today is not upcoming any more."""
    cadence = Cadence.every_n_weeks(1, date(2027, 1, 5))
    assert cadence.upcoming(date(2027, 1, 5), 1) == [date(2027, 1, 12)]


def test_interval_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidCommand) as refused:
        Cadence.every_n_weeks(0, date(2027, 1, 5))
    assert refused.value.rule == "interval_out_of_range"


def test_cadence_reads_back_from_its_recorded_form() -> None:
    for cadence in (
        Cadence.monthly("wednesday", -1, date(2027, 3, 1)),
        Cadence.every_n_weeks(3, date(2027, 3, 1)),
    ):
        assert Cadence.from_json(cadence.to_json()) == cadence
    assert Cadence.monthly("tuesday", 2, date(2027, 1, 1)).describe() == (
        "monthly on the second Tuesday"
    )


def test_milestones_fall_at_their_offsets_in_the_trains_time_zone() -> None:
    """Across the change to summer time the local clock time stays, the UTC offset moves."""
    milestones = MilestoneOffsets.parse(DEFAULT_OFFSETS).for_deploy_date(date(2027, 3, 30), LONDON)
    assert milestones.scope_freeze_at == datetime(2027, 3, 16, 17, tzinfo=LONDON)
    assert milestones.scope_freeze_at.utcoffset() == timedelta(0)
    assert milestones.window_start == datetime(2027, 3, 30, 20, tzinfo=LONDON)
    assert milestones.window_start.utcoffset() == timedelta(hours=1)
    assert milestones.window_end == datetime(2027, 3, 31, 2, tzinfo=LONDON)
    fields = milestones.event_fields()
    assert fields["deploy_date"] == "2027-03-30"
    assert fields["window_start"] == "2027-03-30T20:00:00+01:00"


def test_milestones_out_of_order_are_refused() -> None:
    offsets = {**DEFAULT_OFFSETS, "qa_start": {"days": -20, "time": "09:00"}}
    with pytest.raises(InvalidCommand) as refused:
        MilestoneOffsets.parse(offsets)
    assert refused.value.rule == "milestones_out_of_order"
    empty_window = {**DEFAULT_OFFSETS, "window_end": DEFAULT_OFFSETS["window_start"]}
    with pytest.raises(InvalidCommand):
        MilestoneOffsets.parse(empty_window)


def test_a_time_of_day_must_be_a_time() -> None:
    with pytest.raises(InvalidCommand) as refused:
        MilestoneOffsets.parse({**DEFAULT_OFFSETS, "qa_start": {"days": -7, "time": "9 am"}})
    assert refused.value.rule == "invalid_time_of_day"
