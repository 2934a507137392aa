"""A person's own webhook: signed with their own secret, which they can replace when it
leaks (decision 0121)."""

from __future__ import annotations

from uuid import UUID

import pytest

from services.intake.application import Intake
from services.intake.views import IntakeViews
from services.notify.domain import Channel, Topic
from services.notify.signing import SignatureError, derive_secret, person_secret, verify
from shared.application import acting_as
from shared.domain import RuleViolation
from tests.notify.conftest import Notify, give_email, submit
from tests.notify.receiver import receiver


def test_a_person_replaces_a_leaked_webhook_secret_and_the_old_one_stops_signing(
    notify: Notify,
) -> None:
    n = notify.notifications
    rm = notify.platform.directory.principal("rm")
    assert rm is not None
    with receiver() as hook, acting_as("rm"):
        first = n.set_webhook(rm, hook.url).secret
        n.choose(rm, Topic.NEW_SUBMISSIONS, Channel.WEBHOOK)
        hook.secret = first
        submit(notify.platform, "Signed with the first secret")
        notify.deliver()
        assert len(hook.received) == 1
        assert hook.bad_signatures == 0

        replaced = n.replace_webhook_secret(rm)
        assert replaced.url == hook.url
        assert replaced.secret is not None
        assert replaced.secret != first
        hook.secret = replaced.secret
        submit(notify.platform, "Signed with the new secret")
        notify.deliver()
        assert len(hook.received) == 2
        assert hook.bad_signatures == 0
        latest = hook.received[-1]
        assert first is not None
        with pytest.raises(SignatureError, match="does not match"):
            verify(first, latest.headers["Railyard-Signature"], latest.body)

        # Setting the URL again (moved to another receiver) keeps the current secret.
        assert n.set_webhook(rm, hook.url).secret == replaced.secret


def test_replacing_a_webhook_secret_needs_a_webhook(notify: Notify) -> None:
    sales = notify.platform.directory.principal("vp.sales")
    assert sales is not None
    with acting_as("vp.sales"), pytest.raises(RuleViolation) as refused:
        notify.notifications.replace_webhook_secret(sales)
    assert refused.value.rule == "no_webhook"


def test_the_first_personal_secret_is_the_one_people_had_before_they_could_replace_it() -> None:
    master = b"k" * 32
    assert person_secret(master, "vp.sales") == derive_secret(master, "person:vp.sales")
    assert person_secret(master, "vp.sales", 1) == person_secret(master, "vp.sales")
    assert person_secret(master, "vp.sales", 2) not in {
        person_secret(master, "vp.sales", 1),
        person_secret(master, "vp.sales", 3),
    }


def test_without_a_mail_server_an_email_is_given_up_at_once_with_the_reason(
    notify: Notify,
) -> None:
    """No RAILYARD_SMTP_HOST: each email is 'not sent' after one try, saying why, instead
    of being tried again for a day (a log line each time); webhooks still go."""
    n = notify.notifications
    rm = notify.platform.directory.principal("rm")
    assert rm is not None
    platform = notify.platform
    intake = Intake(platform.log, IntakeViews(platform.log), platform.directory)
    give_email(platform, "vp.sales", "val@example.com")
    with receiver() as hook:
        with acting_as("rm"):
            n.set_webhook(rm, hook.url)
            n.choose(rm, Topic.NEW_SUBMISSIONS, Channel.WEBHOOK)
        asked = [submit(platform, title) for title in ("One", "Two", "Three")]
        with acting_as("rm"):
            for request_id in asked:  # each question is for the requester, by email
                intake.request_information(UUID(request_id), "Which customers?")
        notify.deliver(rounds=2)
        assert len(hook.received) == 3
    emails = [r for r in notify.outbox("vp.sales") if r["channel"] == "email"]
    assert len(emails) == 3
    assert {(r["status"], r["attempts"]) for r in emails} == {("dead", 1)}
    assert {r["last_error"] for r in emails} == {"email is not configured (set RAILYARD_SMTP_HOST)"}
