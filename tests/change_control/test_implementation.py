"""Given events, when an implementer or a pipeline acts, then events or a refusal:
starting in the window, completing, post-implementation reviews, deployment reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.change_control.domain import DeploymentReport, ProductionChange, Status
from services.change_control.domain.gates import Blackout, BundleState, GateFacts
from services.change_control.domain.risk import ApprovalPolicy
from services.change_control.domain.values import ChangeType, Outcome
from shared.domain import InvalidCommand, NotPermitted, RuleViolation, attributed_to
from shared.settings import DEFAULT_SUBSYSTEMS
from tests.change_control.builders import CARL, DORA, OLGA, new_change, plan, window

NONE = GateFacts()


@pytest.fixture(autouse=True)
def acting() -> Iterator[None]:
    with attributed_to("dev.alice", "corr-1"):
        yield


def approved(**overrides: Any) -> ProductionChange:
    change = new_change(**overrides)
    change.approve(CARL, NONE)
    return change


def started(**overrides: Any) -> ProductionChange:
    change = approved(**overrides)
    change.start("dev.alice", NONE)
    return change


def types(change: ProductionChange) -> list[str]:
    return [type(e).__name__ for e in change.collect_events()]


def test_only_an_approved_change_can_start() -> None:
    """Implemented implies approved: nothing reaches production on a change in review."""
    change = new_change()
    with pytest.raises(RuleViolation) as refused:
        change.start("dev.alice", NONE)
    assert refused.value.rule == "not_approved"


def test_only_a_named_implementer_starts_and_completes() -> None:
    change = approved()
    with pytest.raises(NotPermitted) as refused:
        change.start("qa.quinn", NONE)
    assert refused.value.rule == "implementer_only"
    change.start("dev.alice", NONE)
    with pytest.raises(NotPermitted):
        change.complete("qa.quinn", Outcome.SUCCEEDED, "")


def test_an_approved_change_starts_only_inside_its_window() -> None:
    """Refused saying when the window opens (it gave the window's bounds as stored, and
    not why), or that it closed and what to do."""
    later = window(starts_in=timedelta(hours=3))
    change = approved(window=later)
    with pytest.raises(RuleViolation) as refused:
        change.start("dev.alice", NONE)
    assert refused.value.rule == "outside_window"
    opens = f"{later.start.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    assert refused.value.detail.startswith(f"it starts in its window, which opens {opens}; it is ")
    with (
        attributed_to("dev.alice", at=later.end + timedelta(minutes=1)),
        pytest.raises(RuleViolation) as closed,
    ):
        change.start("dev.alice", NONE)
    shut = f"{later.end.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    assert closed.value.detail == (
        f"its window closed {shut}: revise it to a new window to start it"
    )


def test_a_blackout_declared_after_approval_stops_the_start() -> None:
    change = approved()
    freeze = Blackout("bo-1", "Incident freeze", window())
    with pytest.raises(RuleViolation) as refused:
        change.start("dev.alice", GateFacts(blackouts=(freeze,)))
    assert refused.value.rule == "window_in_blackout"


def test_an_emergency_change_may_start_at_once_outside_its_window() -> None:
    change = new_change(ChangeType.EMERGENCY, window=window(starts_in=timedelta(hours=3)))
    change.approve(CARL, NONE)
    change.start("dev.alice", NONE)
    assert change.status == Status.IMPLEMENTING


def test_a_successful_change_closes_when_it_completes() -> None:
    change = started()
    change.complete("dev.alice", Outcome.SUCCEEDED, "")
    assert change.status == Status.CLOSED
    assert types(change)[-2:] == ["Completed", "Closed"]


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.ROLLED_BACK])
def test_a_failed_or_rolled_back_change_needs_notes_and_a_review(outcome: Outcome) -> None:
    change = started()
    with pytest.raises(InvalidCommand) as refused:
        change.complete("dev.alice", outcome, " ")
    assert refused.value.rule == "notes_required"
    change.complete("dev.alice", outcome, "the migration timed out")
    assert (change.status, change.review_required) == (Status.COMPLETED, True)
    change.record_review(DORA, "the timeout was too short for production volumes", "")
    assert change.status == Status.CLOSED


def test_completed_events_carry_what_release_and_metrics_follow() -> None:
    ready = GateFacts(bundle=BundleState("b-1", "2027.03", True, True, False, False))
    change = new_change(ChangeType.RELEASE_DEPLOYMENT, bundle_id="b-1")
    change.approve(CARL, ready)
    change.start("dev.alice", ready)
    change.collect_events()
    change.complete("dev.alice", Outcome.SUCCEEDED, "deployed 2027.03")
    completed, _ = change.collect_events()
    assert completed.outcome == "succeeded"  # type: ignore[attr-defined]
    assert completed.change_type == "release_deployment"  # type: ignore[attr-defined]
    assert completed.bundle_id == "b-1"  # type: ignore[attr-defined]


def test_the_implementer_cannot_review_their_own_change() -> None:
    change = started(implementers=["dev.alice", "ops.olga"])
    change.complete("dev.alice", Outcome.FAILED, "disk full")
    with pytest.raises(NotPermitted) as refused:
        change.record_review(OLGA, "fine", "")
    assert refused.value.rule == "implementer_cannot_review"


def test_a_review_comes_after_completion_and_only_once() -> None:
    change = started()
    with pytest.raises(RuleViolation) as refused:
        change.record_review(DORA, "early", "")
    assert refused.value.rule == "review_before_completion"


def test_withdrawal_is_possible_only_before_work_starts() -> None:
    change = started()
    with pytest.raises(RuleViolation) as refused:
        change.withdraw(editor="dev.alice", manager=False, reason="no longer needed")
    assert refused.value.rule == "withdraw_after_start"
    fresh = new_change()
    fresh.withdraw(editor="rm", manager=True, reason="superseded")
    assert fresh.status == Status.WITHDRAWN


# -- deployment reports -----------------------------------------------------------------------


def report(claimed: ProductionChange | None = None, **overrides: object) -> DeploymentReport:
    values: dict[str, object] = {
        "pipeline": "pipeline",
        "subsystem": "billing",
        "version": "4.2.0",
        "deployed_at": datetime.now(UTC),
        "claimed_change_id": str(claimed.id) if claimed else None,
        "claimed": claimed,
        "candidates": [],
        "catalogue": DEFAULT_SUBSYSTEMS,
    }
    values.update(overrides)
    return DeploymentReport.record(**values)  # type: ignore[arg-type]


def test_a_deployment_inside_an_approved_changes_window_is_linked_to_it() -> None:
    change = started()
    recorded = report(change)
    assert (recorded.change_id, recorded.unauthorised) == (str(change.id), False)
    assert recorded.subsystem == "Billing"


def test_an_unclaimed_deployment_is_linked_to_the_change_that_covers_it() -> None:
    change = approved()
    recorded = report(None, candidates=[change])
    assert recorded.change_id == str(change.id)


@pytest.mark.parametrize(
    ("setup", "overrides", "reason"),
    [
        ("in_review", {}, "change_not_approved"),
        ("approved", {"subsystem": "CRM"}, "subsystem_not_in_change"),
        ("approved", {"deployed_at": datetime.now(UTC) + timedelta(hours=5)}, "outside_window"),
        ("approved", {"subsystem": "Mainframe"}, "unknown_subsystem"),
    ],
)
def test_a_deployment_not_covered_by_its_claimed_change_is_unauthorised(
    setup: str, overrides: dict[str, object], reason: str
) -> None:
    """Recorded, not refused: flagged as an unauthorised change with the reason."""
    change = approved() if setup == "approved" else new_change()
    recorded = report(change, **overrides)
    assert (recorded.unauthorised, recorded.change_id, recorded.reason) == (True, None, reason)


def test_a_deployment_made_before_its_change_was_approved_is_unauthorised() -> None:
    """The approval is a precondition: a deployment made before it, reported after it,
    is flagged whether it claims the change or not; one made after it is linked."""
    change = new_change()
    deployed_early = datetime.now(UTC)
    change.approve(CARL, NONE)
    claimed = report(change, deployed_at=deployed_early)
    assert (claimed.unauthorised, claimed.reason) == (True, "deployed_before_approval")
    unclaimed = report(None, candidates=[change], deployed_at=deployed_early)
    assert (unclaimed.unauthorised, unclaimed.reason) == (True, "no_approved_change")
    assert report(change).change_id == str(change.id)


def test_a_deployment_made_after_its_change_was_completed_is_unauthorised() -> None:
    """Completing the change ends what its approval covers: a deployment made before the
    completion and reported after it is still linked; one made after it is flagged, even
    inside the window, claimed or not (the change is done; a new one needs its own)."""
    change = approved()
    deployed_during = datetime.now(UTC)
    change.start("dev.alice", NONE)
    change.complete("dev.alice", Outcome.ROLLED_BACK, "Error rate doubled; backed out.")
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert report(change, deployed_at=deployed_during).change_id == str(change.id)
    claimed = report(change, deployed_at=after)
    assert (claimed.unauthorised, claimed.reason) == (True, "deployed_after_completion")
    unclaimed = report(None, candidates=[change], deployed_at=after)
    assert (unclaimed.unauthorised, unclaimed.reason) == (True, "no_approved_change")


def test_a_revision_moves_the_start_of_what_its_approval_covers() -> None:
    """Revised and approved again, the change covers deployments from the new approval."""
    change = approved()
    under_first_approval = datetime.now(UTC)
    change.revise(
        editor="dev.alice",
        manager=False,
        plan=plan(implementation_plan="Apply patch 43 instead."),
        catalogue=DEFAULT_SUBSYSTEMS,
        policy=ApprovalPolicy(),
        facts=NONE,
    )
    assert report(change, deployed_at=under_first_approval).reason == "change_not_approved"
    change.approve(CARL, NONE)
    late = report(change, deployed_at=under_first_approval)
    assert late.reason == "deployed_before_approval"
    assert report(change).unauthorised is False


def test_a_deployment_claiming_a_bogus_change_is_recorded_as_unauthorised() -> None:
    recorded = report(None, claimed_change_id="CHG-12345")
    assert (recorded.unauthorised, recorded.reason) == (True, "unknown_change")
    assert recorded.claimed_change_id == "CHG-12345"


def test_a_deployment_with_no_approved_change_is_unauthorised() -> None:
    recorded = report(None, claimed_change_id=None, candidates=[new_change()])
    assert (recorded.unauthorised, recorded.reason) == (True, "no_approved_change")
    assert uuid.UUID(str(recorded.id))
