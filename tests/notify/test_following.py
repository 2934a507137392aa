"""Anyone may follow a request or a production change, whoever it belongs to, and then
hears of its every step and every comment on it, until they stop following it."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.intake.domain import ClassOfService
from shared import contracts as c
from shared.application import acting_as
from shared.domain import InvalidCommand, NotFound, RuleViolation
from shared.identity.domain import Principal
from tests.foreign import publish
from tests.notify.conftest import Notify, submit
from tests.notify.test_change_people import WINDOW, patch_db, told_about
from tests.notify.test_routing import accept, intake, recipients, schedule


def principal(notify: Notify, username: str) -> Principal:
    found = notify.platform.directory.principal(username)
    assert found is not None
    return found


def follow(notify: Notify, username: str, kind: str, item_id: object) -> None:
    with acting_as(username):
        notify.notifications.follow_item(principal(notify, username), kind, str(item_id))


def topics(notify: Notify, username: str) -> set[str]:
    return {row["topic"] for row in notify.outbox(username)}


def test_a_follower_hears_of_every_step_of_another_departments_request(notify: Notify) -> None:
    """vp.care follows a Sales request: triage, scheduling, comments and delivery reach
    her as "followed items", by email (following is a choice), though the request is
    not her department's."""
    request_id = submit(notify.platform)
    follow(notify, "vp.care", "request", request_id)
    accept(notify, request_id)
    schedule(notify, request_id)
    with acting_as("dev.alice"):
        intake(notify).comment(principal(notify, "dev.alice"), uuid.UUID(request_id), "Started")
    assert recipients(notify, "ChangeRequest.Accepted")["vp.care"] == "email"
    assert recipients(notify, "ReleaseBundle.RequestScheduled")["vp.care"] == "email"
    assert recipients(notify, "ChangeRequest.Commented")["vp.care"] == "email"
    assert told_about(notify, "vp.care") == [
        "Accepted: REQ-1 “Bill shock alerts”",
        "Scheduled: REQ-1 “Bill shock alerts”",
        "dev.alice commented on REQ-1 “Bill shock alerts”",
    ]
    assert topics(notify, "vp.care") == {"followed_items"}
    # Her own department's people are told as before, under their own topics.
    assert recipients(notify, "ChangeRequest.Accepted")["vp.sales"] == "email"


def test_who_stops_following_a_request_hears_no_more_of_it(notify: Notify) -> None:
    request_id = submit(notify.platform)
    follow(notify, "vp.care", "request", request_id)
    with acting_as("vp.care"):
        notify.notifications.unfollow_item(principal(notify, "vp.care"), "request", request_id)
    accept(notify, request_id)
    assert "vp.care" not in recipients(notify, "ChangeRequest.Accepted")
    with acting_as("vp.care"), pytest.raises(RuleViolation) as refused:
        notify.notifications.unfollow_item(principal(notify, "vp.care"), "request", request_id)
    assert refused.value.rule == "not_following"


def test_a_follower_of_a_change_hears_of_its_revisions_decision_start_and_outcome(
    notify: Notify,
) -> None:
    change = patch_db(notify)
    follow(notify, "vp.care", "change", change)
    log = notify.platform.log
    publish(log, c.CHANGE_REVISED, change, 2, actor="ops.olga", revision=2,
            approvals_voided=False, title="Patch DB", implementers=["ops.olga", "dev.alice"],
            subsystems=["Billing"], window_start=WINDOW[0],
            window_end=WINDOW[1], risk="low", changed=[], previous={})  # fmt: skip
    publish(log, c.CHANGE_APPROVED, change, 3, actor="cab.carl", approvers=["cab.carl"])
    publish(log, c.CHANGE_IMPLEMENTATION_STARTED, change, 4, actor="ops.olga")
    publish(log, c.CHANGE_COMPLETED, change, 5, actor="ops.olga", outcome="failed",
            change_type="normal", bundle_id=None, notes="Backed out at 21:10")  # fmt: skip
    # A revision that voided nothing asks nothing of the CAB: only the follower hears of it.
    assert recipients(notify, "ProductionChange.Revised") == {"vp.care": "email"}
    assert told_about(notify, "vp.care") == [
        "Revised: change CHG-1 “Patch DB”",
        "Approved: change CHG-1 “Patch DB”",
        "Implementation started: change CHG-1 “Patch DB”",
        "Failed: change CHG-1 “Patch DB”",
    ]
    # Its implementer who did not start it hears of the start and the outcome as well.
    assert told_about(notify, "dev.alice")[-2:] == [
        "Implementation started: change CHG-1 “Patch DB”",
        "Failed: change CHG-1 “Patch DB”",
    ]


