"""Who raised and implements a production change hear of its decision and of comments
on it; the CAB hears of comments on the changes it may still approve."""

from __future__ import annotations

import uuid

import orjson

from shared import contracts as c
from tests.foreign import publish
from tests.notify.conftest import Notify
from tests.notify.test_routing import raise_change, recipients

WINDOW = ("2027-01-05T20:00:00+00:00", "2027-01-05T22:00:00+00:00")


def told_about(notify: Notify, username: str) -> list[str]:
    """The subjects of what `username` is told, in log order."""
    return [orjson.loads(r["payload"])["message"]["subject"] for r in notify.outbox(username)]


def patch_db(notify: Notify, change_type: str = "normal") -> uuid.UUID:
    change = uuid.uuid4()
    publish(
        notify.platform.log, c.CHANGE_RAISED, change, 1, actor="ops.olga",
        change_type=change_type, title="Patch DB", bundle_id=None, subsystems=["Billing"],
        window_start=WINDOW[0], window_end=WINDOW[1], requester="ops.olga",
        implementers=["ops.olga", "dev.alice"], risk="low",
    )  # fmt: skip
    return change


def test_the_raiser_and_implementers_hear_when_the_cab_approves_or_rejects(
    notify: Notify,
) -> None:
    approved, rejected = patch_db(notify), patch_db(notify)
    publish(notify.platform.log, c.CHANGE_APPROVED, approved, 2, actor="cab.carl",
            approvers=["cab.carl"])  # fmt: skip
    publish(notify.platform.log, c.CHANGE_REJECTED, rejected, 2, actor="cab.carl",
            by="cab.carl", reason="No tested backout")  # fmt: skip
    mine = {"ops.olga": "email", "dev.alice": "email"}
    assert recipients(notify, "ProductionChange.Approved") == mine
    assert recipients(notify, "ProductionChange.Rejected") == mine
    subjects = told_about(notify, "dev.alice")
    assert "Approved: change CHG-1 “Patch DB”" in subjects
    assert "Rejected: change CHG-2 “Patch DB”" in subjects


def test_a_standard_change_approved_by_its_template_tells_nobody(notify: Notify) -> None:
    change = patch_db(notify, "standard")
    publish(notify.platform.log, c.CHANGE_APPROVED, change, 2, actor="ops.olga",
            approvers=[])  # fmt: skip
    assert recipients(notify, "ProductionChange.Approved") == {}


def test_a_comment_reaches_the_changes_people_and_the_cab_but_not_its_author(
    notify: Notify,
) -> None:
    change = patch_db(notify)
    publish(notify.platform.log, c.CHANGE_COMMENTED, change, 2, actor="cab.carl",
            text="How long does the restore take?")  # fmt: skip
    told = recipients(notify, "ProductionChange.Commented")
    # The raiser and implementers as their own changes; the other CAB member as a change
    # awaiting approval; never the author.
    assert told == {"ops.olga": "email", "dev.alice": "email", "cab.dora": "email"}
    subjects = told_about(notify, "ops.olga")
    assert "cab.carl commented on change CHG-1 “Patch DB”" in subjects


def test_once_a_change_has_ended_its_comments_no_longer_reach_the_cab(notify: Notify) -> None:
    change = raise_change(notify, "Patch DB", ["Billing"], *WINDOW, requester="dev.alice")
    publish(notify.platform.log, c.CHANGE_WITHDRAWN, change, 2, actor="dev.alice",
            reason="vendor late")  # fmt: skip
    publish(notify.platform.log, c.CHANGE_COMMENTED, change, 3, actor="rm",
            text="Raise it again in January.")  # fmt: skip
    assert recipients(notify, "ProductionChange.Commented") == {"dev.alice": "email"}


def test_whoever_a_comment_names_hears_of_it_and_nobody_unknown_or_the_author(
    notify: Notify,
) -> None:
    change = patch_db(notify)
    text = "@qa.quinn can you time the restore? (@nobody.here, @cab.carl: me; not x@qa.quinn)"
    publish(notify.platform.log, c.CHANGE_COMMENTED, change, 2, actor="cab.carl",
            text=text)  # fmt: skip
    told = recipients(notify, "ProductionChange.Commented")
    assert told["qa.quinn"] == "email"  # a mention reaches anyone, by email until they choose
    assert "nobody.here" not in told
    assert "cab.carl" not in told
    topics = {r["target"]: r["topic"] for r in notify.outbox("qa.quinn")}
    assert set(topics.values()) == {"mentions"}


def test_whoever_commented_before_hears_the_next_comment_as_a_conversation(
    notify: Notify,
) -> None:
    change = patch_db(notify)
    for version, (who, text) in enumerate(
        [("rm", "Does this clash with the billing run?"), ("ops.olga", "No: it ends at 22:00.")],
        start=2,
    ):
        publish(notify.platform.log, c.CHANGE_COMMENTED, change, version, actor=who, text=text)
    notify.follow_log()
    rows = [r for r in notify.outbox("rm") if r["event_type"] == "ProductionChange.Commented"]
    assert [r["topic"] for r in rows] == ["conversations"]  # the answer, not their own
    assert "rm" not in [
        r["target"] for r in notify.outbox("ops.olga") if r["topic"] == "conversations"
    ]


def test_a_revision_that_renames_a_change_and_hands_it_over_is_told_as_it_now_stands(
    notify: Notify,
) -> None:
    """After a revision made qa.quinn its one implementer and renamed it, the approval and
    later messages still named the old title and went to the implementers before."""
    change = patch_db(notify)
    publish(
        notify.platform.log, c.CHANGE_REVISED, change, 2, actor="ops.olga", revision=2,
        approvals_voided=[], title="Patch the billing DB", implementers=["qa.quinn"],
        subsystems=["Billing"], window_start=WINDOW[0], window_end=WINDOW[1], risk="low",
        changed=["title", "implementers"],
        previous={"title": "Patch DB", "implementers": ["dev.alice", "ops.olga"]},
    )  # fmt: skip
    publish(notify.platform.log, c.CHANGE_APPROVED, change, 3, actor="cab.carl",
            approvers=["cab.carl"])  # fmt: skip
    told = recipients(notify, "ProductionChange.Approved")
    assert told == {"ops.olga": "email", "qa.quinn": "email"}  # its raiser and implementer
    assert "Approved: change CHG-1 “Patch the billing DB”" in told_about(notify, "qa.quinn")


def test_the_cab_is_told_what_a_revision_changed_before_approving_it_again(
    notify: Notify,
) -> None:
    """The window's end from and to; a plan's text only as changed."""
    change = patch_db(notify)
    publish(
        notify.platform.log, c.CHANGE_REVISED, change, 2, actor="ops.olga", revision=2,
        approvals_voided=["cab.carl"], title="Patch DB", implementers=["dev.alice", "ops.olga"],
        subsystems=["Billing"], window_start=WINDOW[0], window_end="2027-01-05T23:00:00+00:00",
        risk="low", changed=["window_end", "backout_plan"], previous={"window_end": WINDOW[1]},
    )  # fmt: skip
    assert "cab.carl" in recipients(notify, "ProductionChange.Revised")
    (message,) = [
        orjson.loads(r["payload"])["message"]
        for r in notify.outbox("cab.carl")
        if r["event_type"] == "ProductionChange.Revised"
    ]
    assert (
        "Changed: window end from 2027-01-05 22:00 UTC to 2027-01-05 23:00 UTC;"
        " backout plan changed."
    ) in message["lines"]
