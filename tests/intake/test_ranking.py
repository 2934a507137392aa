"""A department's ranking through the API: what a VP sends, and what is then answered."""

from __future__ import annotations

from tests.builders import accept, submit
from tests.conftest import Api

RANKING = "/api/departments/Sales/ranking"


def accepted(api: Api, n: int) -> list[str]:
    ids = [submit(api, title=f"Request {i}") for i in range(n)]
    for request_id in ids:
        accept(api, request_id)
    return ids


def test_a_partial_order_puts_those_first_and_keeps_the_rest_in_their_place(api: Api) -> None:
    """The VP moves two requests to the top; the others keep the order the department
    had given them, and the PUT answers the ranking as GET then shows it."""
    a, b, c, d = accepted(api, 4)
    assert api.put(RANKING, "vp.sales", json={"order": [d, c, b, a]}).status_code == 200
    moved = api.put(RANKING, "vp.sales", json={"order": [a, b]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["request_ids"] == [a, b, d, c]
    shown = api.get(RANKING, "dev.alice").json()
    assert shown["request_ids"] == moved.json()["request_ids"]
    assert moved.json()["updated_by"] == "vp.sales"


def test_an_empty_order_is_refused_not_taken_as_clearing_the_ranking(api: Api) -> None:
    a, b = accepted(api, 2)
    api.put(RANKING, "vp.sales", json={"order": [b, a]})
    empty = api.put(RANKING, "vp.sales", json={"order": []})
    assert (empty.status_code, empty.json()["rule"]) == (422, "empty_ranking")
    assert api.get(RANKING, "vp.sales").json()["request_ids"] == [b, a]


def test_a_ranking_read_can_be_sent_back_as_request_ids_or_by_reference(api: Api) -> None:
    """What GET answers (request_ids) is accepted as the order, and so is REQ-12."""
    a, b = accepted(api, 2)
    read = api.get(RANKING, "vp.sales").json()
    back = api.put(RANKING, "vp.sales", json={"request_ids": read["request_ids"][::-1]})
    assert back.status_code == 200, back.text
    assert back.json()["request_ids"] == [b, a]
    reference = api.get(f"/api/requests/{a}", "vp.sales").json()["reference"]
    by_reference = api.put(RANKING, "vp.sales", json={"order": [reference]})
    assert by_reference.json()["request_ids"] == [a, b]
    unknown = api.put(RANKING, "vp.sales", json={"order": ["REQ-999"]})
    assert (unknown.status_code, unknown.json()["detail"]) == (
        404, "no change request REQ-999"
    )  # fmt: skip
