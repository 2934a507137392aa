"""Rating a delivered request from its page or the list of those to rate: a form sent from
a page shown before a rating was given meanwhile is refused, not an overwrite."""

from __future__ import annotations

import html
import re

from tests.web.conftest import Web, csrf_of
from tests.web.test_intake_pages import delivered

VERSION = re.compile(r'name="version" value="(\d+)"')


def rating_form_version(page: str) -> str:
    found = VERSION.search(page.split('id="rate"')[1])
    assert found, "the rating form carries no version"
    return found.group(1)


def test_a_rating_sent_from_a_tab_shown_before_another_rating_is_refused_not_overwritten(
    web: Web,
) -> None:
    """Two tabs on a delivered request: 2/5 with a comment from the first, then 5 from the
    second (still showing "Rate it") is refused with the rating given meanwhile; what
    was typed stays in the form and the 2/5 and its comment stay."""
    request_id = delivered(web, "Bill shock alerts", 1)
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        tab_one = client.get(f"/requests/{request_id}").text
        tab_two = client.get(f"/requests/{request_id}").text
        assert ">Rate it</button>" in tab_two
        first = client.post(
            f"/requests/{request_id}/rating",
            data={
                "csrf_token": csrf_of(tab_one),
                "version": rating_form_version(tab_one),
                "score": "2",
                "comment": "Too slow to arrive",
            },
            follow_redirects=False,
        )
        assert first.status_code == 303, first.text
        stale = client.post(
            f"/requests/{request_id}/rating",
            data={
                "csrf_token": csrf_of(tab_two),
                "version": rating_form_version(tab_two),
                "score": "5",
                "comment": "Great",
            },
            follow_redirects=False,
        )
        assert stale.status_code == 409
        said = html.unescape(stale.text)
        assert "was rated 2/5 (“Too slow to arrive”) meanwhile" in said
        assert "Thank you for your rating" not in said
        assert '<option value="5" selected>' in stale.text  # what was typed is kept
        assert 'value="Great"' in stale.text
        detail = client.get(f"/api/requests/{request_id}", headers=web.people.headers("rm"))
    assert (detail.json()["rating"], detail.json()["rating_comment"]) == (
        2,
        "Too slow to arrive",
    )


def test_a_rating_changed_deliberately_from_a_fresh_page_replaces_the_earlier_one(
    web: Web,
) -> None:
    """The page shown after the refusal (or any reload) carries the rating it replaces: sent
    from it, the new rating is taken."""
    request_id = delivered(web, "Bill shock alerts", 1)
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        for score, comment in (("2", "Too slow"), ("4", "Works well now")):
            page = client.get(f"/requests/{request_id}").text
            sent = client.post(
                f"/requests/{request_id}/rating",
                data={
                    "csrf_token": csrf_of(page),
                    "version": rating_form_version(page),
                    "score": score,
                    "comment": comment,
                },
                follow_redirects=False,
            )
            assert sent.status_code == 303, sent.text
        page = client.get(f"/requests/{request_id}").text
    assert "4/5 — Works well now" in html.unescape(page)


def test_a_rating_from_the_list_of_those_to_rate_is_refused_once_rated_meanwhile(
    web: Web,
) -> None:
    """The list's in-place form carries the version it showed too."""
    request_id = delivered(web, "Bill shock alerts", 1)
    address = "/requests?rating=none&department=Sales"
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        listing = client.get(address).text
        page = client.get(f"/requests/{request_id}").text
        client.post(
            f"/requests/{request_id}/rating",
            data={
                "csrf_token": csrf_of(page),
                "version": rating_form_version(page),
                "score": "1",
                "comment": "Broken",
            },
        )
        found = VERSION.search(listing)
        assert found
        stale = client.post(
            f"/requests/{request_id}/rating",
            data={
                "csrf_token": csrf_of(listing),
                "version": found.group(1),
                "score": "5",
                "back": address,
            },
            follow_redirects=False,
        )
    assert stale.status_code == 409
    assert "was rated 1/5 (“Broken”) meanwhile" in html.unescape(stale.text)
