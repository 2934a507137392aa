"""Times are typed and read in the business time zone, and the pages say which: the
change window's and a blackout's boxes are labelled with it, the blackout list names
it beside its times, and a refusal says an instant in it, never as a raw timestamp."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.web.conftest import Web
from tests.web.test_blackout_pages import blackout_form

NEW_YORK = ZoneInfo("America/New_York")


def test_the_window_and_blackout_boxes_name_the_business_time_zone(new_york: Web) -> None:
    with new_york.client() as client:
        new_york.sign_in(client, "rm")
        raising = client.get("/changes/new").text
        blackouts = client.get("/blackouts").text
    assert 'Window starts <span class="hint">(America/New_York)</span>' in raising
    assert 'Window ends <span class="hint">(America/New_York)</span>' in raising
    assert 'From <span class="hint">(America/New_York)</span>' in blackouts
    assert 'Until <span class="hint">(America/New_York)</span>' in blackouts


def test_the_blackout_list_names_the_time_zone_of_its_times(new_york: Web) -> None:
    day = (datetime.now(NEW_YORK) + timedelta(days=10)).date()
    typed = blackout_form(start=f"{day}T09:00", end=f"{day}T17:00")
    answer = new_york.submit("rm", "/blackouts", typed)  # type: ignore[arg-type]
    assert answer.status_code == 303, answer.text
    with new_york.client() as client:
        new_york.sign_in(client, "cab.carl")
        page = client.get("/blackouts").text
    zone = datetime(day.year, day.month, day.day, 9, tzinfo=NEW_YORK).strftime("%Z")
    shown = day.strftime("%d %b %Y").lstrip("0")
    assert f'<td data-label="From">{shown} 09:00 {zone}</td>' in page
    assert f'<td data-label="Until">{shown} 17:00 {zone}</td>' in page


def test_a_blackout_ended_already_is_refused_with_its_end_in_the_business_time_zone(
    new_york: Web,
) -> None:
    """Not "(2026-01-02T00:00:00+00:00)": the end as typed, in New York, named; the
    boxes keep what was typed."""
    typed = blackout_form(start="2026-01-01T09:00", end="2026-01-01T19:00")
    answer = new_york.submit("rm", "/blackouts", typed)  # type: ignore[arg-type]
    assert answer.status_code == 422
    assert (
        "The blackout would have ended already (1 Jan 2026 19:00 EST): it could hold nothing back."
    ) in answer.text
    assert "+00:00" not in answer.text
    assert 'value="2026-01-01T19:00"' in answer.text
