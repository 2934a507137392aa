"""The list of every request: open by default, closed or of one status on asking; by
department, category, subsystem, IT owner and words; a page at a time; an address it
cannot read is named, not a failure."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

import pytest

from services.intake.application import Intake
from services.intake.views import IntakeViews
from shared.application import acting_as
from shared.web import listing
from tests.web.conftest import REFERENCE, Web
from tests.web.conftest import listed as shown
from tests.web.test_intake_pages import (
    accept,
    decide,
    delivered,
    delivered_on_march_1_2_3,
    rated,
    submit,
)


def listed(web: Web, address: str, as_: str = "rm") -> list[str]:
    return shown(web, address, as_)


def reject(web: Web, request_id: str) -> None:
    decide(web, request_id, "reject", {"reason": "Out of scope this year"})


def test_the_request_list_shows_open_requests_newest_first_and_closed_ones_when_asked(
    web: Web,
) -> None:
    """Open is the default (submitted, waiting for an answer, accepted or deferred); a
    rejected request is listed as closed and under every status, never as open."""
    submit(web, title="Bill shock alerts by SMS")
    turned_down = submit(web, title="A new logo")
    accept(web, submit(web, title="Faster number porting"))
    reject(web, turned_down)
    assert listed(web, "/requests") == ["REQ-3", "REQ-1"]
    assert listed(web, "/requests?status=closed") == ["REQ-2"]
    assert listed(web, "/requests?status=Rejected") == ["REQ-2"]  # any case
    assert listed(web, "/requests?status=accepted") == ["REQ-3"]
    assert listed(web, "/requests?status=all") == ["REQ-3", "REQ-2", "REQ-1"]


def test_the_request_list_filters_by_department_category_subsystem_owner_and_words(
    web: Web,
) -> None:
    """Each filter narrows the list, and they combine; a department or subsystem is
    matched whatever its case."""
    submit(web, title="Bill shock alerts by SMS", subsystems=["Billing"])
    submit(web, "vp.care", title="Call-back scheduling", category="unplanned", subsystems=["CRM"])
    accept(web, submit(web, title="Loyalty offers in the CRM", subsystems=["CRM", "Billing"]))
    assert listed(web, "/requests?department=customer+care") == ["REQ-2"]
    assert listed(web, "/requests?category=unplanned") == ["REQ-2"]
    assert listed(web, "/requests?subsystem=crm") == ["REQ-3", "REQ-2"]
    assert listed(web, "/requests?subsystem=CRM&department=Sales") == ["REQ-3"]
    assert listed(web, "/requests?owner=dev.alice") == ["REQ-3"]
    assert listed(web, "/requests?q=bill+shock") == ["REQ-1"]
    assert listed(web, "/requests?q=nothing+like+this") == []


def test_the_request_list_goes_a_page_at_a_time(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every role reads the list; Newer and Older keep the filters; a page past the last
    says so and leads back to the first."""
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    for n in range(5):
        submit(web, title=f"Report number {n}")
    assert listed(web, "/requests", as_="cab.carl") == ["REQ-5", "REQ-4"]
    assert listed(web, "/requests?page=3", as_="vp.care") == ["REQ-1"]
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        second = client.get("/requests?category=business_project&page=2").text
        past = client.get("/requests?page=4").text
    assert "3\u20134 of 5" in second  # an en dash
    assert 'href="/requests?category=business_project" rel="prev">Newer</a>' in second
    assert 'href="/requests?category=business_project&amp;page=3" rel="next">Older</a>' in second
    assert "Page 4 is past the last of 3" in past


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=lost", "There is no status “lost”: showing open requests."),
        ("department=Legal", "There is no department “Legal”: showing every department."),
        ("category=urgent", "There is no category “urgent”: showing every one."),
        ("subsystem=Mainframe", "There is no subsystem “Mainframe”: showing every one."),
        ("page=two", "“two” is not a page number: showing the first page."),
        ("page=100001", "“100001” is not a page number: showing the first page."),
        ("delivered_from=1+March", "“1 March” is not a date (YYYY-MM-DD): showing any delivery"),
        ("delivered_to=2026-02-30", "“2026-02-30” is not a date (YYYY-MM-DD): showing any"),
    ],
)
def test_an_address_the_request_list_cannot_read_is_named_and_the_rest_answered(
    web: Web, query: str, message: str
) -> None:
    """A stale or mistyped address is not a 422: the page says what it set aside and
    answers the rest (a department is one that has submitted requests)."""
    submit(web, title="Bill shock alerts by SMS")
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get(f"/requests?{query}")
    assert page.status_code == 200
    assert message in page.text
    assert REFERENCE.findall(page.text) == ["REQ-1"]


