"""Separation of duties and revocation over HTTP, on SQLite and PostgreSQL: the cases the
service tests leave to the domain (tests/change_control/test_approval.py) or do not cover.

Already covered elsewhere: a requester approving or rejecting their own change
(tests/change_control/test_api.py), an implementer approving (test_scenarios.py), a
revoked token and a deactivated user at the API (tests/shared/test_feed_and_identity.py),
a deactivated user's session and calendar feed (tests/web, tests/release)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.application import acting_as
from shared.identity.domain import User, user_id
from shared.platform import Platform
from shared.web.install import install_web
from tests.change_control.builders import MEDIUM, raise_change
from tests.conftest import Api
from tests.logs import captured_logs

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# ops.olga is both IT staff and a CAB member: she may raise or implement a change, and
# approve, reject or review other people's.
CAB_AND_IT = "ops.olga"


def writes(api: Api) -> int:
    return api.platform.log.head()


def failed_change(api: Api, requester: str, implementer: str) -> str:
    change_id = raise_change(api, as_=requester, implementers=[implementer])
    assert api.post(f"/api/changes/{change_id}/approve", "cab.carl", json={}).status_code == 200
    assert api.post(f"/api/changes/{change_id}/start", implementer).status_code == 200
    outcome = {"outcome": "failed", "notes": "The queue did not drain."}
    assert api.post(f"/api/changes/{change_id}/complete", implementer, json=outcome).is_success
    return change_id


DECISIONS = {
    "approve": {},
    "reject": {"reason": "too risky"},
    "review": {"findings": "Fine.", "actions": ""},
}


@pytest.mark.parametrize("decision", sorted(DECISIONS))
@pytest.mark.parametrize("part", ["requester", "implementer"])
def test_requester_and_implementer_never_decide_on_their_own_change(
    api: Api, part: str, decision: str
) -> None:
    """403 naming the rule, logged as security_rule_refused, and nothing written."""
    requester, implementer = (
        (CAB_AND_IT, "dev.alice") if part == "requester" else ("dev.alice", CAB_AND_IT)
    )
    if decision == "review":
        change_id = failed_change(api, requester, implementer)
    else:
        change_id = raise_change(api, as_=requester, implementers=[implementer])
    before = writes(api)
    with captured_logs() as logs:
        answer = api.post(
            f"/api/changes/{change_id}/{decision}", CAB_AND_IT, json=DECISIONS[decision]
        )
    assert answer.status_code == 403, answer.text
    assert answer.json()["rule"] == f"{part}_cannot_{decision}"
    assert writes(api) == before
    assert [e["rule"] for e in logs if e["event"] == "security_rule_refused"] == [
        f"{part}_cannot_{decision}"
    ]


def test_a_cab_members_second_approval_is_refused_and_counts_once(api: Api) -> None:
    """A medium-risk change needs two people: one person approving twice is not two."""
    change_id = raise_change(api, risk=MEDIUM)
    assert api.post(f"/api/changes/{change_id}/approve", "cab.carl", json={}).status_code == 200
    before = writes(api)
    again = api.post(f"/api/changes/{change_id}/approve", "cab.carl", json={})
    assert again.status_code == 409
    assert again.json()["rule"] == "already_approved"
    assert writes(api) == before
    change = api.get(f"/api/changes/{change_id}", "cab.carl").json()
    assert change["status"] == "in_review"
    assert [a["by"] for a in change["approvals"]] == ["cab.carl"]


def test_an_expired_token_is_refused(api: Api) -> None:
    with acting_as("test-setup"):
        user = api.platform.log.get(user_id("vp.sales"), User)
        token = user.issue_token("old laptop", expires_at="2020-01-01T00:00:00+00:00")
        api.platform.log.save(user)
    answer = api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.json()["detail"] == "the token is unknown, revoked or expired"


def test_a_revoked_token_signs_nobody_in_to_the_pages(api: Api) -> None:
    """Revocation holds at the sign-in form as at the API, at once."""
    issued = api.post("/api/users/vp.sales/tokens", "vp.sales", json={"label": "kiosk"}).json()
    assert api.post(f"/api/tokens/{issued['token_id']}/revoke", "vp.sales", json={}).is_success
    with browser(api.platform) as client:
        csrf = CSRF.search(client.get("/signin").text)
        assert csrf
        answer = client.post(
            "/signin",
            data={"csrf_token": csrf.group(1), "token": issued["token"]},
            follow_redirects=False,
        )
        assert answer.status_code == 401
        assert client.get("/", follow_redirects=False).status_code == 303  # still signed out


def test_a_revoked_calendar_secret_is_refused_at_once(api: Api) -> None:
    feed = api.post("/api/calendar/feeds", "vp.sales", json={}).json()
    url = feed["subscribe_path"] + feed["token"]
    assert api.client.get(url).status_code == 200
    revoked = api.post(f"/api/calendar/feeds/{feed['feed_id']}/revoke", "vp.sales", json={})
    assert revoked.status_code == 200
    assert api.client.get(url).status_code == 401


def browser(platform: Platform) -> Any:
    """A browser on the pages of the same platform (sign-in only: no services needed)."""
    from shared.http.app import create_app

    app = create_app(platform, [], run_followers=False)
    install_web(app, platform, [])
    return TestClient(app, raise_server_exceptions=False)
