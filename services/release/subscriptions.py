"""Calendar subscriptions: issue and revoke feed secrets, and recognise them on the one
route that accepts them (docs/decisions/0030)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from services.release.feeds import FEED_TOKEN, CalendarFeed, feed_aggregate_id, hash_secret
from services.release.queries import ReleaseViews
from shared.application import Outcome, UseCases
from shared.domain import NotFound, NotPermitted
from shared.identity.domain import Principal, Role
from shared.identity.views import Directory
from shared.store.log import EventLog

FEED_PATH = "/api/calendar/feed.ics"


@dataclass(frozen=True)
class IssuedFeed:
    feed_id: str
    label: str
    token: str
    subscribe_path: str


@dataclass(frozen=True)
class FeedRef:
    feed_id: str
    version: int
    revoked: bool


class CalendarFeeds(UseCases):
    """Each person's calendar feed secrets: read-only access to the release calendar."""

    def __init__(self, log: EventLog, views: ReleaseViews, directory: Directory) -> None:
        super().__init__(log)
        self.views = views
        self.directory = directory

    def issue(self, owner: str, label: str) -> IssuedFeed:
        """A new secret for `owner`; the answer is the only time it is shown."""

        def command() -> Outcome[IssuedFeed]:
            feed, token = CalendarFeed.issue(owner, label)
            issued = IssuedFeed(feed.feed_id, feed.label, token, f"{FEED_PATH}?token=")
            return Outcome([feed], issued)

        return self.run(command)

    def revoke(self, caller: Principal, feed_id: str, reason: str) -> FeedRef:
        row = self.views.feed(feed_id)
        if row is None:
            raise NotFound("calendar_feed_not_found", f"no calendar feed {feed_id}")
        if row["owner"] != caller.username and not caller.has(Role.ADMIN):
            raise NotPermitted("own_feed_only", "only an admin may revoke another user's feed")

        def command() -> Outcome[FeedRef]:
            feed = self.log.get(feed_aggregate_id(feed_id), CalendarFeed, "calendar feed")
            feed.revoke(reason)
            return Outcome([feed], FeedRef(feed.feed_id, feed.version, feed.revoked))

        return self.run(command)

    def authenticate(self, token: str) -> Principal | None:
        """The active owner of a valid, unrevoked feed secret, else None."""
        match = FEED_TOKEN.match(token)
        if match is None:
            return None
        row = self.views.feed(match.group(1))
        if row is None or row["revoked_at"]:
            return None
        if not hmac.compare_digest(row["secret_hash"], hash_secret(token)):
            return None
        return self.directory.principal(row["owner"])