def test_the_request_list_lists_what_was_delivered_between_two_business_days(web: Web) -> None:
    """The days are the business time zone's, both counted; either may be left open; given
        the wrong way round they are swapped, and the page says so. The API reads the same, and
    refuses a range the wrong way round, which it cannot say it swapped."""
    delivered_on_march_1_2_3(web, "Shipped")
    delivered = "/requests?status=delivered"
    assert listed(web, f"{delivered}&delivered_from=2026-03-02&delivered_to=2026-03-03") == [
        "REQ-3",
        "REQ-2",
    ]
    assert listed(web, f"{delivered}&delivered_from=2026-03-03") == ["REQ-3"]
    assert listed(web, f"{delivered}&delivered_to=2026-03-01") == ["REQ-1"]
    assert listed(web, f"{delivered}&delivered_from=2026-03-04") == []
    # Without a status, delivery dates list delivered requests (open ones never match).
    assert listed(web, "/requests?delivered_to=2026-03-02") == ["REQ-2", "REQ-1"]
    assert listed(web, "/requests?status=open&delivered_to=2026-03-02") == []
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        swapped = client.get(f"{delivered}&delivered_from=2026-03-02&delivered_to=2026-03-01")
        api = client.get("/api/requests", params={"delivered_from": "2026-03-02"})
        refused = client.get("/api/requests", params={"delivered_to": "2 March"})
        backwards = client.get(
            "/api/requests", params={"delivered_from": "2026-03-02", "delivered_to": "2026-03-01"}
        )
    assert (backwards.status_code, backwards.json()["rule"]) == (422, "invalid_range")
    assert "delivered_from 2026-03-02 is after delivered_to 2026-03-01" in backwards.text
    assert REFERENCE.findall(swapped.text) == ["REQ-2", "REQ-1"]
    assert "The delivery dates were the wrong way round: showing 2026-03-01 to 2026-03-02." in (
        swapped.text
    )
    assert 'name="delivered_from" value="2026-03-01"' in swapped.text  # the form as applied
    assert [r["title"] for r in api.json()["items"]] == ["Shipped 3", "Shipped 2"]
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"


def test_a_delivery_counts_on_the_business_day_it_happened_there(new_york: Web) -> None:
    """Delivered at 21:00 UTC on 1-3 March is 16:00 in New York the same day; one at
    03:00 UTC on 5 March is still 4 March there, and is listed under the 4th, not the 5th
    (the day a metrics period counts it on)."""
    delivered_on_march_1_2_3(new_york, "Shipped")
    late = submit(new_york, title="Late night release")
    accept(new_york, late)
    intake = Intake(
        new_york.platform.log, IntakeViews(new_york.platform.log), new_york.platform.directory
    )
    with acting_as("rm", at=datetime(2026, 3, 5, 3, tzinfo=UTC)):
        intake.deliver(uuid.UUID(late), None, None)
    delivered = "/requests?status=delivered"
    assert listed(new_york, f"{delivered}&delivered_from=2026-03-04&delivered_to=2026-03-04") == [
        "REQ-4"
    ]
    assert listed(new_york, f"{delivered}&delivered_from=2026-03-05") == []
    assert listed(new_york, f"{delivered}&delivered_to=2026-03-03") == ["REQ-3", "REQ-2", "REQ-1"]


