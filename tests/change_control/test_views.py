"""The change control views follow the log: rebuilt from scratch they equal the views
kept up batch by batch, and release's facts are read by contract topic only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.change_control.views import ChangeControlViews
from shared import contracts
from tests.change_control.builders import ForeignBundle, approve, raise_change, window
from tests.conftest import Api
from tests.foreign import publish

TABLES = {
    "change_control_changes": "id",
    "change_control_history": "change_id, position",
    "change_control_windows": "change_id",
    "change_control_blackouts": "id",
    "change_control_conflicts": "change_id, other_id, subsystem",
    "change_control_blackout_hits": "change_id, blackout_id",
    "change_control_bundles": "bundle_id",
    "change_control_templates": "id",
    "change_control_deployments": "id",
}


def snapshot(views: ChangeControlViews) -> dict[str, Any]:
    with views.log.db.transaction() as cur:
        out = {}
        for table, order in TABLES.items():
            cur.execute(f"SELECT * FROM {views.log.table(table)} ORDER BY {order}")
            out[table] = cur.fetchall()
    return out


def test_views_rebuilt_from_the_log_equal_the_views_kept_up_batch_by_batch(api: Api) -> None:
    bundle = ForeignBundle(api.platform.log).ready()
    release = raise_change(
        api, as_="rm", change_type="release_deployment", bundle_id=str(bundle.id)
    )
    first = raise_change(api, subsystems=["CRM"])
    raise_change(api, as_="qa.quinn", implementers=["qa.quinn"], subsystems=["CRM"])
    approve(api, first, "cab.carl")
    approve(api, release, "cab.dora")
    w = window()
    freeze = {"name": "Freeze", "start": w.start_iso, "end": w.end_iso, "subsystems": ["Billing"]}
    api.post("/api/blackouts", "rm", json=freeze)
    api.post(
        "/api/deployments",
        "pipeline",
        json={"subsystem": "CRM", "version": "1", "change_id": first},
    )
    api.post("/api/deployments", "pipeline", json={"subsystem": "Billing", "version": "2"})
    views = ChangeControlViews(api.platform.log)
    views.group.batch_size = 3
    views.group.catch_up()
    incremental = snapshot(views)
    assert len(incremental["change_control_conflicts"]) == 2
    assert len(incremental["change_control_blackout_hits"]) == 1
    assert len(incremental["change_control_deployments"]) == 2
    views.group.rebuild()
    assert snapshot(views) == incremental


def test_qa_sign_off_counts_only_while_it_covers_the_bundles_scope(api: Api) -> None:
    views = ChangeControlViews(api.platform.log)
    bundle = ForeignBundle(api.platform.log).planned().scheduled("r-1", "r-2")
    state = views.bundle_state(str(bundle.id))
    assert state is not None
    assert (state.scope_frozen, state.qa_signed_off) == (False, False)
    bundle.frozen().signed_off()
    state = views.bundle_state(str(bundle.id))
    assert state is not None
    assert (state.scope_frozen, state.qa_signed_off) == (True, True)
    bundle.scheduled("r-3")
    state = views.bundle_state(str(bundle.id))
    assert state is not None
    assert state.qa_signed_off is False
    bundle.signed_off()
    state = views.bundle_state(str(bundle.id))
    assert state is not None
    assert state.qa_signed_off is True
    bundle.rolled_back(str(uuid.uuid4()))  # QA must sign off again after a rollback
    state = views.bundle_state(str(bundle.id))
    assert state is not None
    assert (state.scope_frozen, state.qa_signed_off) == (True, False)
    bundle.cancelled()
    state = views.bundle_state(str(bundle.id))
    assert state is not None
    assert state.cancelled is True
    assert views.bundle_state("no-such-bundle") is None


def test_a_bundle_is_frozen_by_the_clock_passing_its_freeze_date(api: Api) -> None:
    """Release freezes a bundle explicitly or when its scope_freeze_at passes (no event)."""
    views = ChangeControlViews(api.platform.log)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    frozen = ForeignBundle(api.platform.log, name="past").planned(scope_freeze_at=past)
    open_ = ForeignBundle(api.platform.log, name="future").planned(scope_freeze_at=future)
    states = [views.bundle_state(str(b.id)) for b in (frozen, open_)]
    assert [s.scope_frozen if s else None for s in states] == [True, False]


def test_views_read_events_that_carry_only_the_contracts_fields(api: Api) -> None:
    """Other services' tests publish change control's facts with the contract's fields
    only; the views must follow them (one bad event would stop every view)."""
    change = uuid.uuid4()
    w = window()
    log = api.platform.log
    publish(log, contracts.CHANGE_RAISED, change, 1, change_type="normal", title="Patch",
            bundle_id=None, subsystems=["Billing"], window_start=w.start_iso,
            window_end=w.end_iso, requester="dev.alice", implementers=["ops.olga"],
            risk="medium")  # fmt: skip
    publish(log, contracts.CHANGE_APPROVED, change, 2, approvers=["cab.carl"])
    publish(log, contracts.CHANGE_REVISED, change, 3, revision=2, title="Patch",
            implementers=["ops.olga"], subsystems=["CRM"],
            window_start=w.start_iso, window_end=w.end_iso, risk="low",
            approvals_voided=["cab.carl"], changed=[], previous={})  # fmt: skip
    publish(log, contracts.CHANGE_IMPLEMENTATION_STARTED, change, 4)
    publish(log, contracts.CHANGE_COMPLETED, change, 5, outcome="failed",
            change_type="normal", bundle_id=None, notes="disk full")  # fmt: skip
    publish(log, contracts.DEPLOYMENT_REPORTED, uuid.uuid4(), 1, pipeline="ci",
            subsystem="CRM", version="1", deployed_at=w.start_iso, claimed_change_id=None,
            change_id=None, unauthorised=True, reason="outside_window")  # fmt: skip
    detail = api.get(f"/api/changes/{change}", "rm").json()
    assert (detail["status"], detail["subsystems"], detail["title"]) == (
        "completed",
        ["CRM"],
        "Patch",
    )
    assert detail["review_required"] is True
    assert [h["type"] for h in detail["history"]][-1] == "ProductionChange.Completed"
    assert api.get("/api/deployments/counts", "rm").json()["unauthorised"] == 1
