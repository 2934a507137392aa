"""Metrics over the real release service: a bundle planned, frozen, changed after the
freeze, built, tested and deployed through release's own routes (change control's
facts appended by contract, as it has not landed), with intake delivering its requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api
from tests.release.builders import accepted_request, first_bundle, pass_qa, progress, scheduled
from tests.release.test_reactions import approve, complete, follow, raise_change


def metrics(api: Api, path: str) -> Any:
    today = datetime.now(UTC).date()
    params = {"period": f"{today:%Y-%m}", "as_of": today.isoformat(), "unit": "month"}
    response = api.get(f"/api/metrics{path}", "metrics.mo", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_release_facts_from_the_real_service_feed_the_release_and_dora_metrics(
    api: Api,
) -> None:
    bundle = first_bundle(api)
    a, b, c = (accepted_request(api, title=f"Request {n}", size=3) for n in range(3))
    scheduled(api, bundle, a)
    scheduled(api, bundle, b)
    api.post(f"/api/bundles/{bundle}/freeze", "rm", json={"note": "agreed"})
    scheduled(api, bundle, c, reason="regulator's deadline")  # an exception after the freeze
    for request_id in (a, b, c):
        assert progress(api, bundle, request_id, "in_development", "dev.alice").status_code == 200
    wip = metrics(api, "/work-in-progress")
    assert wip["by_stage"]["in_development"] == 3
    for request_id in (a, b, c):
        pass_qa(api, bundle, request_id)
    signed = api.post(f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={"note": "green"})
    assert signed.status_code == 200, signed.text
    change = raise_change(api, bundle)
    approve(api, change)
    complete(api, change, bundle, "succeeded")
    follow(api)
    follow(api)
    # The deployment happened now, long before the window the bundle was planned for.
    releases = metrics(api, "/releases")
    assert releases["bundles_deployed"] == 1
    assert releases["on_time_rate"] == 0.0
    assert (releases["scope_added_after_freeze"], releases["scope_churn_rate"]) == (1, 0.5)
    assert releases["bundles"][0]["requests"] == 3
    dora = metrics(api, "/dora")
    assert dora["deployment_frequency"]["deployments"] == 1
    assert dora["lead_time_for_changes_days"]["count"] == 3
    assert dora["lead_time_for_changes_days"]["max"] == 1  # scheduled and deployed today
    assert dora["change_failure_rate"] == 0.0
    assert metrics(api, "/throughput")["total"] == 3
    stages = metrics(api, "/time-in-state")["stages"]
    for stage in ("scheduled", "in_development", "in_qa", "awaiting_deployment"):
        assert stages[stage]["count"] == 3, stage
