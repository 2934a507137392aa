"""Which events concern whom, by type, and what the notifier decides for one: the people
told (each under a topic), facts about the item for the message, and its page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.notify.domain import Topic
from shared import contracts as c

# Which events concern a request's people, by event type.
TRIAGE = {
    c.REQUEST_ACCEPTED.type,
    c.REQUEST_REJECTED.type,
    c.REQUEST_DEFERRED.type,
    c.REQUEST_DUPLICATE.type,
    c.REQUEST_INFO_REQUESTED.type,
    c.REQUEST_WITHDRAWN.type,
    c.REQUEST_REPLANNED.type,
    c.REQUEST_DELIVERED.type,
    c.REQUEST_SCHEDULED.type,
    c.REQUEST_UNSCHEDULED.type,
}
BUNDLE_WIDE = {c.BUNDLE_MOVED.type, c.BUNDLE_CANCELLED.type}
BUNDLE_FOLLOWERS_ONLY = {
    c.SCOPE_FROZEN.type,
    c.QA_SIGNED_OFF.type,
    c.BUNDLE_DEPLOYED.type,
    c.BUNDLE_ROLLED_BACK.type,
}


@dataclass(frozen=True)
class Routing:
    people: Mapping[str, Topic]
    facts: Mapping[str, Any]
    link: str


NOBODY = Routing({}, {}, "")


CHANGE_CLOSING = frozenset(
    {c.CHANGE_WITHDRAWN.topic, c.CHANGE_REJECTED.topic, c.CHANGE_COMPLETED.topic}
)


ROUTES = {
    c.REQUEST_SUBMITTED.topic: "_for_submission",
    c.REQUEST_EDITED.topic: "_for_triage_return",
    c.REQUEST_INFO_PROVIDED.topic: "_for_triage_return",
    c.REQUEST_OWNER_ASSIGNED.topic: "_for_request",
    c.REQUEST_COMMENTED.topic: "_for_comment",
    c.REQUEST_RATED.topic: "_for_rating",
    c.ITEM_PROGRESSED.topic: "_for_progress",
    c.CHANGE_RAISED.topic: "_for_change",
    c.CHANGE_REVISED.topic: "_for_change",
    c.CHANGE_APPROVED.topic: "_for_change_people",
    c.CHANGE_REJECTED.topic: "_for_change_people",
    c.CHANGE_COMMENTED.topic: "_for_change_people",
    c.CHANGE_WITHDRAWN.topic: "_for_change_people",
    c.CHANGE_IMPLEMENTATION_STARTED.topic: "_for_change_people",
    c.CHANGE_COMPLETED.topic: "_for_change_people",
    c.WEEKLY_REPORT_ISSUED.topic: "_for_weekly_report",
}
"""Topic -> the notifier's method that routes its events (the rest go by type)."""
