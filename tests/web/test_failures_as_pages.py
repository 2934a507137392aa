"""What a person sees when Railyard itself fails: a page saying what happened and what to
do, never problem details meant for programs; an unexpected error names the id it was
logged with, in the page, the API's answer and its header."""

from __future__ import annotations

import pytest

from services.intake.views import IntakeViews
from shared.store.errors import StoreUnavailable
from shared.web.access import PageAccess
from tests.web.conftest import Web

HTML = {"accept": "text/html,application/xhtml+xml"}


def test_a_store_that_does_not_answer_is_a_page_saying_nothing_was_saved(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")

        async def unreachable(*_: object) -> None:
            raise StoreUnavailable("couldn't get a connection after 5.00 sec")

        def unreachable_view(*_: object, **__: object) -> None:
            raise StoreUnavailable("couldn't get a connection after 5.00 sec")

        monkeypatch.setattr(PageAccess, "signed_in", unreachable)
        monkeypatch.setattr(IntakeViews, "counts", unreachable_view)
        page = client.get("/", headers=HTML)
        posted = client.post("/requests/new", data={"csrf_token": csrf, "title": "Typed"})
        api = client.get("/api/requests/counts")
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "2"
    assert "Railyard cannot reach its database" in page.text
    assert "Idempotency-Key" not in page.text
    assert posted.status_code == 503  # a form, whatever it accepts back: a page too
    assert "Nothing was saved." in posted.text
    assert "Back button returns to the form" in posted.text
    assert api.status_code == 503  # an API client still gets problem details
    assert api.headers["content-type"] == "application/problem+json"


def test_an_unexpected_error_names_the_id_it_was_logged_with(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(IntakeViews, "counts", broken)
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        answer = client.get("/api/requests/counts")
        page = client.get("/api/requests/counts", headers=HTML)
    assert answer.status_code == 500
    request_id = answer.headers["x-request-id"]
    assert answer.json()["request_id"] == request_id
    assert request_id in answer.json()["detail"]
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-request-id"] in page.text
    assert "Something went wrong" in page.text


def test_a_forms_address_opened_in_the_browser_leads_to_the_page_it_belongs_to(
    web: Web,
) -> None:
    """A refused form leaves its address in the address bar; Enter there, or a bookmark,
    opened a dead end ("Not here")."""
    with web.client() as client:
        web.sign_in(client, "rm")
        request_id = "0b6f7e1e-8d1c-4a52-9d8e-3f4e5a6b7c8d"
        form = client.get(f"/requests/{request_id}/comments", headers=HTML, follow_redirects=False)
        deep = client.get("/release/plan/apply", headers=HTML, follow_redirects=False)
        api = client.get(f"/api/requests/{request_id}/comments", headers=HTML)
        nothing = client.get("/no/such/page", headers=HTML)
    assert form.status_code == 303
    assert form.headers["location"] == f"/requests/{request_id}"
    assert deep.status_code == 303
    assert deep.headers["location"] == "/release"
    assert api.status_code == 405  # an API's address is answered as the API answers
    assert nothing.status_code == 404
    assert "There is no page at this address." in nothing.text


def test_an_address_asking_a_page_for_what_it_cannot_show_says_which_part_not_not_found(
    web: Web,
) -> None:
    """`/department?delivered=year` was answered "Not found: this address does not name
    anything", though the page is there and only the choice is not one it takes (the
    dashboard's unit, once the example, is now shown by month, saying why)."""
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get("/department", params={"delivered": "year"}, headers=HTML)
        missing = client.get("/requests/not-an-id", headers=HTML)
    assert page.status_code == 400, page.text
    assert "delivered: &#34;year&#34; is not one it takes" in page.text
    assert "recent" in page.text
    assert '<a href="/department">The page without them</a>' in page.text
    assert missing.status_code == 404  # a path that names nothing is still not found
