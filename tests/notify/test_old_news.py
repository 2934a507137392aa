"""History is not news: what happened more than a week before the notifier reaches it
(an import's old requests, the whole log again after `railyard rebuild-views`) tells
nobody, while other systems' webhook endpoints still receive every event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.notify.domain import NEWS_FOR_DAYS, old_news
from shared import contracts as c
from shared.domain import mentioned
from tests.foreign import publish
from tests.notify.conftest import Notify, submit
from tests.notify.test_routing import recipients

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("occurred_at", "old"),
    [
        ((NOW - timedelta(days=NEWS_FOR_DAYS, seconds=1)).isoformat(), True),
        ((NOW - timedelta(days=NEWS_FOR_DAYS)).isoformat(), False),
        ((NOW - timedelta(hours=1)).isoformat(), False),
        ("2027-03-01T09:00:00", True),  # no offset: read as UTC
        ("not a time", False),  # unreadable: told, as before
    ],
)
def test_an_event_is_news_for_a_week(occurred_at: str, old: bool) -> None:
    assert old_news(occurred_at, NOW) is old


def test_a_change_decided_a_month_ago_tells_nobody_but_endpoints_still_receive_it(
    notify: Notify,
) -> None:
    endpoint, _ = notify.register("https://hooks.example.com/x", ["ProductionChange.*"])
    month_ago = datetime.now(UTC) - timedelta(days=30)
    change = uuid.uuid4()
    publish(
        notify.platform.log, c.CHANGE_RAISED, change, 1, actor="ops.olga", at=month_ago,
        change_type="normal", title="Patch DB", bundle_id=None, subsystems=["Billing"],
        window_start="2027-01-05T20:00:00+00:00", window_end="2027-01-05T22:00:00+00:00",
        requester="ops.olga", implementers=["ops.olga"], risk="low",
    )  # fmt: skip
    publish(notify.platform.log, c.CHANGE_APPROVED, change, 2, actor="cab.carl",
            at=month_ago, approvers=["cab.carl"])  # fmt: skip
    for kind in ("ProductionChange.Raised", "ProductionChange.Approved"):
        assert recipients(notify, kind) == {endpoint: "endpoint"}  # and no person
    received = [row["event_type"] for row in notify.outbox(endpoint)]
    assert received == ["ProductionChange.Raised", "ProductionChange.Approved"]


def test_todays_news_still_reaches_people(notify: Notify) -> None:
    submit(notify.platform)
    assert recipients(notify, "ChangeRequest.Submitted") == {"rm": "email"}


def test_a_comment_names_people_by_username_after_an_at_sign() -> None:
    text = "Ask @dev.ana. Then @qa.quinn, @dev.ana again; not me@example.com, @@x or @A"
    assert mentioned(text) == ["dev.ana", "qa.quinn"]