def test_one_follows_only_what_exists_and_is_what_it_is_said_to_be(notify: Notify) -> None:
    request_id, change = submit(notify.platform), patch_db(notify)
    me = principal(notify, "vp.care")
    with acting_as("vp.care"):
        for kind, item in (("request", uuid.uuid4()), ("request", change), ("change", request_id)):
            with pytest.raises(NotFound) as missing:
                notify.notifications.follow_item(me, kind, str(item))
            assert missing.value.rule == f"{'change' if kind == 'request' else 'production'}_" + (
                "request_not_found" if kind == "request" else "change_not_found"
            )
        with pytest.raises(InvalidCommand):
            notify.notifications.follow_item(me, "department", request_id)
        notify.notifications.follow_item(me, "request", request_id)
        again = notify.notifications.follow_item(me, "request", request_id)
    assert again.followed_requests == [request_id]  # following twice changes nothing
    assert again.followed_changes == []


def test_the_owner_and_the_department_hear_when_a_request_is_withdrawn(notify: Notify) -> None:
    request_id = submit(notify.platform)
    accept(notify, request_id)
    with acting_as("rm"):
        intake(notify).withdraw(principal(notify, "rm"), uuid.UUID(request_id), "Merged into CRM")
    assert recipients(notify, "ChangeRequest.Withdrawn") == {
        "vp.sales": "email",
        "dev.alice": "email",
    }
    assert told_about(notify, "dev.alice")[-1] == "Withdrawn: REQ-1 “Bill shock alerts”"


def test_a_new_owner_is_named_to_everyone_told_rather_than_addressed_as_you(
    notify: Notify,
) -> None:
    """The department hears who owns its request now; "You now own" read wrongly to it."""
    request_id = submit(notify.platform)
    accept(notify, request_id)
    with acting_as("rm"):
        intake(notify).assign_owner(uuid.UUID(request_id), "ops.olga")
    assert recipients(notify, "ChangeRequest.OwnerAssigned") == {
        "vp.sales": "email",
        "ops.olga": "email",
    }
    assert told_about(notify, "vp.sales")[-1] == "New IT owner: REQ-1 “Bill shock alerts”"


def test_the_owner_and_followers_hear_how_delivered_work_was_rated_and_why(
    notify: Notify,
) -> None:
    """A rating tells the IT owner (and whoever follows the request) the score and the
    comment: the feedback satisfaction is made of; the department rated it itself."""
    request_id = submit(notify.platform)
    accept(notify, request_id)
    follow(notify, "vp.care", "request", request_id)
    with acting_as("railyard"):
        intake(notify).deliver(uuid.UUID(request_id), None, None)
    with acting_as("vp.sales"):
        intake(notify).rate(principal(notify, "vp.sales"), uuid.UUID(request_id), 2, "Late")
    assert recipients(notify, "ChangeRequest.Rated") == {"dev.alice": "email", "vp.care": "email"}
    assert told_about(notify, "dev.alice")[-1] == "Rated 2/5: REQ-1 “Bill shock alerts”"
    assert "“Late”" in notify.outbox("dev.alice")[-1]["payload"]


def test_a_replan_tells_the_department_the_owner_and_followers_the_new_plan(
    notify: Notify,
) -> None:
    request_id = submit(notify.platform)
    accept(notify, request_id)
    follow(notify, "vp.care", "request", request_id)
    with acting_as("rm"):
        intake(notify).replan(uuid.UUID(request_id), 8, ClassOfService.FIXED_DATE, date(2027, 3, 1))
    assert recipients(notify, "ChangeRequest.Replanned") == {
        "vp.sales": "email",
        "dev.alice": "email",
        "vp.care": "email",
    }
    payload = notify.outbox("vp.care")[-1]["payload"]
    assert "Replanned: REQ-1" in payload
    assert "Size 8 points, class of service fixed date, fixed date 2027-03-01." in payload
