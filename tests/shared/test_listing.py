"""How a list page reads its address and writes the addresses it links to."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from shared.web.listing import Listing, Statuses

STATUSES = Statuses.of(
    ("submitted", "accepted", "delivered", "rejected"), {"delivered", "rejected"}, "closed"
)


def test_a_link_leaves_out_what_is_at_its_default() -> None:
    """The first page and the default status are not spelled out: the plain address is
    the list as it opens."""
    asked = Listing("/requests", {"status": "open", "page": "1"}, {"status": "open"})
    asked.choice("status", ("open", "closed"), "status", "open requests")
    asked.text("q", 200)
    assert asked.address() == "/requests"
    assert asked.address(page=2) == "/requests?page=2"
    assert asked.address(status="closed", q="bill shock") == "/requests?status=closed&q=bill+shock"


def test_a_choice_is_matched_whatever_its_case_and_spelled_as_known() -> None:
    asked = Listing("/changes", {"subsystem": "  call centre DESKTOP "})
    assert asked.choice("subsystem", ("CRM", "Call Centre Desktop"), "subsystem", "all") == (
        "Call Centre Desktop"
    )
    assert asked.errors == []


def test_the_open_and_closed_choices_stand_for_their_statuses() -> None:
    assert STATUSES.chosen("open") == ("submitted", "accepted")
    assert STATUSES.chosen("closed") == ("delivered", "rejected")
    assert STATUSES.chosen("all") == ()
    assert STATUSES.chosen("accepted") == ("accepted",)
    assert [key for key, _ in STATUSES.choices()][:3] == ["open", "closed", "all"]


def test_a_long_or_odd_value_is_cut_and_named_not_echoed_whole() -> None:
    """A page number past the last allowed and a status of 10,000 characters are both
    refused in a sentence of bounded length."""
    asked = Listing("/changes", {"status": "x" * 10_000, "page": "9" * 50}, {"status": "open"})
    assert STATUSES.read(asked, "changes") == ("submitted", "accepted")
    assert asked.page == 1
    assert all(len(error) < 200 for error in asked.errors)
    assert len(asked.errors) == 2


@given(
    person=st.text(max_size=64).map(str.strip),
    page=st.integers(min_value=1, max_value=100_000),
)
def test_a_link_reads_back_as_the_same_question(person: str, page: int) -> None:
    """Whatever a person's name holds (&, =, #, spaces, any script), the address a link
    carries reads back as the same filter and page."""
    asked = Listing("/changes", {"person": person, "page": str(page)})
    asked.text("person", 64)
    address = urlsplit(asked.address())
    back = {k: v[0] for k, v in parse_qs(address.query).items()}
    again = Listing("/changes", back)
    assert again.text("person", 64) == person
    assert again.page == page
    assert again.errors == []


@given(st.one_of(st.text(max_size=30), st.sampled_from(["2026-W09-1", "20260301", "2026-03-01"])))
def test_a_day_is_read_only_as_yyyy_mm_dd_and_anything_else_is_named(given_text: str) -> None:
    """What a date field sends (2026-03-01) is a day; anything else (1 March, 2026-02-30,
    and ISO's other spellings, 20260301 and 2026-W09-1) is named and left out of the
    question, and of the links the page writes."""
    asked = Listing("/requests", {"delivered_from": given_text})
    day = asked.day("delivered_from", "any delivery date")
    stripped = given_text.strip()
    if day is not None:
        assert day.isoformat() == stripped
        assert asked["delivered_from"] == stripped
        assert asked.errors == []
    else:
        assert asked["delivered_from"] == ""
        assert asked.errors == ([] if not stripped else [asked.errors[0]])
        assert all(
            "is not a date (YYYY-MM-DD): showing any delivery date." in e for e in asked.errors
        )


def test_two_days_the_wrong_way_round_are_swapped_and_that_is_said() -> None:
    asked = Listing("/requests", {"from": "2026-03-31", "to": "2026-03-01"})
    low, high = asked.days("from", "to", "delivery dates", "any delivery date")
    assert (str(low), str(high)) == ("2026-03-01", "2026-03-31")
    assert asked.address() == "/requests?from=2026-03-01&to=2026-03-31"
    assert asked.errors == [
        "The delivery dates were the wrong way round: showing 2026-03-01 to 2026-03-31."
    ]
