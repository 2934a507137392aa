"""The consumer feed, tokens and roles, over HTTP on both backends."""

from __future__ import annotations

import orjson

from shared.store.recorders import IDEMPOTENCY_TABLE
from tests.builders import accept, request_payload, submit
from tests.conftest import Api


def test_feed_pages_every_event_in_order_with_who_and_when(api: Api) -> None:
    request_id = submit(api)
    accept(api, request_id)
    seen = []
    after = 0
    while True:
        page = api.get("/api/events", "metrics.mo", params={"after": after, "limit": 5}).json()
        seen += page["events"]
        after = page["next_after"]
        if not page["has_more"]:
            break
    positions = [e["position"] for e in seen]
    assert positions == sorted(set(positions))
    assert positions[-1] == page["head"]
    mine = [e for e in seen if e["aggregate_id"] == request_id]
    assert [e["type"] for e in mine] == ["ChangeRequest.Submitted", "ChangeRequest.Accepted"]
    assert [e["actor"] for e in mine] == ["vp.sales", "rm"]
    assert all(e["occurred_at"] and e["correlation_id"] for e in mine)
    assert [e["version"] for e in mine] == [1, 2]


def test_feed_page_size_is_bounded(api: Api) -> None:
    limit = api.platform.settings.feed_max_page
    response = api.get("/api/events", "metrics.mo", params={"limit": limit + 1})
    assert response.status_code == 422


def test_feed_never_serves_secrets_or_their_hashes(api: Api) -> None:
    body = api.get("/api/events", "admin", params={"limit": 1000}).text
    for token in api.people.tokens.values():
        assert token not in body
    issued = [e for e in orjson.loads(body)["events"] if e["type"] == "User.TokenIssued"]
    assert issued
    assert {e["data"]["token_hash"] for e in issued} == {"[redacted]"}


def test_feed_is_for_metrics_readers_release_managers_and_admins(api: Api) -> None:
    assert api.get("/api/events", "vp.sales").status_code == 403
    assert api.get("/api/events", "dev.alice").status_code == 403
    for reader in ("metrics.mo", "rm", "admin"):
        assert api.get("/api/events", reader).status_code == 200


