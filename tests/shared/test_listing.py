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
