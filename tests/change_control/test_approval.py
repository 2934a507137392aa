"""Given events, when a CAB member acts, then approvals or a refusal: separation of
duties, the approval policy, edits voiding approvals, and emergency changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.change_control.domain import ProductionChange, Status
from services.change_control.domain.gates import GateFacts
from services.change_control.domain.risk import ApprovalPolicy, Requirement, Reviewer
from services.change_control.domain.values import ChangeType, Outcome
from shared.domain import InvalidCommand, NotPermitted, RuleViolation, attributed_to
from shared.settings import DEFAULT_SUBSYSTEMS
from tests.change_control.builders import (
    CARL,
    DORA,
    ERIN,
    HIGH,
    MEDIUM,
    OLGA,
    new_change,
    plan,
    questionnaire,
)

NONE = GateFacts()


@pytest.fixture(autouse=True)
def acting() -> Iterator[None]:
    with attributed_to("someone", "corr-1"):
        yield


def status_of(change: ProductionChange) -> Status:
    """(A function, so mypy does not narrow the status across commands.)"""
    return change.status


def types(change: ProductionChange) -> list[str]:
    return [type(e).__name__ for e in change.collect_events()]


def revise(change: ProductionChange, editor: str = "dev.alice", **overrides: object) -> bool:
    return change.revise(
        editor=editor,
        manager=False,
        plan=plan(**overrides),
        catalogue=DEFAULT_SUBSYSTEMS,
        policy=ApprovalPolicy(),
        facts=NONE,
    )


# -- separation of duties ------------------------------------------------------------------


def test_implementer_cannot_approve_own_change() -> None:
    """Separation of duties: whoever carries the change out never approves it (403)."""
    change = new_change(requester="rm", implementers=["ops.olga"])
    with pytest.raises(NotPermitted) as refused:
        change.approve(OLGA, NONE)
    assert refused.value.rule == "implementer_cannot_approve"
    assert types(change) == ["Raised"]


def test_requester_cannot_approve_own_change() -> None:
    change = new_change(requester="cab.carl", implementers=["dev.alice"])
    with pytest.raises(NotPermitted) as refused:
        change.approve(CARL, NONE)
    assert refused.value.rule == "requester_cannot_approve"


def test_requester_and_implementers_cannot_reject_either() -> None:
    change = new_change(requester="cab.carl", implementers=["ops.olga"])
    for reviewer, rule in ((CARL, "requester_cannot_reject"), (OLGA, "implementer_cannot_reject")):
        with pytest.raises(NotPermitted) as refused:
            change.reject(reviewer, "no")
        assert refused.value.rule == rule


def test_only_a_cab_member_approves() -> None:
    with pytest.raises(NotPermitted) as refused:
        new_change().approve(Reviewer("rm", cab_member=False), NONE)
    assert refused.value.rule == "cab_member_required"


def test_a_persons_approval_counts_once() -> None:
    change = new_change(questionnaire=questionnaire(MEDIUM))
    change.approve(CARL, NONE)
    with pytest.raises(RuleViolation) as refused:
        change.approve(CARL, NONE)
    assert refused.value.rule == "already_approved"
    assert status_of(change) == Status.IN_REVIEW
    assert [a["by"] for a in change.approvals] == ["cab.carl"]


# -- the policy ----------------------------------------------------------------------------


def test_low_risk_is_approved_by_one_cab_member() -> None:
    change = new_change()
    assert change.approve(CARL, NONE) == "cab"
    assert types(change) == ["Raised", "ApprovalRecorded", "Approved"]
    assert change.approvers == ["cab.carl"]


def test_medium_risk_needs_two_approvals() -> None:
    change = new_change(questionnaire=questionnaire(MEDIUM))
    change.approve(CARL, NONE)
    assert status_of(change) == Status.IN_REVIEW
    change.approve(DORA, NONE)
    assert status_of(change) == Status.APPROVED


def test_high_risk_needs_a_quorum_of_three_including_operations() -> None:
    """Three non-operations approvals are not enough; an operations approver completes it."""
    change = new_change(questionnaire=questionnaire(HIGH))
    for reviewer in (CARL, DORA, ERIN):
        change.approve(reviewer, NONE)
    assert status_of(change) == Status.IN_REVIEW
    change.approve(OLGA, NONE)
    assert status_of(change) == Status.APPROVED
    assert change.approvers == ["cab.carl", "cab.dora", "cab.erin", "ops.olga"]


def test_approvals_after_the_quorum_are_recorded_but_approve_once() -> None:
    change = new_change()
    change.approve(CARL, NONE)
    change.approve(DORA, NONE)
    assert types(change) == [
        "Raised",
        "ApprovalRecorded",
        "Approved",
        "ApprovalRecorded",
    ]
    assert [a["by"] for a in change.approvals] == ["cab.carl", "cab.dora"]


def test_any_rejection_blocks_the_change() -> None:
    change = new_change(questionnaire=questionnaire(MEDIUM))
    change.approve(CARL, NONE)
    change.reject(DORA, "the backout plan is untested")
    assert status_of(change) == Status.REJECTED
    with pytest.raises(RuleViolation) as refused:
        change.approve(ERIN, NONE)
    assert refused.value.rule == "change_closed"


def test_an_approved_change_can_still_be_rejected_before_it_starts() -> None:
    """And is no longer approved: the answer said `rejected` and `approved: true`."""
    change = new_change()
    change.approve(CARL, NONE)
    assert change.approved
    change.reject(DORA, "conflicts with the billing run")
    assert status_of(change) == Status.REJECTED
    assert not change.approved


# -- approvals are bound to a revision ------------------------------------------------------


def test_an_edit_voids_approvals_and_returns_the_change_to_review() -> None:
    change = new_change(questionnaire=questionnaire(MEDIUM))
    change.approve(CARL, NONE)
    change.approve(DORA, NONE)
    assert status_of(change) == Status.APPROVED
    change.collect_events()
    assert revise(
        change, backout_plan="Fail over to the replica.", questionnaire=questionnaire(MEDIUM)
    )
    assert status_of(change) == Status.IN_REVIEW
    assert change.approvals == []
    assert change.revision == 2
    (revised,) = change.collect_events()
    assert revised.approvals_voided == ["cab.carl", "cab.dora"]  # type: ignore[attr-defined]


def test_editing_window_or_scope_voids_approvals_too() -> None:
    for overrides in ({"subsystems": ["Billing", "CRM"]}, {"title": "Patch, but later"}):
        change = new_change()
        change.approve(CARL, NONE)
        assert revise(change, **overrides)
        assert (change.status, change.approved) == (Status.IN_REVIEW, False)


def test_a_revision_that_changes_nothing_records_nothing() -> None:
    change = new_change()
    change.approve(CARL, NONE)
    change.collect_events()
    assert revise(change, window=change.window) is False
    assert change.collect_events() == []
    assert status_of(change) == Status.APPROVED


def test_an_approval_of_a_revision_that_moved_on_is_refused() -> None:
    change = new_change()
    revise(change, title="Patch v2")
    with pytest.raises(RuleViolation) as refused:
        change.approve(CARL, NONE, revision=1)
    assert refused.value.rule == "stale_revision"
    with pytest.raises(InvalidCommand) as unknown:
        change.approve(CARL, NONE, revision=3)
    assert unknown.value.rule == "unknown_revision"
    assert change.approve(CARL, NONE, revision=2) == "cab"


def test_only_its_requester_implementers_or_a_release_manager_revise_it() -> None:
    change = new_change()
    with pytest.raises(NotPermitted) as refused:
        revise(change, editor="qa.quinn")
    assert refused.value.rule == "own_change_only"


# -- emergency changes ----------------------------------------------------------------------


def emergency(**overrides: Any) -> ProductionChange:
    return new_change(ChangeType.EMERGENCY, questionnaire=questionnaire(HIGH), **overrides)


def test_an_emergency_change_is_approved_by_one_cab_member_not_its_implementer() -> None:
    change = emergency(implementers=["ops.olga"])
    with pytest.raises(NotPermitted):
        change.approve(OLGA, NONE)
    assert change.approve(CARL, NONE) == "emergency"
    assert status_of(change) == Status.APPROVED


def test_an_emergency_change_stays_open_until_approved_in_retrospect_and_reviewed() -> None:
    change = emergency()
    change.approve(CARL, NONE)
    change.start("dev.alice", NONE)
    change.complete("dev.alice", Outcome.SUCCEEDED, "restored service")
    assert status_of(change) == Status.COMPLETED
    change.record_review(DORA, "root cause: expired certificate", "monitor expiry")
    assert status_of(change) == Status.COMPLETED  # still needs the retrospective approval
    for reviewer in (DORA, ERIN):
        assert change.approve(reviewer, NONE) == "retrospective"
    assert status_of(change) == Status.COMPLETED  # high risk: an operations approver too
    change.approve(OLGA, NONE)
    assert status_of(change) == Status.CLOSED
    assert types(change)[-2:] == ["RetrospectivelyApproved", "Closed"]


def test_the_emergency_approver_does_not_count_again_in_retrospect() -> None:
    change = emergency()
    change.approve(CARL, NONE)
    with pytest.raises(RuleViolation) as refused:
        change.approve(CARL, NONE)
    assert refused.value.rule == "already_approved"


def test_editing_an_emergency_change_before_it_starts_voids_its_emergency_approval() -> None:
    change = emergency()
    change.approve(CARL, NONE)
    revise(change, questionnaire=questionnaire(HIGH), title="Restart the CRM cluster")
    assert status_of(change) == Status.IN_REVIEW
    assert change.approve(DORA, NONE) == "emergency"


def test_editing_an_emergency_change_voids_its_retrospective_approvals_too() -> None:
    """Found by the lifecycle machine: a retrospective approval given before the edit
    must not survive it (nor let someone count twice, or an implementer count)."""
    change = emergency()
    change.approve(CARL, NONE)
    assert change.approve(OLGA, NONE) == "retrospective"
    revise(change, questionnaire=questionnaire(HIGH), implementers=["ops.olga"])
    assert (change.approvals, change.retrospective) == ([], [])
    with pytest.raises(NotPermitted):
        change.approve(OLGA, NONE)
    assert change.approve(DORA, NONE) == "emergency"


def test_a_requirement_no_board_can_meet_says_what_is_missing() -> None:
    need = Requirement(3, True)
    dev, qa, ops = (
        {"by": u, "team": t} for u, t in (("a", "development"), ("b", "qa"), ("o", "operations"))
    )
    assert need.out_of_reach([dev], [qa, ops]) is None
    assert need.out_of_reach([dev], [qa, {"by": "c", "team": "qa"}]) == (
        "no one in operations may approve it"
    )
    assert need.out_of_reach([], [dev, ops]) == "only 2 may approve it"
    assert need.out_of_reach([], [dev]) == "only 1 may approve it, none of them in operations"
    assert need.out_of_reach([], []) == "no one may approve it"
