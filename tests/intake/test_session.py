"""The foundation issue's "How it will be checked", as one scripted HTTP session: a VP and
a release manager submit, query, triage and rank, and a consumer paging the feed sees
every event they caused, in the order they caused it, with who and which request.
On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from services.intake.domain import ranking_id
from tests.builders import request_payload
from tests.conftest import Api


class Session:
    """Drives the API and writes down what each write should have put in the log."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.expected: list[tuple[str, str, str, str]] = []

    def write(
        self, method: str, path: str, as_: str, body: Any, events: list[tuple[str, str]]
    ) -> dict[str, Any]:
        """`events`: (aggregate id or "" for the answer's id, type) this write appends."""
        if method == "POST":
            response = self.api.post(path, as_, json=body, key=f"{as_}:{len(self.expected)}")
        else:
            response = self.api.put(path, as_, json=body)
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        request_id = response.headers["x-request-id"]
        for aggregate_id, event_type in events:
            self.expected.append((aggregate_id or str(answer["id"]), event_type, as_, request_id))
        return answer


def read_whole_feed(api: Api) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        page = api.get("/api/events", "metrics.mo", params={"after": after, "limit": 3}).json()
        seen += page["events"]
        after = page["next_after"]
        if not page["has_more"]:
            return seen


def test_a_vp_and_release_manager_session_is_in_the_feed_in_order(api: Api) -> None:
    """Every submission, question, answer, triage decision and ranking of the session is
    in the consumer feed once, in the order it was made, naming its actor and request."""
    s = Session(api)

    # The VP submits two requests; the second is suggested as a duplicate of the first.
    sms = s.write(
        "POST", "/api/requests", "vp.sales", request_payload(title="Bill shock alerts by SMS"),
        [("", "ChangeRequest.Submitted")],
    )["id"]  # fmt: skip
    second = s.write(
        "POST", "/api/requests", "vp.sales",
        request_payload(title="Bill shock alerts by email", subsystems=["CRM"]),
        [("", "ChangeRequest.Submitted")],
    )  # fmt: skip
    email = second["id"]
    assert [d["id"] for d in second["possible_duplicates"]] == [sms]
    portal = s.write(
        "POST", "/api/requests", "vp.care",
        request_payload(title="Self-service address change", subsystems=["Customer Portal"]),
        [("", "ChangeRequest.Submitted")],
    )["id"]  # fmt: skip
    s.write(
        "PUT", f"/api/requests/{email}", "vp.sales",
        request_payload(title="Bill shock alerts by e-mail", subsystems=["CRM"]),
        [(email, "ChangeRequest.Edited")],
    )  # fmt: skip

    # The release manager works the queue oldest first.
    queue = api.get("/api/triage-queue", "rm").json()
    assert [r["id"] for r in queue] == [sms, email, portal]
    s.write(
        "POST", f"/api/requests/{email}/ask", "rm", {"question": "Which customers?"},
        [(email, "ChangeRequest.InformationRequested")],
    )  # fmt: skip
    assert [r["id"] for r in api.get("/api/triage-queue", "rm").json()] == [sms, portal]
    s.write(
        "POST", f"/api/requests/{email}/information", "vp.sales", {"answer": "Postpaid only"},
        [(email, "ChangeRequest.InformationProvided")],
    )  # fmt: skip
    for request_id, owner in ((sms, "dev.alice"), (email, "dev.alice"), (portal, "ops.olga")):
        s.write(
            "POST", f"/api/requests/{request_id}/accept", "rm",
            {"owner": owner, "size_points": 5},
            [(request_id, "ChangeRequest.Accepted")],
        )  # fmt: skip
    assert api.get("/api/triage-queue", "rm").json() == []

    # The VP ranks the department's accepted work; everyone sees the order.
    sales_ranking = str(ranking_id("Sales"))
    ranking = s.write(
        "PUT", "/api/departments/Sales/ranking", "vp.sales", {"order": [email, sms]},
        [(sales_ranking, "DepartmentRanking.Started"),
         (sales_ranking, "DepartmentRanking.Reordered")],
    )  # fmt: skip
    assert ranking["request_ids"] == [email, sms]
    assert api.get("/api/departments/Sales/ranking", "vp.care").json()["request_ids"] == [
        email,
        sms,
    ]

    # Querying: the list, a request's history, the counts.
    found = api.get(
        "/api/requests", "vp.care", params={"department": "Sales", "status": "accepted"}
    ).json()
    assert {r["id"] for r in found["items"]} == {sms, email}
    history = api.get(f"/api/requests/{email}", "vp.care").json()["history"]
    assert [(h["type"], h["actor"]) for h in history] == [
        ("ChangeRequest.Submitted", "vp.sales"),
        ("ChangeRequest.Edited", "vp.sales"),
        ("ChangeRequest.InformationRequested", "rm"),
        ("ChangeRequest.InformationProvided", "vp.sales"),
        ("ChangeRequest.Accepted", "rm"),
    ]
    assert api.get("/api/requests/counts", "rm").json()["accepted"] == 3

    # The consumer feed holds exactly those events, in that order, each once.
    feed = read_whole_feed(api)
    positions = [e["position"] for e in feed]
    assert positions == sorted(set(positions))
    ours = {aggregate_id for aggregate_id, *_ in s.expected}
    seen = [
        (e["aggregate_id"], e["type"], e["actor"], e["correlation_id"])
        for e in feed
        if e["aggregate_id"] in ours
    ]
    assert seen == s.expected
    assert all(e["occurred_at"] for e in feed if e["aggregate_id"] in ours)
