"""Calendar feed secrets: how a calendar client that cannot send a bearer token still
proves whose calendar subscription it is (see docs/decisions/0030).

A feed secret reads one thing, the release calendar, and nothing else; it is stored as
a hash, shown once, and revocable on its own.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from uuid import UUID

from eventsourcing.domain import event

from shared.domain import AuditedAggregate, InvalidCommand, RuleViolation, name_based_id

FEED_TOKEN = re.compile(r"^rycal_([0-9a-f]{16})_([A-Za-z0-9_-]{32,64})$")


def feed_aggregate_id(feed_id: str) -> UUID:
    return name_based_id("calendar-feed", feed_id)


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarFeed(AuditedAggregate):
    """One person's calendar subscription secret."""

    @staticmethod
    def create_id(feed_id: str) -> UUID:
        return feed_aggregate_id(feed_id)

    @classmethod
    def issue(cls, owner: str, label: str) -> tuple[CalendarFeed, str]:
        """A new feed and its token, returned in clear this once and never stored."""
        label = label.strip()
        if not label or len(label) > 100:
            raise InvalidCommand("label_required", "a feed has a label of 1 to 100 characters")
        feed_id = secrets.token_hex(8)
        token = f"rycal_{feed_id}_{secrets.token_urlsafe(32)}"
        feed = cls(feed_id=feed_id, owner=owner, label=label, secret_hash=hash_secret(token))
        return feed, token

    @event("Issued")
    def __init__(self, feed_id: str, owner: str, label: str, secret_hash: str) -> None:
        self.feed_id = feed_id
        self.owner = owner
        self.label = label
        self.secret_hash = secret_hash
        self.revoked = False

    def revoke(self, reason: str) -> None:
        if self.revoked:
            raise RuleViolation("feed_already_revoked", f"feed {self.feed_id} is already revoked")
        self._revoked(reason=reason.strip()[:500])

    @event("Revoked")
    def _revoked(self, reason: str) -> None:
        self.revoked = True
