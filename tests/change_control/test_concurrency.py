"""Several CAB members approving at once, on SQLite and PostgreSQL: each approval is
counted once, none is lost, and the change is approved exactly once."""

from __future__ import annotations

import threading
import uuid

from services.change_control.api.models import NewChange
from services.change_control.application.changes import ChangeControl
from services.change_control.domain import ProductionChange, Status
from services.change_control.domain.values import ChangeType
from services.change_control.views import ChangeControlViews
from shared.application import acting_as
from shared.domain import DomainError
from shared.identity.domain import Principal
from shared.platform import Platform
from tests.change_control.builders import HIGH, change_payload, questionnaire
from tests.conftest import register_people

BOARD = [("cab.a", "development"), ("cab.b", "qa"), ("cab.c", "development"),
         ("cab.d", "qa"), ("ops.e", "operations")]  # fmt: skip


def setup(platform: Platform) -> tuple[ChangeControl, uuid.UUID]:
    register_people(platform)
    with acting_as("test-setup"):
        for username, team in BOARD:
            platform.identity.register(username, username, ["cab_member"], None, team)
    changes = ChangeControl(platform.log, ChangeControlViews(platform.log), platform.directory)
    draft = NewChange(**change_payload(risk=HIGH)).to_draft()
    assert draft.questionnaire == questionnaire(HIGH)
    with acting_as("dev.alice"):
        ref = changes.raise_change(who(platform, "dev.alice"), ChangeType.NORMAL, draft)
    return changes, uuid.UUID(ref.id)


def who(platform: Platform, username: str) -> Principal:
    principal = platform.directory.principal(username)
    assert principal is not None
    return principal


def approve_at_once(
    platform: Platform, changes: ChangeControl, change_id: uuid.UUID, usernames: list[str]
) -> tuple[list[str], list[str]]:
    barrier = threading.Barrier(len(usernames))
    counted: list[str] = []
    refused: list[str] = []
    principals = [who(platform, u) for u in usernames]

    def approve(principal: Principal) -> None:
        barrier.wait()
        try:
            with acting_as(principal.username):
                changes.approve(principal, change_id, None)
            counted.append(principal.username)
        except DomainError as exc:
            refused.append(exc.rule)

    threads = [threading.Thread(target=approve, args=(p,)) for p in principals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counted, refused


def test_several_cab_members_approving_at_once_are_each_counted_once(platform: Platform) -> None:
    """Five at once on a high-risk change: five approvals recorded, one Approved."""
    changes, change_id = setup(platform)
    names = [u for u, _ in BOARD]
    counted, refused = approve_at_once(platform, changes, change_id, names)
    assert (sorted(counted), refused) == (sorted(names), [])
    change = platform.log.get(change_id, ProductionChange)
    assert sorted(a["by"] for a in change.approvals) == sorted(names)
    assert change.status == Status.APPROVED
    history = [e.type for e in platform.log.history(change_id)]
    assert history.count("ProductionChange.ApprovalRecorded") == len(names)
    assert history.count("ProductionChange.Approved") == 1
    approved = [e for e in platform.log.history(change_id) if e.type == "ProductionChange.Approved"]
    approvers = approved[0].data["approvers"]
    assert "ops.e" in approvers  # high risk: approved only once operations approved
    assert len(approvers) >= 3


def test_the_same_member_approving_twice_at_once_counts_once(platform: Platform) -> None:
    changes, change_id = setup(platform)
    counted, refused = approve_at_once(platform, changes, change_id, ["cab.a"] * 4)
    assert (counted, sorted(refused)) == (["cab.a"], ["already_approved"] * 3)
    change = platform.log.get(change_id, ProductionChange)
    assert [a["by"] for a in change.approvals] == ["cab.a"]
