"""Release and change control together, as one process runs them: a bundle reaches
production only through an approved release deployment, and its requests are then
delivered exactly once."""

from __future__ import annotations

from datetime import timedelta

from shared.logging import configure_logging
from shared.settings import load_settings
from tests.change_control.builders import approve, raise_change, window
from tests.conftest import Api
from tests.logs import captured_logs
from tests.release.builders import accepted_request, first_bundle, pass_qa, scheduled


def follow(api: Api) -> None:
    """What the worker does: every view and reaction of every service catches up."""
    for _ in range(3):  # release follows change control; intake follows release
        api.client.app.state.followers.run_once()  # type: ignore[attr-defined]  # set by create_app


def deployment_change(api: Api, bundle: str) -> str:
    # The train's bundles deploy weeks from now; the change's own window is now, so the
    # implementer can start it in this test.
    now = window(starts_in=timedelta(minutes=-5))
    return raise_change(
        api,
        as_="rm",
        change_type="release_deployment",
        bundle_id=bundle,
        implementers=["ops.olga"],
        window_start=now.start_iso,
        window_end=now.end_iso,
    )


def test_a_bundle_reaches_production_only_through_an_approved_change(api: Api) -> None:
    bundle = first_bundle(api)
    requests = [accepted_request(api, title=f"Request {n}") for n in range(2)]
    for request_id in requests:
        scheduled(api, bundle, request_id)
    follow(api)
    change = deployment_change(api, bundle)
    path = f"/api/changes/{change}/approve"
    assert api.post(path, "cab.carl", json={}).json()["rule"] == "bundle_scope_not_frozen"
    api.post(f"/api/bundles/{bundle}/freeze", "rm", json={})
    for request_id in requests:
        pass_qa(api, bundle, request_id)
    assert api.post(path, "cab.carl", json={}).json()["rule"] == "bundle_not_qa_signed_off"
    signed = api.post(f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={"note": "green"})
    assert signed.status_code == 200, signed.text
    approve(api, change, "cab.carl")
    follow(api)
    assert api.get(f"/api/bundles/{bundle}", "rm").json()["status"] == "approved_for_deployment"
    assert api.post(f"/api/changes/{change}/start", "ops.olga").status_code == 200
    done = api.post(f"/api/changes/{change}/complete", "ops.olga", json={"outcome": "succeeded"})
    assert done.json()["status"] == "closed"
    follow(api)
    follow(api)  # once more: nothing is delivered twice
    assert api.get(f"/api/bundles/{bundle}", "rm").json()["status"] == "deployed"
    for request_id in requests:
        detail = api.get(f"/api/requests/{request_id}", "vp.sales").json()
        assert detail["status"] == "delivered"
        delivered = [h for h in detail["history"] if h["type"] == "ChangeRequest.Delivered"]
        assert [h["data"]["change_id"] for h in delivered] == [change]
    shut = api.get(f"/api/changes/{change}", "rm").json()["gates"]  # a deployed bundle
    assert {g["name"]: g["met"] for g in shut}["bundle_open"] is False


def test_a_rolled_back_deployment_needs_qa_to_sign_off_again(api: Api) -> None:
    bundle = first_bundle(api)
    request_id = accepted_request(api)
    scheduled(api, bundle, request_id)
    api.post(f"/api/bundles/{bundle}/freeze", "rm", json={})
    pass_qa(api, bundle, request_id)
    api.post(f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={"note": "green"})
    follow(api)
    first = deployment_change(api, bundle)
    approve(api, first, "cab.carl")
    follow(api)
    api.post(f"/api/changes/{first}/start", "ops.olga")
    api.post(
        f"/api/changes/{first}/complete",
        "ops.olga",
        json={"outcome": "rolled_back", "notes": "the billing run failed"},
    )
    follow(api)
    assert api.get(f"/api/bundles/{bundle}", "rm").json()["status"] == "rolled_back"
    second = deployment_change(api, bundle)
    refused = api.post(f"/api/changes/{second}/approve", "cab.carl", json={})
    assert (refused.status_code, refused.json()["rule"]) == (409, "bundle_not_qa_signed_off")
    assert api.get(f"/api/requests/{request_id}", "vp.sales").json()["status"] == "accepted"


def test_a_withdrawn_request_leaves_its_bundle_until_the_scope_is_locked(api: Api) -> None:
    """The VP withdraws scheduled work: it leaves its bundle (after the freeze as an
    exception, with the requester's reason). In a bundle QA has signed off it stays, for
    the release manager to decide."""
    bundle = first_bundle(api)
    kept, gone, late = (accepted_request(api, title=t) for t in ("Kept", "Gone", "Late"))
    for request_id in (kept, gone, late):
        scheduled(api, bundle, request_id)
    api.post(f"/api/bundles/{bundle}/freeze", "rm", json={})
    reason = {"reason": "the campaign was cancelled"}
    assert api.post(f"/api/requests/{gone}/withdraw", "vp.sales", json=reason).status_code == 200
    follow(api)
    follow(api)  # once more: nothing happens twice
    items = api.get(f"/api/bundles/{bundle}", "rm").json()["items"]
    assert sorted(i["request_id"] for i in items) == sorted([kept, late])
    history = api.get(f"/api/bundles/{bundle}/history", "rm").text
    assert "withdrawn by its requester: the campaign was cancelled" in history
    for request_id in (kept, late):
        pass_qa(api, bundle, request_id)
    signed = api.post(f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={"note": "green"})
    assert signed.status_code == 200, signed.text
    assert api.post(f"/api/requests/{late}/withdraw", "vp.sales", json=reason).status_code == 200
    configure_logging(load_settings(log_level="debug"))  # whatever an earlier test set
    with captured_logs() as logs:
        follow(api)
    items = api.get(f"/api/bundles/{bundle}", "rm").json()["items"]
    assert sorted(i["request_id"] for i in items) == sorted([kept, late])
    # Said, naming the bundle it stays in, for the release manager to act on.
    (stays,) = [e for e in logs if e["event"] == "withdrawn_request_not_unscheduled"]
    assert (stays["request_id"], stays["bundle_id"], stays["log_level"]) == (late, bundle, "info")


def test_a_withdrawn_request_that_was_in_no_bundle_is_not_news_in_the_log(api: Api) -> None:
    """A withdrawal of work no bundle held needs nothing: it was logged at info level as
    "not unscheduled", once per such withdrawal in the whole history on a new store's
    first start (53 lines on the demo's), burying the start-up lines."""
    request_id = accepted_request(api, title="Never scheduled")
    reason = {"reason": "no longer needed"}
    withdrawn = api.post(f"/api/requests/{request_id}/withdraw", "vp.sales", json=reason)
    assert withdrawn.status_code == 200
    configure_logging(load_settings(log_level="debug"))  # whatever an earlier test set
    with captured_logs() as logs:
        follow(api)
    said = [e for e in logs if e.get("request_id") == request_id and e["log_level"] != "debug"]
    assert said == []