def test_live_tail_streams_events_as_server_sent_events(api: Api) -> None:
    submit(api)
    head = api.get("/api/events", "metrics.mo", params={"limit": 1000}).json()["head"]
    with api.client.stream(
        "GET",
        "/api/events/stream",
        params={"after": head - 2, "max_events": 2},
        headers=api.people.headers("metrics.mo"),
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    assert ids == [head - 1, head]
    assert "event: ChangeRequest.Submitted" in text


def test_live_tail_resumes_from_last_event_id(api: Api) -> None:
    submit(api)
    head = api.get("/api/events", "metrics.mo", params={"limit": 1000}).json()["head"]
    headers = {**api.people.headers("metrics.mo"), "Last-Event-ID": str(head - 1)}
    with api.client.stream(
        "GET", "/api/events/stream", params={"max_events": 1}, headers=headers
    ) as stream:
        text = "".join(stream.iter_text())
    assert f"id: {head}" in text


def test_a_last_event_id_that_is_no_position_is_refused_not_replayed_from_the_start(
    api: Api,
) -> None:
    headers = {**api.people.headers("metrics.mo"), "Last-Event-ID": "abc"}
    refused = api.client.get("/api/events/stream", params={"max_events": 1}, headers=headers)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["rule"] == "invalid_last_event_id"


def test_a_position_past_the_head_is_refused_not_answered_with_an_empty_page(
    api: Api,
) -> None:
    """A consumer storing `next_after` from an empty page past the head would skip every
    event appended up to there: 422 position_beyond_head names the head instead, for a
    page and for the live tail; the head itself is an ordinary, empty, last page."""
    head = api.get("/api/events", "metrics.mo", params={"limit": 1000}).json()["head"]
    beyond = api.get("/api/events", "metrics.mo", params={"after": 1_000_000_000_000})
    assert (beyond.status_code, beyond.headers["content-type"]) == (
        422,
        "application/problem+json",
    )
    assert beyond.json()["rule"] == "position_beyond_head"
    assert f"the log's head is at position {head}" in beyond.json()["detail"]
    assert beyond.json()["head"] == head
    at_head = api.get("/api/events", "metrics.mo", params={"after": head}).json()
    assert (at_head["events"], at_head["next_after"], at_head["has_more"]) == ([], head, False)
    headers = api.people.headers("metrics.mo")
    tail = api.client.get("/api/events/stream", params={"after": head + 1}, headers=headers)
    assert (tail.status_code, tail.json()["rule"]) == (422, "position_beyond_head")
    resumed = api.client.get(
        "/api/events/stream", headers={**headers, "Last-Event-ID": str(head + 5)}
    )
    assert (resumed.status_code, resumed.json()["rule"]) == (422, "position_beyond_head")


def test_revoked_token_is_refused_at_once(api: Api) -> None:
    issued = api.post("/api/users/vp.sales/tokens", "vp.sales", json={"label": "laptop"})
    assert issued.status_code == 201
    token, token_id = issued.json()["token"], issued.json()["token_id"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/me", headers=headers).status_code == 200
    revoked = api.post(f"/api/tokens/{token_id}/revoke", "vp.sales", json={"reason": "lost"})
    assert revoked.status_code == 200
    assert api.client.get("/api/me", headers=headers).status_code == 401


def test_deactivated_user_loses_access(api: Api) -> None:
    response = api.post("/api/users/vp.care/deactivate", "admin", json={"reason": "left"})
    assert response.status_code == 200
    assert api.get("/api/me", "vp.care").status_code == 401


def test_an_admin_cannot_deactivate_themselves_over_the_api(api: Api) -> None:
    """Their tokens would stop at once, and perhaps no one would be left to reactivate
    them (the page refused it already; the API took it)."""
    refused = api.post("/api/users/admin/deactivate", "admin", json={"reason": "oops"})
    assert refused.status_code == 409
    assert refused.json()["rule"] == "cannot_deactivate_self"
    assert api.get("/api/me", "admin").status_code == 200


def test_an_admin_cannot_take_the_admin_role_from_themselves(api: Api) -> None:
    """The only admin made themselves a metrics reader: nobody was left to manage users,
    and `railyard bootstrap` refused them as no admin. As deactivating oneself, refused;
    another admin may still do it, and their own other roles they change freely."""
    mine = {"display_name": "Ada", "roles": ["metrics_reader"]}
    refused = api.put("/api/users/admin/profile", "admin", json=mine)
    assert (refused.status_code, refused.json()["rule"]) == (409, "cannot_remove_own_admin")
    assert "admin" in api.get("/api/me", "admin").json()["roles"]
    kept = api.put("/api/users/admin/profile", "admin", json={**mine, "roles": ["admin"]})
    assert kept.status_code == 200, kept.text


def test_only_admins_manage_users_and_others_tokens(api: Api) -> None:
    new_user = {"username": "vp.finance", "roles": ["requester"], "department": "Finance"}
    assert api.post("/api/users", "rm", json=new_user).status_code == 403
    assert api.post("/api/users", "admin", json=new_user).status_code == 201
    assert api.post("/api/users", "admin", json=new_user).json()["rule"] == "user_exists"
    other = api.post("/api/users/vp.finance/tokens", "vp.sales", json={})
    assert other.status_code == 403
    assert other.json()["rule"] == "own_account_only"


def test_requester_must_have_a_department(api: Api) -> None:
    response = api.post("/api/users", "admin", json={"username": "nodept", "roles": ["requester"]})
    assert response.status_code == 422
    assert response.json()["rule"] == "department_required"


def test_it_staff_must_belong_to_a_team(api: Api) -> None:
    """A team decides who may give QA verdicts and approve as operations: none is a 422."""
    response = api.post("/api/users", "admin", json={"username": "noteam", "roles": ["it_staff"]})
    assert (response.status_code, response.json()["rule"]) == (422, "team_required")
    assert "development, qa, operations" in response.json()["detail"]


def test_tokens_are_never_stored_in_clear(api: Api) -> None:
    """Not in the log, not in the views, not in the idempotency records."""
    key_response = api.post("/api/users/dev.alice/tokens", "dev.alice", json={}, key="tok-1")
    token = key_response.json()["token"]
    replay = api.post("/api/users/dev.alice/tokens", "dev.alice", json={}, key="tok-1")
    assert replay.json()["token"] is None  # shown once, never again
    submit(api)
    tokens = [*api.people.tokens.values(), token]
    with api.platform.log.db.transaction() as cur:
        tables = [
            "railyard_events",
            IDEMPOTENCY_TABLE,
            "identity_users",
            "identity_tokens",
            "intake_requests",
            "intake_history",
        ]
        dump = ""
        for table in tables:
            cur.execute(f"SELECT * FROM {api.platform.log.table(table)}")
            dump += repr(cur.fetchall())
    for clear in tokens:
        assert clear not in dump
        assert clear.split("_", 2)[2] not in dump


def test_who_am_i(api: Api) -> None:
    me = api.get("/api/me", "vp.sales").json()
    assert me == {
        "username": "vp.sales",
        "display_name": "Val Sales",
        "roles": ["requester"],
        "department": "Sales",
        "team": None,
    }


def test_submitted_request_ids_are_valid_for_everyone_to_read(api: Api) -> None:
    request_id = submit(api, **request_payload(title="Visible"))
    for reader in ("vp.care", "dev.alice", "cab.carl", "metrics.mo"):
        assert api.get(f"/api/requests/{request_id}", reader).status_code == 200


def test_a_department_is_kept_as_its_people_spell_it_and_a_team_only_where_it_counts(
    api: Api,
) -> None:
    """A VP registered in "sales" was in a department of their own, apart from Sales's
    requests; a metrics reader in team "qa" was stored so, a team nothing reads."""
    sales = {"username": "vp.sales2", "roles": ["requester"], "department": "sales"}
    assert api.post("/api/users", "admin", json=sales).status_code == 201
    assert api.get("/api/users/vp.sales2", "admin").json()["department"] == "Sales"
    reader = {"username": "mo.metrics", "roles": ["metrics_reader"], "team": "qa"}
    refused = api.post("/api/users", "admin", json=reader)
    assert (refused.status_code, refused.json()["rule"]) == (422, "team_not_used")


def test_an_unknown_user_is_named_as_given_not_by_an_internal_id(api: Api) -> None:
    answer = api.put(
        "/api/users/nobody/profile", "admin", json={"roles": ["requester"], "department": "Sales"}
    )
    assert (answer.status_code, answer.json()["rule"]) == (404, "user_not_found")
    assert answer.json()["detail"] == "no user 'nobody'"


def test_a_whole_number_written_with_a_point_is_that_number(api: Api) -> None:
    """10.0 is the whole number 10 to JSON Schema's `integer`, as the document publishes
    it: it was refused as of another type. 10.5 and `true` still are."""
    issued = api.post("/api/users/admin/tokens", "admin", json={"expires_in_days": 10.0})
    assert issued.status_code == 201, issued.text
    for wrong in (10.5, True):
        refused = api.post("/api/users/admin/tokens", "admin", json={"expires_in_days": wrong})
        assert refused.status_code == 422, refused.text
