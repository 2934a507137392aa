"""Notifications over HTTP: admins own endpoints, everyone owns their subscriptions."""

from __future__ import annotations

import uuid

from shared import contracts as c
from shared.platform import Platform
from tests.builders import request_payload
from tests.conftest import Api
from tests.foreign import publish


def register(api: Api, url: str = "https://hooks.example.com/railyard", **extra: object):
    return api.post(
        "/api/webhooks", "admin", json={"url": url, "event_types": ["ChangeRequest.*"], **extra}
    )


def test_admin_registers_an_endpoint_and_sees_its_secret_once(api: Api) -> None:
    created = api.post(
        "/api/webhooks",
        "admin",
        key="hook-1",
        json={"url": "https://hooks.example.com/a", "event_types": ["ChangeRequest.*"]},
    )
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    replay = api.post(
        "/api/webhooks",
        "admin",
        key="hook-1",
        json={"url": "https://hooks.example.com/a", "event_types": ["ChangeRequest.*"]},
    )
    assert replay.json()["id"] == created.json()["id"]
    assert replay.json()["secret"] is None  # a secret is never kept to be shown again
    listed = api.get("/api/webhooks", "admin").json()
    assert [e["url"] for e in listed] == ["https://hooks.example.com/a"]
    assert "secret" not in listed[0]


def test_only_admins_manage_endpoints(api: Api) -> None:
    assert register_as(api, "rm").status_code == 403
    assert api.get("/api/webhooks", "rm").status_code == 403


def register_as(api: Api, who: str):
    return api.post(
        "/api/webhooks", who, json={"url": "https://h.example.com/x", "event_types": ["*"]}
    )


def test_bad_endpoint_definitions_are_422_naming_the_rule(api: Api) -> None:
    bad_filter = register(api, event_types=["accepted"])
    assert bad_filter.status_code == 422
    assert bad_filter.json()["rule"] == "invalid_event_type"
    for unknown in (["NoSuch.Event"], ["ChangeRequest.Acepted"], ["Nothing.*"]):
        refused = register(api, event_types=unknown)
        assert refused.status_code == 422
        assert refused.json()["rule"] == "unknown_event_type"
        assert f"no event Railyard publishes is {unknown[0]}" in refused.json()["detail"]
    assert register(api, event_types=["ReleaseBundle.*", "ChangeRequest.Accepted"]).is_success
    credentials = register(api, url="https://u:p@hooks.example.com/x")
    assert credentials.json()["rule"] == "credentials_in_url"


def test_pause_resume_rotate_remove(api: Api) -> None:
    endpoint = register(api).json()
    base = f"/api/webhooks/{endpoint['id']}"
    assert api.post(f"{base}/pause", "admin", json={"reason": "x"}).json()["active"] is False
    assert api.post(f"{base}/pause", "admin", json={"reason": "x"}).status_code == 409
    assert api.post(f"{base}/resume", "admin").json()["active"] is True
    rotated = api.post(f"{base}/rotate-secret", "admin").json()
    assert rotated["secret"] != endpoint["secret"]
    assert api.post(f"{base}/remove", "admin").status_code == 200
    assert api.get(base, "admin").status_code == 404


def test_resending_something_that_is_not_a_dead_letter_is_409(api: Api) -> None:
    response = api.post("/api/webhook-deliveries/1:endpoint:x/resend", "admin")
    assert response.status_code == 409
    assert response.json()["rule"] == "not_a_dead_letter"


def test_everyone_sees_and_changes_their_own_subscriptions(api: Api) -> None:
    mine = api.get("/api/me/notifications", "vp.sales").json()
    assert mine["channels"]["department_requests"] == "email"  # the requester default
    assert mine["channels"]["approvals"] == "off"
    changed = api.put(
        "/api/me/notifications/topics/department_requests", "vp.sales", json={"channel": "digest"}
    )
    assert changed.status_code == 200
    assert changed.json()["channels"]["department_requests"] == "digest"
    assert changed.json()["chosen"] == ["department_requests"]
    webhook = api.put(
        "/api/me/notifications/topics/department_requests", "vp.sales", json={"channel": "webhook"}
    )
    assert webhook.status_code == 409
    assert webhook.json()["rule"] == "webhook_url_required"


