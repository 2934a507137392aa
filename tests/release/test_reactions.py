"""Release follows change control: the production change that deploys a bundle decides
its approval, deployment or rollback, exactly once. Change control does not exist on
this branch: its facts are appended by contract topic, as it would append them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.release.reactions import BundleFollowsItsDeploymentChange
from shared import contracts
from shared.store.followers import ReactionRunner
from tests.conftest import Api
from tests.foreign import publish
from tests.release.builders import accepted_request, first_bundle, pass_qa, scheduled


def signed_off_bundle(api: Api, requests: int = 2) -> tuple[str, list[str]]:
    bundle = first_bundle(api)
    ids = [accepted_request(api, title=f"Request {n}") for n in range(requests)]
    for request_id in ids:
        scheduled(api, bundle, request_id)
    api.post(f"/api/bundles/{bundle}/freeze", "rm", json={})
    for request_id in ids:
        pass_qa(api, bundle, request_id)
    response = api.post(f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={"note": "green"})
    assert response.status_code == 200, response.text
    return bundle, ids


def raise_change(
    api: Api, bundle: str | None, change_type: str = "release_deployment"
) -> uuid.UUID:
    change = uuid.uuid4()
    publish(
        api.platform.log,
        contracts.CHANGE_RAISED,
        change,
        1,
        actor="dev.alice",
        change_type=change_type,
        title="Deploy the bundle",
        bundle_id=bundle,
        subsystems=["Billing"],
        window_start="2027-01-12T20:00:00+00:00",
        window_end="2027-01-13T02:00:00+00:00",
        requester="dev.alice",
        implementers=["ops.olga"],
        risk="medium",
    )
    return change


def approve(api: Api, change: uuid.UUID) -> None:
    publish(api.platform.log, contracts.CHANGE_APPROVED, change, 2, approvers=["cab.carl"])


def complete(
    api: Api,
    change: uuid.UUID,
    bundle: str | None,
    outcome: str,
    change_type: str = "release_deployment",
) -> None:
    publish(
        api.platform.log,
        contracts.CHANGE_COMPLETED,
        change,
        3,
        actor="ops.olga",
        outcome=outcome,
        change_type=change_type,
        bundle_id=bundle,
        notes=f"deployment {outcome}",
    )


def follow(api: Api) -> None:
    """What the worker does: every view and reaction of every service catches up."""
    api.client.app.state.followers.run_once()  # type: ignore[attr-defined]


def bundle_state(api: Api, bundle: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/api/bundles/{bundle}", "rm").json()
    return body


def test_approved_change_approves_the_bundle_and_success_deploys_and_delivers_it(
    api: Api,
) -> None:
    bundle, requests = signed_off_bundle(api)
    change = raise_change(api, bundle)
    approve(api, change)
    follow(api)
    state = bundle_state(api, bundle)
    assert (state["status"], state["change_id"]) == ("approved_for_deployment", str(change))
    complete(api, change, bundle, "succeeded")
    follow(api)
    follow(api)  # intake's reaction follows release's Deployed
    assert bundle_state(api, bundle)["status"] == "deployed"
    history = api.get(f"/api/bundles/{bundle}/history", "rm").json()
    deployed = history[-1]
    assert deployed["type"] == "ReleaseBundle.Deployed"
    assert deployed["data"]["request_ids"] == requests
    assert deployed["actor"] == "railyard"
    for request_id in requests:
        assert api.get(f"/api/requests/{request_id}", "vp.sales").json()["status"] == "delivered"


@pytest.mark.parametrize("outcome", ["rolled_back", "failed"])
def test_failed_or_rolled_back_change_rolls_the_bundle_back(api: Api, outcome: str) -> None:
    bundle, requests = signed_off_bundle(api, requests=1)
    change = raise_change(api, bundle)
    approve(api, change)
    complete(api, change, bundle, outcome)
    follow(api)
    follow(api)
    state = bundle_state(api, bundle)
    assert state["status"] == "rolled_back"
    assert state["closing_reason"] == f"deployment {outcome}"
    last = api.get(f"/api/bundles/{bundle}/history", "rm").json()[-1]
    assert last["data"]["outcome"] == outcome
    assert api.get(f"/api/requests/{requests[0]}", "rm").json()["status"] == "accepted"


@pytest.mark.parametrize("what", ["revised", "withdrawn"])
def test_an_edited_or_withdrawn_deployment_change_no_longer_approves_the_bundle(
    api: Api, what: str
) -> None:
    bundle, _ = signed_off_bundle(api, requests=1)
    change = raise_change(api, bundle)
    approve(api, change)
    follow(api)
    assert bundle_state(api, bundle)["status"] == "approved_for_deployment"
    if what == "revised":
        publish(
            api.platform.log,
            contracts.CHANGE_REVISED,
            change,
            3,
            actor="dev.alice",
            revision=2,
            title="Deploy 2027.01",
            implementers=["ops.olga"],
            subsystems=["Billing"],
            window_start="2027-01-19T20:00:00+00:00",
            window_end="2027-01-20T02:00:00+00:00",
            risk="medium",
            approvals_voided=["cab.carl"],
            changed=["window_start", "window_end"],
            previous={"window_start": None, "window_end": None},
        )
    else:
        publish(
            api.platform.log,
            contracts.CHANGE_WITHDRAWN,
            change,
            3,
            actor="dev.alice",
            reason="moved to the next train",
        )
    follow(api)
    state = bundle_state(api, bundle)
    assert (state["status"], state["change_id"]) == ("qa_signed_off", None)
    last = api.get(f"/api/bundles/{bundle}/history", "rm").json()[-1]
    assert last["type"] == "ReleaseBundle.DeploymentApprovalWithdrawn"
    approve_again = uuid.uuid4()
    publish(
        api.platform.log,
        contracts.CHANGE_RAISED,
        approve_again,
        1,
        actor="dev.alice",
        change_type="release_deployment",
        title="Deploy, take two",
        bundle_id=bundle,
        subsystems=["Billing"],
        window_start="2027-01-19T20:00:00+00:00",
        window_end="2027-01-20T02:00:00+00:00",
        requester="dev.alice",
        implementers=["ops.olga"],
        risk="medium",
    )
    approve(api, approve_again)
    follow(api)
    assert bundle_state(api, bundle)["status"] == "approved_for_deployment"


def test_changes_that_deploy_no_bundle_are_none_of_releases_business(api: Api) -> None:

    bundle, _ = signed_off_bundle(api, requests=1)
    before = len(api.get(f"/api/bundles/{bundle}/history", "rm").json())
    change = raise_change(api, None, change_type="standard")
    approve(api, change)
    complete(api, change, None, "succeeded", change_type="standard")
    follow(api)
    assert len(api.get(f"/api/bundles/{bundle}/history", "rm").json()) == before


def test_approval_of_a_bundle_qa_has_not_signed_off_changes_nothing(api: Api) -> None:
    bundle = first_bundle(api)
    scheduled(api, bundle, accepted_request(api))
    change = raise_change(api, bundle)
    approve(api, change)
    follow(api)
    assert bundle_state(api, bundle)["status"] == "planning"


def test_a_follower_killed_after_acting_does_not_act_twice_when_restarted(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle's events and the reaction's mark commit together; a restart skips it."""
    bundle, _ = signed_off_bundle(api, requests=1)
    change = raise_change(api, bundle)
    approve(api, change)
    reaction = next(
        r
        for r in api.client.app.state.followers.reactions.reactions  # type: ignore[attr-defined]
        if isinstance(r, BundleFollowsItsDeploymentChange)
    )
    runner = ReactionRunner(api.platform.log, [reaction])

    def killed(*_: object) -> None:
        raise KeyboardInterrupt("killed before recording its position")

    monkeypatch.setattr(runner, "_advance", killed)
    with pytest.raises(KeyboardInterrupt):
        runner.catch_up()
    assert bundle_state(api, bundle)["status"] == "approved_for_deployment"
    ReactionRunner(api.platform.log, [reaction]).catch_up()  # restarted
    approvals = [
        e
        for e in api.get(f"/api/bundles/{bundle}/history", "rm").json()
        if e["type"] == "ReleaseBundle.ApprovedForDeployment"
    ]
    assert len(approvals) == 1
