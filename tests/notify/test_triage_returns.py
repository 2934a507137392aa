"""A request that comes back to triage, answered or edited, is news to the release
managers whose queue it is in (and to its followers); the one who did it is not told."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from shared.application import acting_as
from tests.builders import draft
from tests.notify.conftest import Notify, submit
from tests.notify.test_change_people import told_about
from tests.notify.test_following import follow, principal
from tests.notify.test_routing import intake, recipients


def message(notify: Notify, username: str, event_type: str) -> dict[str, Any]:
    """What `username` was told of the one event of that type."""
    [told] = [
        orjson.loads(r["payload"])["message"]
        for r in notify.outbox(username)
        if r["event_type"] == event_type
    ]
    return dict(told)


def test_the_release_manager_hears_the_departments_answer_to_triages_question(
    notify: Notify,
) -> None:
    request_id = submit(notify.platform)
    follow(notify, "vp.care", "request", request_id)
    with acting_as("rm"):
        intake(notify).request_information(uuid.UUID(request_id), "Which tariffs?")
    with acting_as("vp.sales"):
        intake(notify).provide_information(
            principal(notify, "vp.sales"), uuid.UUID(request_id), "Prepaid and roaming only."
        )
    assert recipients(notify, "ChangeRequest.InformationProvided") == {
        "rm": "email",
        "vp.care": "email",
    }
    assert told_about(notify, "rm")[-1] == "Answered: REQ-1 “Bill shock alerts”"
    told = message(notify, "rm", "ChangeRequest.InformationProvided")
    assert told["lines"][:2] == ["“Prepaid and roaming only.”", "It is back in triage."]


def test_an_edit_before_triage_tells_the_release_manager_what_it_says_now(
    notify: Notify,
) -> None:
    request_id = submit(notify.platform)
    with acting_as("vp.sales"):
        intake(notify).edit(
            principal(notify, "vp.sales"),
            uuid.UUID(request_id),
            draft(title="Bill shock alerts by SMS", size_estimate="L"),
        )
    assert recipients(notify, "ChangeRequest.Edited") == {"rm": "email"}
    assert told_about(notify, "rm")[-1] == "Edited before triage: REQ-1 “Bill shock alerts by SMS”"
    told = message(notify, "rm", "ChangeRequest.Edited")
    assert "size L" in told["lines"][0]