def test_a_topic_that_can_never_reach_someone_is_refused_naming_those_that_can(
    api: Api,
) -> None:
    """Approvals only ever go to CAB members: a requester choosing email for them was
    told 200 and would wait for messages that never come. Nothing is saved; a CAB member
    chooses it as before."""
    before = api.get("/api/me/notifications", "vp.sales").json()
    refused = api.put(
        "/api/me/notifications/topics/approvals", "vp.sales", json={"channel": "email"}
    )
    assert (refused.status_code, refused.headers["content-type"]) == (
        422,
        "application/problem+json",
    )
    assert refused.json()["rule"] == "topic_not_for_you"
    assert refused.json()["detail"] == (
        "approvals never reaches you: it is for cab_member. The topics that can reach you:"
        " department_requests, followed_bundles, mentions, conversations, followed_items"
    )
    assert api.get("/api/me/notifications", "vp.sales").json() == before
    chosen = api.put(
        "/api/me/notifications/topics/approvals", "cab.carl", json={"channel": "digest"}
    )
    assert (chosen.status_code, chosen.json()["channels"]["approvals"]) == (200, "digest")


def planned_bundle(platform: Platform) -> str:
    """A release bundle as the release service's log records it."""
    bundle = uuid.uuid4()
    publish(
        platform.log, c.BUNDLE_PLANNED, bundle, 1, actor="rm", train_id=str(uuid.uuid4()),
        name="2027.03", deploy_date="2027-03-09", window_start="2027-03-09T20:00:00+00:00",
        window_end="2027-03-09T23:00:00+00:00", scope_freeze_at="2027-02-23T17:00:00+00:00",
        code_complete_at=None, qa_start_at=None, capacity_points=40, subsystem_capacity={},
    )  # fmt: skip
    return str(bundle)


def test_personal_webhook_shows_its_secret_and_following_a_bundle(api: Api) -> None:
    hook = api.put(
        "/api/me/notifications/webhook", "dev.alice", json={"url": "https://chat.example.com/hook"}
    )
    assert hook.json()["secret"].startswith("whsec_")
    bundle = planned_bundle(api.platform)
    followed = api.post("/api/me/notifications/follow", "dev.alice", json={"bundle_id": bundle})
    assert followed.json()["followed_bundles"] == [bundle]
    again = api.post("/api/me/notifications/unfollow", "dev.alice", json={"bundle_id": bundle})
    assert again.json()["followed_bundles"] == []
    assert (
        api.post(
            "/api/me/notifications/unfollow", "dev.alice", json={"bundle_id": bundle}
        ).status_code
        == 409
    )


def test_anyone_follows_a_request_or_a_change_by_naming_exactly_one(api: Api) -> None:
    submitted = api.post("/api/requests", "vp.sales", json=request_payload())
    request_id = submitted.json()["id"]
    follow = "/api/me/notifications/follow"
    followed = api.post(follow, "vp.care", json={"request_id": request_id})
    assert followed.status_code == 200, followed.text
    assert followed.json()["followed_requests"] == [request_id]
    assert followed.json()["channels"]["followed_items"] == "email"
    mine = api.get("/api/me/notifications", "vp.care").json()
    assert mine["followed_requests"] == [request_id]
    both = api.post(follow, "vp.care", json={"request_id": request_id, "bundle_id": request_id})
    assert both.status_code == 422
    assert "exactly one" in both.text
    assert api.post(follow, "vp.care", json={}).status_code == 422
    unknown = api.post(follow, "vp.care", json={"change_id": str(uuid.uuid4())})
    assert unknown.status_code == 404
    assert unknown.json()["rule"] == "production_change_not_found"
    # A request's id is not a change's.
    assert api.post(follow, "vp.care", json={"change_id": request_id}).status_code == 404
    stopped = api.post("/api/me/notifications/unfollow", "vp.care", json={"request_id": request_id})
    assert stopped.json()["followed_requests"] == []
