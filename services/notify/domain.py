"""Who hears about what, and how: people's subscriptions and the webhook endpoints an
admin registers.

The facts people can subscribe to are named by `Topic`; each subscription says through
which `Channel` they hear. When someone never chose, the defaults of their roles apply.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import event

from shared.domain import (
    AuditedAggregate,
    InvalidCommand,
    RuleViolation,
    name_based_id,
)


class Topic(StrEnum):
    """What a person can hear about."""

    DEPARTMENT_REQUESTS = "department_requests"  # my department's requests: triaged, commented...
    OWNED_REQUESTS = "owned_requests"  # requests I am the IT point of contact for
    APPROVALS = "approvals"  # production changes awaiting my approval
    FOLLOWED_BUNDLES = "followed_bundles"  # bundles I follow: moved, frozen, deployed
    NEW_SUBMISSIONS = "new_submissions"  # new requests, comments on unowned ones (triage)
    UNAUTHORISED_CHANGES = "unauthorised_changes"  # deployments no approved change covers
    OWN_CHANGES = "own_changes"  # changes I raised or implement: decided, started, completed...
    MENTIONS = "mentions"  # comments that name me (@my.name)
    CONVERSATIONS = "conversations"  # comments after mine on the same request or change
    FOLLOWED_ITEMS = "followed_items"  # requests and changes I follow: every step, comments
    WEEKLY_REPORT = "weekly_report"  # the organisation's status report, each Monday


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"  # the person's own webhook URL (a chat incoming hook, say)
    DIGEST = "digest"  # one email a day with everything since the last one
    OFF = "off"


# A role's defaults: what someone with that role hears about until they choose.
ROLE_DEFAULTS: dict[str, dict[Topic, Channel]] = {
    "requester": {Topic.DEPARTMENT_REQUESTS: Channel.EMAIL},
    "it_staff": {Topic.OWNED_REQUESTS: Channel.EMAIL, Topic.OWN_CHANGES: Channel.EMAIL},
    "cab_member": {Topic.APPROVALS: Channel.EMAIL},
    "release_manager": {
        Topic.WEEKLY_REPORT: Channel.EMAIL,
        Topic.NEW_SUBMISSIONS: Channel.EMAIL,
        Topic.UNAUTHORISED_CHANGES: Channel.EMAIL,
        Topic.OWN_CHANGES: Channel.EMAIL,
    },
    "admin": {Topic.UNAUTHORISED_CHANGES: Channel.DIGEST},
}


# Who a topic can concern: the roles of the people ever told about it (empty: anyone).
TOPIC_AUDIENCE: dict[Topic, tuple[str, ...]] = {
    Topic.DEPARTMENT_REQUESTS: ("requester",),
    Topic.OWNED_REQUESTS: ("it_staff",),
    Topic.APPROVALS: ("cab_member",),
    Topic.FOLLOWED_BUNDLES: (),
    Topic.NEW_SUBMISSIONS: ("release_manager",),
    Topic.UNAUTHORISED_CHANGES: ("release_manager", "admin"),
    Topic.OWN_CHANGES: ("it_staff", "release_manager"),  # who raises and implements them
    Topic.MENTIONS: (),
    Topic.CONVERSATIONS: (),
    Topic.FOLLOWED_ITEMS: (),
    # Who reads the organisation's figures (a VP's dashboard is their department's).
    Topic.WEEKLY_REPORT: ("release_manager", "metrics_reader", "admin", "it_staff", "cab_member"),
}


def topics_for(roles: Iterable[str]) -> list[Topic]:
    """The topics that can ever reach someone with these roles, in a stable order."""
    held = set(roles)
    return [t for t in Topic if not TOPIC_AUDIENCE[t] or held & set(TOPIC_AUDIENCE[t])]


def require_reachable(topics: Iterable[Topic], roles: Iterable[str]) -> None:
    """A channel is chosen only for a topic that can reach the person (422 otherwise):
    a requester choosing email for approvals would wait for messages that never come."""
    held = list(roles)
    theirs = topics_for(held)
    for topic in topics:
        if topic not in theirs:
            raise InvalidCommand(
                "topic_not_for_you",
                f"{topic.value} never reaches you: it is for"
                f" {' or '.join(TOPIC_AUDIENCE[topic])}. The topics that can reach you:"
                f" {', '.join(t.value for t in theirs)}",
            )


def defaults_for(roles: Iterable[str]) -> dict[Topic, Channel]:
    chosen: dict[Topic, Channel] = {}
    for role in roles:
        for topic, channel in ROLE_DEFAULTS.get(role, {}).items():
            chosen.setdefault(topic, channel)
    return chosen


CHOSEN = (Topic.FOLLOWED_BUNDLES, Topic.MENTIONS, Topic.CONVERSATIONS, Topic.FOLLOWED_ITEMS)
"""Topics one is in by one's own doing (or another's naming): email until one chooses."""


def effective_channel(topic: Topic, chosen: dict[str, str], roles: Iterable[str]) -> Channel:
    """What a person hears about `topic` through: their choice, else their roles' default.

    Following a bundle, a request or a change is itself a choice, so what one follows
    defaults to email; so are
    naming someone in a comment and taking part in a conversation: mentions and
    conversations do too."""
    if topic.value in chosen:
        return Channel(chosen[topic.value])
    default = defaults_for(roles).get(topic)
    if default is not None:
        return default
    return Channel.EMAIL if topic in CHOSEN else Channel.OFF


MAX_IN_FLIGHT = 32  # deliveries one endpoint may have in flight at once, at most


def is_internal_host(host: str) -> bool:
    """Loopback, private, link-local or otherwise non-public: what a personal webhook may
    not point at in production (it would let any user probe the internal network)."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a name: checked again, resolved, when a delivery is sent