def test_the_whole_request_list_downloads_as_csv_with_its_plan(web: Web) -> None:
    """Every matching request with its owner, points and dates; an unreadable filter is
    set aside there as on the page."""
    submit(web, title="Bill shock alerts by SMS")
    accept(web, submit(web, title="+44 number porting"))
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        answer = client.get("/requests.csv?status=all&department=Nowhere")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["Reference"] for r in rows] == ["REQ-2", "REQ-1"]
    assert rows[0]["Title"] == "'+44 number porting"
    assert (rows[0]["Status"], rows[0]["IT owner"], rows[0]["Points"]) == (
        "accepted",
        "dev.alice",
        "5",
    )
    assert rows[1]["Target date"] == "2027-03-01"  # the date asked for


def test_a_rating_the_list_cannot_read_is_named_and_the_api_refuses_it(web: Web) -> None:
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/requests", params={"rating": "9", "rated_from": "12 March"})
        api = client.get("/api/requests", params={"rating": 9}, headers=web.people.headers("rm"))
    assert page.status_code == 200
    assert "There is no rating “9”: showing any rating." in page.text
    assert "“12 March” is not a date (YYYY-MM-DD): showing any rating date." in page.text
    assert api.status_code == 422


def test_deliveries_not_rated_yet_are_listed_on_asking_on_the_page_and_from_the_api(
    web: Web,
) -> None:
    """`rating=none` (the start page's "to rate"): delivered and not rated, unless another
    status is asked for; `unrated=true` from the API."""
    ids = [delivered(web, f"Shipped {n}", n) for n in (1, 2)]
    submit(web, title="Still open")
    rated(web, ids[0], 2)
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get("/requests", params={"rating": "none"}).text
        everything = client.get("/requests", params={"rating": "none", "status": "all"}).text
        api = client.get(
            "/api/requests", params={"unrated": "true", "status": "delivered"},
            headers=web.people.headers("vp.sales"),
        ).json()  # fmt: skip
    assert "Shipped 2" in page
    assert "Shipped 1" not in page
    assert "Still open" not in page
    assert "Still open" in everything
    assert "Shipped 1" not in everything
    assert [r["title"] for r in api["items"]] == ["Shipped 2"]


def test_a_vp_rates_deliveries_in_place_from_the_list_of_those_to_rate(web: Web) -> None:
    """Each of their department's rows holds a rating form that returns to the list, where
    the rated one has left it; another department's VP sees the list without forms; a
    return address off the list goes to the request's page instead."""
    first, second = (delivered(web, f"Shipped {n}", n) for n in (1, 2))
    address = "/requests?rating=none&department=Sales"
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        page = client.get(address).text
        assert page.count('class="inline rate"') == 2
        assert "latest delivered first" in page
        assert page.index("Shipped 2") < page.index("Shipped 1")  # delivered 2 March, 1 March
        answer = client.post(
            f"/requests/{first}/rating",
            data={"csrf_token": csrf, "score": "4", "back": address},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == address
        assert "Shipped 1" not in client.get(address).text
        elsewhere = client.post(
            f"/requests/{second}/rating",
            data={"csrf_token": csrf, "score": "5", "back": "//evil.example/requests?x"},
            follow_redirects=False,
        )
        assert elsewhere.headers["location"] == f"/requests/{second}?notice=rated"
    with web.client() as client:
        web.sign_in(client, "vp.care")
        assert 'class="inline rate"' not in client.get("/requests?rating=none").text


def test_rate_it_on_the_departments_page_lands_on_the_rating_form(web: Web) -> None:
    request_id = delivered(web, "Shipped", 1)
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        assert f'href="/requests/{request_id}#rate">Rate it' in client.get("/department").text
        assert '<section class="card" id="rate">' in client.get(f"/requests/{request_id}").text
