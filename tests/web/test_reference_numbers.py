"""REQ-12 and CHG-7: numbers people can say, in the order the log received each record."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.change_control.views import ChangeControlViews
from services.intake.views import IntakeViews
from shared.contracts import REQUEST_REFERENCES
from tests.builders import request_payload
from tests.change_control.builders import change_payload
from tests.web.conftest import Web

PROBLEM = "application/problem+json"


def _post(web: Web, client: TestClient, path: str, as_: str, body: dict[str, Any]) -> str:
    answer = client.post(path, json=body, headers=web.people.headers(as_))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _get(web: Web, client: TestClient, path: str, as_: str, **params: Any) -> Any:
    return client.get(path, params=params, headers=web.people.headers(as_))


def _three_requests_and_two_changes(web: Web, client: TestClient) -> tuple[list[str], list[str]]:
    requests = [
        _post(web, client, "/api/requests", "vp.sales", request_payload(title=title))
        for title in ("Bill shock alerts", "Loyalty offers", "Roaming caps")
    ]
    changes = [
        _post(web, client, "/api/changes", "dev.alice", change_payload(title=title))
        for title in ("Patch the servers", "Rotate the certificates")
    ]
    return requests, changes


def test_requests_and_changes_are_numbered_in_the_order_the_log_received_them(web: Web) -> None:
    client = web.client()
    requests, changes = _three_requests_and_two_changes(web, client)
    for n, request_id in enumerate(requests, start=1):
        found = _get(web, client, f"/api/requests/{request_id}", "rm").json()
        assert (found["number"], found["reference"]) == (n, f"REQ-{n}")
    listed = _get(web, client, "/api/changes", "rm").json()["items"]
    assert {c["id"]: c["reference"] for c in listed} == {
        changes[0]: "CHG-1",
        changes[1]: "CHG-2",
    }
    calendar = _get(web, client, "/api/change-calendar", "rm").json()["changes"]
    assert {c["change_id"]: c["reference"] for c in calendar} == {
        changes[0]: "CHG-1",
        changes[1]: "CHG-2",
    }
    # The API finds one by its reference, however it is typed.
    page = _get(web, client, "/api/requests", "rm", reference="req2").json()
    assert [r["id"] for r in page["items"]] == [requests[1]]
    page = _get(web, client, "/api/changes", "rm", reference="chg-2").json()
    assert [c["id"] for c in page["items"]] == [changes[1]]
    page = _get(web, client, "/api/requests", "rm", reference="REQ-0").json()
    assert (page["items"], page["total"]) == ([], 0)
    refused = _get(web, client, "/api/requests", "rm", reference="CHG-2")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM


def test_a_rebuilt_view_numbers_every_request_and_change_the_same(web: Web) -> None:
    client = web.client()
    _three_requests_and_two_changes(web, client)

    def references() -> dict[str, str]:
        found = _get(web, client, "/api/requests", "rm").json()["items"]
        found += _get(web, client, "/api/changes", "rm").json()["items"]
        return {r["id"]: r["reference"] for r in found}

    before = references()
    assert sorted(before.values()) == ["CHG-1", "CHG-2", "REQ-1", "REQ-2", "REQ-3"]
    IntakeViews(web.platform.log).group.rebuild()
    ChangeControlViews(web.platform.log).group.rebuild()
    assert references() == before


def test_a_view_made_before_numbers_numbers_its_requests_by_submission_order(web: Web) -> None:
    """An installation upgraded from a version without numbers: its requests are numbered
    when the service starts, by the order of their Submitted events, not reset."""
    client = web.client()
    requests, _ = _three_requests_and_two_changes(web, client)
    log = web.platform.log
    views = IntakeViews(log)
    views.group.catch_up()
    with log.db.transaction(write=True) as cur:  # as an older version left the table
        cur.execute(f"DROP INDEX IF EXISTS {log.table('intake_requests_number')}")
        cur.execute(f"ALTER TABLE {log.table('intake_requests')} DROP COLUMN number")
    restarted = IntakeViews(log)
    restarted.group.setup()
    assert [restarted.with_number(n) for n in (1, 2, 3)] == requests
    # and the next request goes on from there
    later = _post(web, client, "/api/requests", "vp.sales", request_payload(title="SIM swap"))
    assert restarted.with_number(4) == later


def test_the_header_box_opens_a_request_or_a_change_by_its_number(web: Web) -> None:
    client = web.client()
    requests, changes = _three_requests_and_two_changes(web, client)
    web.sign_in(client, "cab.carl")
    for typed, where in (
        ("REQ-2", f"/requests/{requests[1]}"),
        (" req3 ", f"/requests/{requests[2]}"),
        ("CHG-1", f"/changes/{changes[0]}"),
    ):
        answer = client.get("/find", params={"q": typed}, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, where)
    page = client.get(f"/requests/{requests[1]}").text
    assert '<span class="ref">REQ-2</span>' in page
    assert 'action="/find"' in page
    unknown = client.get("/find", params={"q": "REQ-99"})
    assert unknown.status_code == 404
    assert "Nothing is numbered &ldquo;REQ-99&rdquo;." in unknown.text


def test_words_in_the_header_box_list_the_requests_and_changes_with_them(web: Web) -> None:
    client = web.client()
    requests, changes = _three_requests_and_two_changes(web, client)
    web.sign_in(client, "vp.care")
    page = client.get("/find", params={"q": "THE"}).text  # Patch the servers, Rotate the...
    assert 'Production changes <span class="muted">· 2</span>' in page
    assert f'<span class="ref">CHG-2</span> <a href="/changes/{changes[1]}">' in page
    page = client.get("/find", params={"q": "certificates"}).text
    assert 'Production changes <span class="muted">· 1</span>' in page
    assert "No requests with &ldquo;certificates&rdquo;." in page
    page = client.get("/find", params={"q": "loyalty"}).text
    assert f'<span class="ref">REQ-2</span> <a href="/requests/{requests[1]}">' in page
    assert "No production changes with &ldquo;loyalty&rdquo;." in page
    page = client.get("/find", params={"q": "50%"}).text  # a wildcard is a character
    assert "No requests with &ldquo;50%&rdquo;." in page
    short = client.get("/find", params={"q": "a"})
    assert short.status_code == 200
    assert "Type at least two letters" in short.text


def test_a_request_or_change_has_an_address_by_its_number(web: Web) -> None:
    client = web.client()
    requests, changes = _three_requests_and_two_changes(web, client)
    web.sign_in(client, "vp.sales")
    answer = client.get("/requests/REQ-3", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/requests/{requests[2]}")
    answer = client.get("/changes/CHG-2", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/changes/{changes[1]}")
    missing = client.get("/requests/REQ-4")
    assert missing.status_code == 404
    assert "No change request is numbered REQ-4." in missing.text
    missing = client.get("/changes/CHG-9")
    assert missing.status_code == 404
    assert "No production change is numbered CHG-9." in missing.text
    zero = client.get("/changes/CHG-0")  # it said "numbered ." with the number missing
    assert zero.status_code == 404
    assert "No production change is numbered CHG-0." in zero.text


@pytest.mark.parametrize(
    ("typed", "number"),
    [("REQ-12", 12), ("req12", 12), (" REQ-0012 ", 12), ("REQ-0", None), ("CHG-12", None),
     ("REQ-", None), ("REQ-12a", None), ("12", None)],
)  # fmt: skip
def test_a_reference_is_read_however_it_is_typed(typed: str, number: int | None) -> None:
    assert REQUEST_REFERENCES.number(typed) == number