def check_url(url: str, *, require_https: bool, public_only: bool = False) -> str:
    """A webhook URL: absolute http(s), no credentials in it, https when required, and
    (for a person's own webhook in production) not an internal address."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCommand("invalid_webhook_url", "a webhook URL is an absolute http(s) URL")
    if parts.username or parts.password:
        raise InvalidCommand(
            "credentials_in_url", "put no credentials in a webhook URL; verify our signature"
        )
    if require_https and parts.scheme != "https":
        raise InvalidCommand("https_required", "webhook URLs must use https in production")
    if public_only and is_internal_host(parts.hostname):
        raise InvalidCommand(
            "internal_webhook_address",
            "a personal webhook cannot point at an internal address; "
            "ask an admin to register an endpoint instead",
        )
    if len(url) > 2_000:
        raise InvalidCommand("invalid_webhook_url", "a webhook URL is at most 2000 characters")
    return url


EVENT_TYPE = re.compile(r"^(\*|[A-Z][A-Za-z]+\.(\*|[A-Z][A-Za-z]+))$")


def check_filter(event_types: Sequence[str]) -> list[str]:
    """Event types like `ChangeRequest.Accepted`, `ProductionChange.*`, or `*` for all."""
    cleaned = sorted({t.strip() for t in event_types if t.strip()})
    if not cleaned:
        raise InvalidCommand("filter_required", "name at least one event type (or '*')")
    bad = [t for t in cleaned if not EVENT_TYPE.match(t)]
    if bad:
        raise InvalidCommand(
            "invalid_event_type",
            f"not an event type: {', '.join(bad)} (e.g. ChangeRequest.Accepted,"
            " ProductionChange.*, or *)",
        )
    return cleaned


def matches(event_type: str, filters: Iterable[str]) -> bool:
    aggregate = event_type.partition(".")[0]
    return any(f in ("*", event_type, f"{aggregate}.*") for f in filters)


class WebhookEndpoint(AuditedAggregate):
    """A receiver an admin registered: every matching event is delivered to it, signed."""

    @classmethod
    def register(
        cls,
        url: str,
        event_types: Sequence[str],
        description: str,
        max_in_flight: int,
        timeout_s: float,
        *,
        require_https: bool,
    ) -> WebhookEndpoint:
        if not 1 <= max_in_flight <= MAX_IN_FLIGHT:
            raise InvalidCommand(
                "max_in_flight_out_of_range",
                f"between 1 and {MAX_IN_FLIGHT} deliveries may be in flight",
            )
        if not 0.5 <= timeout_s <= 30:
            raise InvalidCommand("timeout_out_of_range", "a timeout is 0.5 to 30 seconds")
        return cls(
            url=check_url(url, require_https=require_https),
            event_types=check_filter(event_types),
            description=description.strip(),
            max_in_flight=max_in_flight,
            timeout_s=timeout_s,
        )

    @event("Registered")
    def __init__(
        self,
        url: str,
        event_types: list[str],
        description: str,
        max_in_flight: int,
        timeout_s: float,
    ) -> None:
        self.url = url
        self.event_types = event_types
        self.description = description
        self.max_in_flight = max_in_flight
        self.timeout_s = timeout_s
        self.active = True
        self.removed = False
        self.secret_version = 1

    def change(self, url: str, event_types: Sequence[str], *, require_https: bool) -> None:
        self._require_present()
        self._changed(
            url=check_url(url, require_https=require_https), event_types=check_filter(event_types)
        )

    @event("Changed")
    def _changed(self, url: str, event_types: list[str]) -> None:
        self.url = url
        self.event_types = event_types

    def pause(self, reason: str) -> None:
        self._require_present()
        if not self.active:
            raise RuleViolation("already_paused", "the endpoint is already paused")
        self._paused(reason=reason)

    @event("Paused")
    def _paused(self, reason: str) -> None:
        self.active = False

    def resume(self) -> None:
        self._require_present()
        if self.active:
            raise RuleViolation("not_paused", "the endpoint is not paused")
        self._resumed()

    @event("Resumed")
    def _resumed(self) -> None:
        self.active = True

    def rotate_secret(self) -> int:
        self._require_present()
        self._secret_rotated(secret_version=self.secret_version + 1)
        return self.secret_version

    @event("SecretRotated")
    def _secret_rotated(self, secret_version: int) -> None:
        self.secret_version = secret_version

    def remove(self) -> None:
        self._require_present()
        self._removed()

    @event("Removed")
    def _removed(self) -> None:
        self.removed = True
        self.active = False

    def _require_present(self) -> None:
        if self.removed:
            raise RuleViolation("endpoint_removed", "the endpoint was removed")


FOLLOWABLE = ("request", "change")
"""What one follows besides bundles: a request or a production change, each by its id."""


class Subscriptions(AuditedAggregate):
    """One person's choices: per topic a channel, their own webhook, the bundles they
    follow, and the requests and changes they follow (a watch list)."""

    @staticmethod
    def create_id(username: str) -> UUID:
        return subscriptions_id(username)

    @event("Started")
    def __init__(self, username: str) -> None:
        self.username = username
        self.channels: dict[str, str] = {}
        self.webhook_url: str | None = None
        self.webhook_secret_version = 1
        """Which of the person's signing secrets is current: replaced when one leaks."""
        self.followed: list[str] = []
        self.following: dict[str, str] = {}  # request or change id -> "request" or "change"

    def choose(self, topic: Topic, channel: Channel) -> None:
        if channel == Channel.WEBHOOK and not self.webhook_url:
            raise RuleViolation(
                "webhook_url_required", "set your webhook URL before choosing the webhook channel"
            )
        if self.channels.get(topic.value) == channel.value:
            return
        self._chose(topic=Topic(topic).value, channel=Channel(channel).value)

    @event("Chose")
    def _chose(self, topic: str, channel: str) -> None:
        self.channels[topic] = channel

    def set_webhook(self, url: str | None, *, require_https: bool) -> None:
        # In production (require_https) a personal webhook may not reach internal hosts:
        # any user may set one. Admin-registered endpoints are trusted to.
        checked = (
            check_url(url, require_https=require_https, public_only=require_https) if url else None
        )
        if checked is None and Channel.WEBHOOK.value in self.channels.values():
            raise RuleViolation(
                "webhook_in_use", "move your webhook subscriptions to another channel first"
            )
        self._webhook_set(url=checked)

    @event("WebhookSet")
    def _webhook_set(self, url: str | None) -> None:
        self.webhook_url = url

    def replace_webhook_secret(self) -> int:
        """Sign with a new secret from now on (the old one leaked, or its keeper left);
        deliveries already signed with the old one stay as they were sent."""
        if not self.webhook_url:
            raise RuleViolation(
                "no_webhook", "you have no webhook: set its URL, which comes with a secret"
            )
        self._webhook_secret_replaced(secret_version=self.webhook_secret_version + 1)
        return self.webhook_secret_version

    @event("WebhookSecretReplaced")
    def _webhook_secret_replaced(self, secret_version: int) -> None:
        self.webhook_secret_version = secret_version

    def follow(self, bundle_id: str) -> None:
        if bundle_id in self.followed:
            return
        self._followed(bundle_id=bundle_id)

    @event("Followed")
    def _followed(self, bundle_id: str) -> None:
        self.followed = [*self.followed, bundle_id]

    def unfollow(self, bundle_id: str) -> None:
        if bundle_id not in self.followed:
            raise RuleViolation("not_following", f"you do not follow bundle {bundle_id}")
        self._unfollowed(bundle_id=bundle_id)

    @event("Unfollowed")
    def _unfollowed(self, bundle_id: str) -> None:
        self.followed = [b for b in self.followed if b != bundle_id]

    def follow_item(self, kind: str, item_id: str) -> None:
        """Hear of every step of a request or a change, and of comments on it. Following
        what one already follows changes nothing."""
        if kind not in FOLLOWABLE:
            raise InvalidCommand(
                "not_followable", f"one follows a request or a change, not a {kind!r}"
            )
        if item_id in self.following:
            return
        self._item_followed(kind=kind, item_id=item_id)

    @event("ItemFollowed")
    def _item_followed(self, kind: str, item_id: str) -> None:
        self.following = {**self.following, item_id: kind}

    def unfollow_item(self, kind: str, item_id: str) -> None:
        if self.following.get(item_id) != kind:
            raise RuleViolation("not_following", f"you do not follow {kind} {item_id}")
        self._item_unfollowed(kind=kind, item_id=item_id)

    @event("ItemUnfollowed")
    def _item_unfollowed(self, kind: str, item_id: str) -> None:
        self.following = {i: k for i, k in self.following.items() if i != item_id}


def subscriptions_id(username: str) -> UUID:
    return name_based_id("subscriptions", username)


NEWS_FOR_DAYS = 7
"""An event older than this when the notifier reaches it tells nobody (decision 111): the
history a rebuild folds again or an import brings in is not news, and whoever it concerns
reads it on the pages; webhook endpoints, which other systems read, still receive it."""


def old_news(occurred_at: str, now: datetime) -> bool:
    try:
        at = datetime.fromisoformat(occurred_at)
    except ValueError:
        return False  # unreadable: told, as before
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return now - at > timedelta(days=NEWS_FOR_DAYS)
