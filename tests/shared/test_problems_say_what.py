"""What a refused request is told: each problem's detail says what was wrong, in terms the
caller can act on, with one title for each status."""

from __future__ import annotations

from tests.builders import request_payload, submit
from tests.conftest import Api

JSON = {"Content-Type": "application/json"}


def test_if_match_naming_a_version_that_never_existed_says_so(api: Api) -> None:
    """If-Match "999" on a record at version 1 is not "changed since you read it": no one
    read version 999."""
    request_id = submit(api)
    for version in ("999", "0"):
        answer = api.put(
            f"/api/requests/{request_id}", "vp.sales",
            json=request_payload(title="Other"), headers={"If-Match": f'"{version}"'},
        )  # fmt: skip
        assert answer.status_code == 412
        assert answer.json()["detail"].startswith(f"no version {version} of this")
        assert "it is at version 1" in answer.json()["detail"]
        assert "changed since you read it" not in answer.json()["detail"]
        assert answer.json()["current_version"] == 1


def test_a_method_not_allowed_names_the_allowed_methods(api: Api) -> None:
    answer = api.client.delete("/api/requests", headers=api.people.headers("vp.sales"))
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.json()["detail"] == ("DELETE is not allowed at /api/requests: use GET or POST")


def test_a_body_too_deep_or_not_utf8_is_422_saying_what_is_wrong(api: Api) -> None:
    headers = {**api.people.headers("vp.sales"), **JSON}
    deep = api.client.post("/api/requests", content=b"[" * 50_000, headers=headers)
    assert (deep.status_code, deep.json()["rule"]) == (422, "invalid_request")
    assert "nested too deeply" in deep.json()["detail"]
    latin1 = api.client.post(
        "/api/requests", content='{"title": "Caf\u00e9"}'.encode("latin-1"), headers=headers
    )
    assert (latin1.status_code, latin1.json()["rule"]) == (422, "invalid_request")
    assert latin1.json()["detail"] == (
        "the body is not valid UTF-8 (at byte 14): send JSON encoded as UTF-8"
    )


def test_invalid_json_names_no_field_and_says_where_it_broke(api: Api) -> None:
    headers = {**api.people.headers("vp.sales"), **JSON}
    cut = api.client.post("/api/requests", content=b'{"title": "x",', headers=headers)
    assert cut.status_code == 422
    error = cut.json()["errors"][0]
    assert "field" not in error
    assert "at character 14" in error["message"]


def test_a_nul_in_a_field_names_that_field_in_errors(api: Api) -> None:
    answer = api.post("/api/requests", "vp.sales", json=request_payload(title="Bill\x00shock"))
    assert answer.json()["rule"] == "nul_character"
    assert answer.json()["errors"][0]["field"] == "title"


def test_every_422_has_the_same_title(api: Api) -> None:
    nul = api.get("/api/requests?q=a%00b", "vp.sales")
    schema = api.post("/api/requests", "vp.sales", json={})
    assert (nul.status_code, schema.status_code) == (422, 422)
    assert nul.json()["title"] == schema.json()["title"]


def test_a_write_whose_body_says_it_is_not_json_is_415_saying_so(api: Api) -> None:
    """`curl -d '{...}'` sends a form's type: it was a 422 whose errors named no field."""
    headers = {
        **api.people.headers("vp.sales"),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    before = api.get("/api/requests", "vp.sales").json()["total"]
    answer = api.client.post("/api/requests", content=b'{"title": "x"}', headers=headers)
    assert answer.status_code == 415
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["rule"] == "unsupported_media_type"
    assert "send it with Content-Type: application/json" in answer.json()["detail"]
    assert api.get("/api/requests", "vp.sales").json()["total"] == before
    typed = {**api.people.headers("vp.sales"), "Content-Type": "application/json; charset=utf-8"}
    taken = api.client.post("/api/requests", content=request_json(), headers=typed)
    assert taken.status_code == 201, taken.text


def test_head_answers_as_get_does_without_the_body(api: Api) -> None:
    """HEAD on any GET route was 405 (RFC 9110: a server supports HEAD where it has GET)."""
    headers = api.people.headers("vp.sales")
    got = api.client.get("/api/requests", headers=headers)
    head = api.client.head("/api/requests", headers=headers)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]
    assert api.client.head("/healthz").status_code == 200


def request_json() -> bytes:
    import orjson

    return orjson.dumps(request_payload())
