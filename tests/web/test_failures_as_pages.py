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
