"""Who hears about what: defaults per role, choices, and an email with a link."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller

from services.intake.application import Intake
from services.intake.domain import ClassOfService
from services.intake.views import IntakeViews
from services.notify.domain import Channel, Topic
from services.notify.email import EmailSender
from shared import contracts as c
from shared.application import acting_as
from tests.foreign import publish
from tests.notify.conftest import Notify, give_email, submit
from tests.notify.receiver import free_port

EMAILS = {
    "vp.sales": "val@example.com",
    "vp.care": "cara@example.com",
    "rm": "rita@example.com",
    "dev.alice": "alice@example.com",
    "ops.olga": "olga@example.com",
    "cab.carl": "carl@example.com",
    "cab.dora": "dora@example.com",
    "admin": "admin@example.com",
}


class Sink:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(notify: Notify) -> Iterator[Sink]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings = notify.platform.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port}
    )
    notify.dispatcher.email = EmailSender(settings)
    for username, address in EMAILS.items():
        give_email(notify.platform, username, address)
    yield sink
    controller.stop()


def intake(notify: Notify) -> Intake:
    log = notify.platform.log
    return Intake(log, IntakeViews(log), notify.platform.directory)


def accept(notify: Notify, request_id: str, owner: str = "dev.alice") -> None:
    with acting_as("rm"):
        intake(notify).accept(uuid.UUID(request_id), owner, 5, ClassOfService.STANDARD, None)


def schedule(notify: Notify, request_id: str) -> str:
    bundle = uuid.uuid4()
    publish(
        notify.platform.log,
        c.BUNDLE_PLANNED,
        bundle,
        1,
        actor="rm",
        train_id=str(uuid.uuid4()),
        name="2027.03",
        deploy_date="2027-03-09",
        window_start="2027-03-09T20:00:00+00:00",
        window_end="2027-03-09T23:00:00+00:00",
        scope_freeze_at="2027-02-23T17:00:00+00:00",
        code_complete_at="2027-02-26T17:00:00+00:00",
        qa_start_at="2027-03-01T09:00:00+00:00",
        capacity_points=40,
        subsystem_capacity={},
    )
    publish(
        notify.platform.log,
        c.REQUEST_SCHEDULED,
        bundle,
        2,
        actor="rm",
        request_id=request_id,
        size_points=5,
        subsystems=["Billing"],
        after_freeze=False,
        reason=None,
    )
    return str(bundle)


def recipients(notify: Notify, event_type: str) -> dict[str, str]:
    notify.follow_log()
    with notify.platform.log.db.transaction() as cur:
        cur.execute(
            f"SELECT target, channel, status FROM {notify.platform.log.table('notify_outbox')}"
            " WHERE event_type = :t",
            {"t": event_type},
        )
        return {r["target"]: r["channel"] for r in cur.fetchall()}


def test_requester_gets_an_email_when_their_request_is_scheduled(
    notify: Notify, smtp: Sink
) -> None:
    request_id = submit(notify.platform, "Bill shock alerts")
    accept(notify, request_id)
    schedule(notify, request_id)
    notify.deliver()
    to_val = [m for m in smtp.messages if m["To"] == "val@example.com"]
    subjects = [m["Subject"] for m in to_val]
    # Named by its reference as intake gives it: the first request of the log is REQ-1.
    assert "Scheduled: REQ-1 “Bill shock alerts”" in subjects
    scheduled = to_val[subjects.index("Scheduled: REQ-1 “Bill shock alerts”")]
    parts = {
        p.get_content_type(): p.get_content()
        for p in scheduled.walk()
        if isinstance(p, EmailMessage) and p.get_content_maintype() == "text"
    }

    assert "2027.03" in parts["text/plain"]
    assert f"/requests/{request_id}" in parts["text/plain"]
    assert f'href="http://127.0.0.1:8000/requests/{request_id}"' in parts["text/html"]


def test_an_emails_plain_text_says_what_was_written_and_its_html_escapes_it(
    notify: Notify, smtp: Sink
) -> None:
    """The plain-text part came HTML-escaped: "Don&#39;t ... &amp; &lt;ssl.conf&gt;"."""
    title = "Don't bill twice & check <ssl.conf>"
    request_id = submit(notify.platform, title)
    accept(notify, request_id)
    notify.deliver()
    (mail, *_) = [m for m in smtp.messages if m["To"] == "val@example.com"]
    parts = {
        p.get_content_type(): p.get_content()
        for p in mail.walk()
        if isinstance(p, EmailMessage) and p.get_content_maintype() == "text"
    }
    assert title in parts["text/plain"]
    assert "&#39;" not in parts["text/plain"]
    assert "Don&#39;t bill twice &amp; check &lt;ssl.conf&gt;" in parts["text/html"]


def test_the_department_hears_about_triage_but_not_the_one_who_triaged(notify: Notify) -> None:
    request_id = submit(notify.platform)
    accept(notify, request_id)
    told = recipients(notify, "ChangeRequest.Accepted")
    assert told == {"vp.sales": "email", "dev.alice": "email"}  # department and new owner
    assert "rm" not in told


def test_release_managers_hear_about_new_submissions(notify: Notify) -> None:
    submit(notify.platform)
    assert recipients(notify, "ChangeRequest.Submitted") == {"rm": "email"}


def test_cab_members_hear_of_changes_awaiting_approval_except_those_barred(notify: Notify) -> None:
    publish(
        notify.platform.log,
        c.CHANGE_RAISED,
        uuid.uuid4(),
        1,
        actor="ops.olga",
        change_type="normal",
        title="Patch DB",
        bundle_id=None,
        subsystems=["Billing"],
        window_start="2027-01-05T20:00:00+00:00",
        window_end="2027-01-05T22:00:00+00:00",
        requester="ops.olga",
        implementers=["cab.dora"],
        risk="medium",
    )
    assert recipients(notify, "ProductionChange.Raised") == {"cab.carl": "email"}


def test_unauthorised_deployments_reach_release_managers_and_admins(notify: Notify) -> None:
    publish(
        notify.platform.log,
        c.DEPLOYMENT_REPORTED,
        uuid.uuid4(),
        1,
        actor="pipeline",
        pipeline="pipeline",
        subsystem="Billing",
        version="1.2.3",
        deployed_at=datetime.now(UTC).isoformat(),
        claimed_change_id=None,
        change_id=None,
        unauthorised=True,
        reason="no_approved_change",
    )
    assert recipients(notify, "DeploymentReport.Recorded") == {"rm": "email", "admin": "digest"}


def test_an_unauthorised_deployment_is_told_with_its_reason_and_the_change_it_claimed(
    notify: Notify,
) -> None:
    """Every such message said "no approved change covering it (it claimed <uuid>)",
    whatever the reason; it says the reason, and names the claimed change by reference."""
    change = raise_change(
        notify, "Patch DB", ["Billing"], "2027-01-06T20:00:00+00:00", "2027-01-06T22:00:00+00:00"
    )
    publish(
        notify.platform.log, c.DEPLOYMENT_REPORTED, uuid.uuid4(), 1, actor="pipeline",
        pipeline="pipeline", subsystem="Billing", version="1.2.4",
        deployed_at="2027-01-06T23:30:00+00:00", claimed_change_id=str(change), change_id=None,
        unauthorised=True, reason="outside_window",
    )  # fmt: skip
    recipients(notify, "DeploymentReport.Recorded")
    (said,) = [
        orjson.loads(r["payload"])["message"]
        for r in notify.outbox("rm")
        if orjson.loads(r["payload"])["message"]["subject"].startswith("Unauthorised")
    ]
    assert said["lines"] == [
        "Reported by pipeline at 2027-01-06 23:30 UTC: it was deployed outside the"
        " claimed change's window (it claimed change CHG-1 “Patch DB”)."
    ]
    # A receiver that shows the message (a chat hook) has the whole address, as emails do.
    assert said["url"] == f"http://127.0.0.1:8000{said['link']}"


def test_a_person_who_turned_a_topic_off_hears_nothing(notify: Notify) -> None:
    principal = notify.platform.directory.principal("vp.sales")
    assert principal is not None
    with acting_as("vp.sales"):
        notify.notifications.choose(principal, Topic.DEPARTMENT_REQUESTS, Channel.OFF)
    request_id = submit(notify.platform)
    accept(notify, request_id)
    assert "vp.sales" not in recipients(notify, "ChangeRequest.Accepted")


def test_followers_of_a_bundle_hear_when_it_moves(notify: Notify) -> None:
    request_id = submit(notify.platform)
    accept(notify, request_id)
    bundle = schedule(notify, request_id)
    principal = notify.platform.directory.principal("cab.carl")
    assert principal is not None
    with acting_as("cab.carl"):
        notify.notifications.follow(principal, bundle)
    publish(
        notify.platform.log,
        c.BUNDLE_MOVED,
        uuid.UUID(bundle),
        3,
        actor="rm",
        deploy_date="2027-03-16",
        window_start="2027-03-16T20:00:00+00:00",
        window_end="2027-03-16T23:00:00+00:00",
        scope_freeze_at="2027-03-02T17:00:00+00:00",
        code_complete_at="2027-03-05T17:00:00+00:00",
        qa_start_at="2027-03-08T09:00:00+00:00",
        reason="billing freeze",
    )
    told = recipients(notify, "ReleaseBundle.Moved")
    assert told == {"vp.sales": "email", "dev.alice": "email", "cab.carl": "email"}


def test_the_daily_digest_sends_one_email_with_everything_queued(
    notify: Notify, smtp: Sink
) -> None:
    principal = notify.platform.directory.principal("rm")
    assert principal is not None
    with acting_as("rm"):
        notify.notifications.choose(principal, Topic.NEW_SUBMISSIONS, Channel.DIGEST)
    for n in range(3):
        submit(notify.platform, f"Request {n}")
    notify.deliver()
    assert [m for m in smtp.messages if m["To"] == "rita@example.com"] == []
    evening = datetime.now(UTC).replace(hour=23)
    assert notify.dispatcher.send_digests(evening) == 1
    assert notify.dispatcher.send_digests(evening) == 0  # once a day
    (digest,) = [m for m in smtp.messages if m["To"] == "rita@example.com"]
    assert digest["Subject"] == "Railyard daily digest: 3 updates"


def raise_change(
    notify: Notify,
    title: str,
    subsystems: list[str],
    start: str,
    end: str,
    requester: str = "dev.alice",
) -> uuid.UUID:
    change = uuid.uuid4()
    publish(
        notify.platform.log,
        c.CHANGE_RAISED,
        change,
        1,
        actor=requester,
        change_type="normal",
        title=title,
        bundle_id=None,
        subsystems=subsystems,
        window_start=start,
        window_end=end,
        requester=requester,
        implementers=[requester],
        risk="low",
    )
    return change


def test_cab_members_hear_of_a_conflict_between_overlapping_changes(notify: Notify) -> None:
    raise_change(
        notify,
        "Patch billing DB",
        ["Billing"],
        "2027-01-05T20:00:00+00:00",
        "2027-01-05T23:00:00+00:00",
    )
    raise_change(
        notify, "Upgrade CRM", ["CRM"], "2027-01-05T21:00:00+00:00", "2027-01-05T23:00:00+00:00"
    )  # overlaps, but touches another subsystem
    second = raise_change(
        notify,
        "Billing tariff load",
        ["Billing", "CRM"],
        "2027-01-05T22:00:00+00:00",
        "2027-01-06T01:00:00+00:00",
        requester="ops.olga",
    )
    notify.follow_log()
    with notify.platform.log.db.transaction() as cur:
        cur.execute(
            f"SELECT target, payload FROM {notify.platform.log.table('notify_outbox')}"
            " WHERE delivery_id LIKE :pattern",
            {"pattern": "%:conflict:%"},
        )

        rows = cur.fetchall()
    subjects = {orjson.loads(r["payload"])["message"]["subject"] for r in rows}
    assert subjects == {
        "Conflict: CHG-3 “Billing tariff load” and CHG-1 “Patch billing DB” both change Billing",
        "Conflict: CHG-3 “Billing tariff load” and CHG-2 “Upgrade CRM” both change CRM",
    }
    told = {r["target"] for r in rows}
    assert told == {"cab.carl", "cab.dora"}  # ops.olga raised it herself
    links = {orjson.loads(r["payload"])["message"]["link"] for r in rows}
    assert links == {f"/changes/{second}"}


def test_a_withdrawn_change_no_longer_conflicts(notify: Notify) -> None:
    first = raise_change(
        notify,
        "Patch billing DB",
        ["Billing"],
        "2027-01-05T20:00:00+00:00",
        "2027-01-05T23:00:00+00:00",
    )
    publish(
        notify.platform.log, c.CHANGE_WITHDRAWN, first, 2, actor="dev.alice", reason="not needed"
    )
    raise_change(
        notify,
        "Billing tariff load",
        ["Billing"],
        "2027-01-05T22:00:00+00:00",
        "2027-01-06T01:00:00+00:00",
        requester="ops.olga",
    )
    notify.follow_log()
    assert notify.outbox("cab.carl") == [] or all(
        ":conflict:" not in r["delivery_id"] for r in notify.outbox("cab.carl")
    )


def test_every_notification_links_to_a_page_of_the_web_interface(notify: Notify) -> None:
    """The link in an email opens a page: a request's, a bundle's, a change's, or the
    weekly report that lists an unauthorised change."""
    from starlette.routing import Match

    from railyard.app import all_components
    from shared.http.app import create_app
    from shared.web.install import install_web

    request_id = submit(notify.platform)
    accept(notify, request_id)
    bundle = schedule(notify, request_id)
    publish(
        notify.platform.log, c.BUNDLE_CANCELLED, uuid.UUID(bundle), 3, actor="rm",
        reason="merged into the next one",
    )  # fmt: skip
    publish(
        notify.platform.log, c.CHANGE_RAISED, uuid.uuid4(), 1, actor="ops.olga",
        change_type="normal", title="Patch DB", bundle_id=None, subsystems=["Billing"],
        window_start="2027-01-05T20:00:00+00:00", window_end="2027-01-05T22:00:00+00:00",
        requester="ops.olga", implementers=["cab.dora"], risk="medium",
    )  # fmt: skip
    publish(
        notify.platform.log, c.DEPLOYMENT_REPORTED, uuid.uuid4(), 1, actor="pipeline",
        pipeline="pipeline", subsystem="Billing", version="1.2.3",
        deployed_at="2027-01-06T23:30:00+00:00", claimed_change_id=None, change_id=None,
        unauthorised=True, reason="no_approved_change",
    )  # fmt: skip
    notify.follow_log()
    with notify.platform.log.db.transaction() as cur:
        cur.execute(f"SELECT payload FROM {notify.platform.log.table('notify_outbox')}")
        links = {
            orjson.loads(r["payload"])["message"]["link"]
            for r in cur.fetchall()
            if "message" in orjson.loads(r["payload"])
        }
    kinds = {link.split("/")[1].split("?")[0] for link in links}
    assert kinds >= {"requests", "release", "changes", "dashboard"}
    assert "/dashboard/weekly?week=2027-W01" in links
    components = all_components(notify.platform)
    app = create_app(notify.platform, components, run_followers=False)
    install_web(app, notify.platform, components)
    for link in links:
        scope = {"type": "http", "method": "GET", "path": link.partition("?")[0]}
        assert any(route.matches(scope)[0] == Match.FULL for route in app.routes), link


def test_cab_members_hear_again_when_a_revision_voids_the_approvals(notify: Notify) -> None:
    """A revised change awaits approval again: the CAB is told (never its requester or
    implementers); a revision that voided nothing tells nobody."""
    change = uuid.uuid4()
    publish(
        notify.platform.log, c.CHANGE_RAISED, change, 1, actor="ops.olga",
        change_type="normal", title="Patch DB", bundle_id=None, subsystems=["Billing"],
        window_start="2027-01-05T20:00:00+00:00", window_end="2027-01-05T22:00:00+00:00",
        requester="ops.olga", implementers=["cab.dora"], risk="medium",
    )  # fmt: skip
    revision: dict[str, Any] = {
        "title": "Patch DB",
        "implementers": ["cab.dora"],
        "subsystems": ["Billing", "CRM"],
        "window_start": "2027-01-06T20:00:00+00:00",
        "window_end": "2027-01-06T22:00:00+00:00",
        "risk": "high",
        "changed": ["window_end"],
        "previous": {"window_end": "2027-01-06T21:00:00+00:00"},
    }
    publish(
        notify.platform.log, c.CHANGE_REVISED, change, 2, actor="ops.olga", revision=2,
        approvals_voided=True, **revision,
    )  # fmt: skip
    assert recipients(notify, "ProductionChange.Revised") == {"cab.carl": "email"}
    with notify.platform.log.db.transaction() as cur:
        cur.execute(
            f"SELECT payload FROM {notify.platform.log.table('notify_outbox')}"
            " WHERE event_type = 'ProductionChange.Revised'"
        )
        (row,) = cur.fetchall()
    message = orjson.loads(row["payload"])["message"]
    assert (
        message["subject"] == "Revised, awaiting the CAB's approval again: change CHG-1 “Patch DB”"
    )
    publish(
        notify.platform.log, c.CHANGE_REVISED, change, 3, actor="ops.olga", revision=3,
        approvals_voided=False, **revision,
    )  # fmt: skip
    recipients(notify, "ProductionChange.Revised")
    with notify.platform.log.db.transaction() as cur:
        assert (
            cur.scalar(
                f"SELECT COUNT(*) FROM {notify.platform.log.table('notify_outbox')}"
                " WHERE event_type = 'ProductionChange.Revised'"
            )
            == 1
        )


def comment(notify: Notify, request_id: str, who: str, text: str) -> None:
    principal = notify.platform.directory.principal(who)
    assert principal is not None
    with acting_as(who):
        intake(notify).comment(principal, uuid.UUID(request_id), text)


def test_a_comment_reaches_the_department_and_the_owner_but_not_its_author(
    notify: Notify, smtp: Sink
) -> None:
    request_id = submit(notify.platform, "Bill shock alerts")
    accept(notify, request_id)
    comment(notify, request_id, "vp.sales", "Can it make the March bundle?\nBilling asks.")
    assert recipients(notify, "ChangeRequest.Commented") == {"dev.alice": "email"}
    comment(notify, request_id, "dev.alice", "Yes, it is sized for it.")
    told = recipients(notify, "ChangeRequest.Commented")
    assert told == {"dev.alice": "email", "vp.sales": "email"}  # each heard the other
    assert "rm" not in told  # an owned request's conversation is the owner's
    notify.deliver()
    to_alice = [m for m in smtp.messages if m["To"] == "alice@example.com"]
    subjects = [m["Subject"] for m in to_alice]
    assert "vp.sales commented on REQ-1 “Bill shock alerts”" in subjects
    body = to_alice[subjects.index("vp.sales commented on REQ-1 “Bill shock alerts”")]
    text = next(p for p in body.walk() if p.get_content_type() == "text/plain")
    assert isinstance(text, EmailMessage)
    assert "Can it make the March bundle?" in text.get_content()
    assert f"/requests/{request_id}" in text.get_content()


def test_a_comment_on_a_request_nobody_owns_yet_reaches_the_release_managers(
    notify: Notify,
) -> None:
    request_id = submit(notify.platform)
    comment(notify, request_id, "vp.sales", "One more detail: postpaid only.")
    assert recipients(notify, "ChangeRequest.Commented") == {"rm": "email"}


def test_a_reactivated_person_hears_again(notify: Notify) -> None:
    first, second = submit(notify.platform), submit(notify.platform, "Roaming caps")
    with acting_as("admin"):
        notify.platform.identity.deactivate("vp.sales", "on leave")
    accept(notify, first)
    assert "vp.sales" not in recipients(notify, "ChangeRequest.Accepted")
    with acting_as("admin"):
        notify.platform.identity.reactivate("vp.sales", "back")
    accept(notify, second)
    assert recipients(notify, "ChangeRequest.Accepted")["vp.sales"] == "email"
    told = [r for r in notify.outbox("vp.sales") if r["event_type"] == "ChangeRequest.Accepted"]
    assert len(told) == 1  # the second acceptance only


def test_the_it_owner_hears_of_each_development_and_qa_step_of_their_request(
    notify: Notify, smtp: Sink
) -> None:
    """Their topic promises every step; QA failing their work told them nothing. The
    department does not hear of each step (its request's own steps say enough)."""
    request_id = submit(notify.platform, "Bill shock alerts")
    accept(notify, request_id)
    bundle = schedule(notify, request_id)
    publish(notify.platform.log, c.ITEM_PROGRESSED, uuid.UUID(bundle), 3, actor="qa.quinn",
            request_id=request_id, stage="qa_failed", note="Totals wrong for prepaid")  # fmt: skip
    assert recipients(notify, "ReleaseBundle.ItemProgressed") == {"dev.alice": "email"}
    notify.deliver(rounds=2)  # two to a person at a time: accepted, scheduled, then this
    to_alice = [m for m in smtp.messages if m["To"] == "alice@example.com"]
    failed = next(m for m in to_alice if m["Subject"] == "QA failed: REQ-1 “Bill shock alerts”")
    text = next(p for p in failed.walk() if p.get_content_type() == "text/plain")
    assert isinstance(text, EmailMessage)
    assert "Note: Totals wrong for prepaid" in text.get_content()
    # Who recorded it (another developer may move an owner's item): it said nobody.
    assert ", recorded by qa.quinn." in text.get_content()
