"""Release's views follow the log exactly once: rebuilt from position zero they equal
the views kept up incrementally."""

from __future__ import annotations

from typing import Any

import pytest

from services.release.queries import ReleaseViews
from tests.builders import submit
from tests.conftest import Api
from tests.release.builders import (
    accepted_request,
    define_train,
    first_bundle,
    pass_qa,
    scheduled,
)


def snapshot(api: Api, bundles: list[str]) -> dict[str, Any]:
    def stable(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k not in ("status", "scope_frozen")}

    return {
        "bundles": [stable(api.get(f"/api/bundles/{b}", "rm").json()) for b in bundles],
        "history": [api.get(f"/api/bundles/{b}/history", "rm").json() for b in bundles],
        "churn": [api.get(f"/api/bundles/{b}/churn", "rm").json() for b in bundles],
        "plan": api.get("/api/plan", "rm").json(),
        "trains": api.get("/api/trains", "rm").json(),
    }


def test_views_rebuilt_from_the_log_equal_the_incremental_ones(api: Api) -> None:
    train = define_train(api, generate=2)
    first, second = train["bundle_ids"]
    requests = [accepted_request(api, title=f"R{n}") for n in range(3)]
    scheduled(api, first, requests[0])
    scheduled(api, second, requests[1])
    api.post(f"/api/bundles/{first}/freeze", "rm", json={})
    scheduled(api, first, requests[2], reason="late but vital")
    pass_qa(api, first, requests[0])
    api.post(f"/api/bundles/{second}/cancel", "rm", json={"reason": "merged"})
    api.put("/api/departments/Sales/ranking", "vp.sales", json={"order": requests[::-1]})
    before = snapshot(api, [first, second])
    group = next(
        g
        for g in api.client.app.state.followers.groups  # type: ignore[attr-defined]
        if any(p.name == "release.bundles.v2" for p in g.projections)
    )
    group.rebuild()
    assert snapshot(api, [first, second]) == before


def test_bundles_filter_by_train_status_and_date(api: Api) -> None:
    monthly = define_train(api, generate=2)
    define_train(api, name="Other", generate=1)
    first = monthly["bundle_ids"][0]
    api.post(f"/api/bundles/{first}/freeze", "rm", json={})
    frozen = api.get("/api/bundles", "rm", params={"status": "scope_frozen"}).json()
    assert [b["id"] for b in frozen] == [first]
    of_train = api.get("/api/bundles", "rm", params={"train_id": monthly["id"]}).json()
    assert {b["id"] for b in of_train} == set(monthly["bundle_ids"])
    later = api.get("/api/bundles", "rm", params={"from_date": of_train[1]["deploy_date"]}).json()
    assert first not in [b["id"] for b in later]
    assert api.get(f"/api/trains/{first}", "rm").json()["rule"] == "release_train_not_found"


def test_tables_of_retired_views_are_dropped_when_release_starts(api: Api) -> None:
    """One view now keeps each change's type, title, bundle and whether it is open, and
    the request facts carry each request's number; the tables of the views they replaced
    do not linger in an existing installation."""
    from services.release.facts import RETIRED, RETIRED_REQUESTS

    log = api.platform.log
    with log.db.transaction(write=True) as cur:
        for table in (*RETIRED, *RETIRED_REQUESTS):
            cur.execute(f"CREATE TABLE {log.table(table)} (change_id TEXT PRIMARY KEY)")
    ReleaseViews(log).group.setup()
    for table in (*RETIRED, *RETIRED_REQUESTS):
        with pytest.raises(Exception, match="release_"), log.db.transaction() as cur:
            cur.execute(f"SELECT 1 FROM {log.table(table)}")


def test_a_bundle_names_its_requests_by_the_numbers_intake_gives_them(api: Api) -> None:
    """Release keeps its own copy of the request facts and counts REQ numbers the same
    way, in the log's order: the bundle's page and intake agree, before and after a
    rebuild of release's views."""
    submit(api, title="Not planned yet")
    request_id = accepted_request(api)
    bundle_id = first_bundle(api)
    scheduled(api, bundle_id, request_id)
    reference = api.get(f"/api/requests/{request_id}", "rm").json()["reference"]
    assert reference == "REQ-2"
    items = api.get(f"/api/bundles/{bundle_id}", "rm").json()["items"]
    assert [(i["request_id"], i["reference"]) for i in items] == [(request_id, "REQ-2")]
    ReleaseViews(api.platform.log).group.rebuild()
    items = api.get(f"/api/bundles/{bundle_id}", "rm").json()["items"]
    assert [i["reference"] for i in items] == ["REQ-2"]
