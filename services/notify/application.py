"""Use cases: admins manage webhook endpoints; everyone manages their own subscriptions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from services.notify.dispatch import Dispatcher
from services.notify.domain import (
    FOLLOWABLE,
    Channel,
    Subscriptions,
    Topic,
    WebhookEndpoint,
    check_filter,
    effective_channel,
    require_reachable,
    subscriptions_id,
)
from services.notify.signing import endpoint_secret, person_secret
from services.notify.views import NotifyViews
from shared import contracts as c
from shared.application import Outcome, UseCases
from shared.domain import InvalidCommand, NotFound
from shared.identity.domain import Principal
from shared.store.log import EventLog

T = TypeVar("T")


@dataclass(frozen=True)
class EndpointRef:
    id: str
    version: int
    active: bool


@dataclass(frozen=True)
class EndpointSecret:
    id: str
    version: int
    secret: str  # shown once; rotate to get a new one


@dataclass(frozen=True)
class Preferences:
    username: str
    channels: dict[str, str]  # every topic: the chosen channel, or the role default
    chosen: list[str]  # the topics chosen explicitly
    webhook_url: str | None
    followed_bundles: list[str]
    followed_requests: list[str]  # the requests and changes one follows, by id
    followed_changes: list[str]


@dataclass(frozen=True)
class PersonalWebhook:
    url: str | None
    secret: str | None  # shown once


class Notifications(UseCases):
    def __init__(
        self,
        log: EventLog,
        views: NotifyViews,
        dispatcher: Dispatcher,
        master_key: Callable[[], bytes],
    ) -> None:
        super().__init__(log)
        self.views = views
        self.dispatcher = dispatcher
        self.master_key = master_key
        self.require_https = log.settings.production

    # -- endpoints (admin) ----------------------------------------------------------

    def register_endpoint(
        self,
        url: str,
        event_types: Sequence[str],
        description: str,
        max_in_flight: int,
        timeout_s: float,
    ) -> EndpointSecret:
        _published(event_types)

        def command() -> Outcome[EndpointSecret]:
            endpoint = WebhookEndpoint.register(
                url,
                event_types,
                description,
                max_in_flight,
                timeout_s,
                require_https=self.require_https,
            )
            return Outcome([endpoint], self._secret(endpoint))

        return self.run(command)

    def change_endpoint(
        self, endpoint_id: UUID, url: str, event_types: Sequence[str]
    ) -> EndpointRef:
        _published(event_types)
        return self._endpoint_change(
            endpoint_id, lambda e: e.change(url, event_types, require_https=self.require_https)
        )

    def pause_endpoint(self, endpoint_id: UUID, reason: str) -> EndpointRef:
        return self._endpoint_change(endpoint_id, lambda e: e.pause(reason))

    def resume_endpoint(self, endpoint_id: UUID) -> EndpointRef:
        return self._endpoint_change(endpoint_id, lambda e: e.resume())

    def remove_endpoint(self, endpoint_id: UUID) -> EndpointRef:
        return self._endpoint_change(endpoint_id, lambda e: e.remove())

    def rotate_secret(self, endpoint_id: UUID) -> EndpointSecret:
        def command() -> Outcome[EndpointSecret]:
            endpoint = self._endpoint(endpoint_id)
            endpoint.rotate_secret()
            return Outcome([endpoint], self._secret(endpoint))

        return self.run(command)

    def resend(self, delivery_id: str) -> bool:
        """Re-queue a dead letter; False when there is no such dead letter."""
        return self.dispatcher.resend(delivery_id)

    def _secret(self, endpoint: WebhookEndpoint) -> EndpointSecret:
        return EndpointSecret(
            str(endpoint.id),
            endpoint.version,
            endpoint_secret(self.master_key(), str(endpoint.id), endpoint.secret_version),
        )

    def _endpoint_change(
        self, endpoint_id: UUID, decide: Callable[[WebhookEndpoint], object]
    ) -> EndpointRef:
        def command() -> Outcome[EndpointRef]:
            endpoint = self._endpoint(endpoint_id)
            decide(endpoint)
            return Outcome(
                [endpoint], EndpointRef(str(endpoint.id), endpoint.version, endpoint.active)
            )

        return self.run(command)

    def _endpoint(self, endpoint_id: UUID) -> WebhookEndpoint:
        endpoint = self.log.get(endpoint_id, WebhookEndpoint, "webhook endpoint")
        if endpoint.removed:
            raise NotFound("webhook_endpoint_not_found", f"no webhook endpoint {endpoint_id}")
        return endpoint

    # -- a person's own subscriptions -----------------------------------------------

    def preferences(self, principal: Principal) -> Preferences:
        stored = self.views.subscriptions(principal.username) or {
            "channels": {},
            "webhook_url": None,
            "followed": [],
            "following": {},
        }
        return _preferences(
            principal,
            stored["channels"],
            stored["webhook_url"],
            stored["followed"],
            stored["following"],
        )

    def choose(self, principal: Principal, topic: Topic, channel: Channel) -> Preferences:
        require_reachable([topic], (r.value for r in principal.roles))
        return self._mine(principal, lambda s: s.choose(topic, channel))

    def choose_many(self, principal: Principal, choices: dict[Topic, Channel]) -> Preferences:
        """Several topics at once: all of them are saved, or none (one refused)."""
        require_reachable(choices, (r.value for r in principal.roles))

        def decide(subscriptions: Subscriptions) -> None:
            for topic, channel in choices.items():
                subscriptions.choose(topic, channel)

        return self._mine(principal, decide)

    def set_webhook(self, principal: Principal, url: str | None) -> PersonalWebhook:
        def decide(subscriptions: Subscriptions) -> PersonalWebhook:
            subscriptions.set_webhook(url, require_https=self.require_https)
            return self._webhook(principal, subscriptions)

        return self._own(principal, decide)

    def replace_webhook_secret(
        self, principal: Principal, replacing: int | None = None
    ) -> PersonalWebhook:
        """A new signing secret for the person's webhook; the old one stops at once.
        `replacing`: the version the person saw; when it is no longer current (the same
        form sent again, by a reload), the current secret is shown and none replaced."""

        def decide(subscriptions: Subscriptions) -> PersonalWebhook:
            if replacing is None or replacing == subscriptions.webhook_secret_version:
                subscriptions.replace_webhook_secret()
            return self._webhook(principal, subscriptions)

        return self._own(principal, decide)

    def _webhook(self, principal: Principal, subscriptions: Subscriptions) -> PersonalWebhook:
        url, version = subscriptions.webhook_url, subscriptions.webhook_secret_version
        secret = person_secret(self.master_key(), principal.username, version) if url else None
        return PersonalWebhook(url, secret)

    def follow(self, principal: Principal, bundle_id: str) -> Preferences:
        self._require("bundle", bundle_id)
        return self._mine(principal, lambda s: s.follow(bundle_id))

    def follow_item(self, principal: Principal, kind: str, item: str) -> Preferences:
        """Follow a request or a production change (by id, or as REQ-12, CHG-7): hear of
        its every step and comment."""
        item_id = self._named(kind, item)
        self._require(kind, item_id)
        return self._mine(principal, lambda s: s.follow_item(kind, item_id))

    def unfollow_item(self, principal: Principal, kind: str, item: str) -> Preferences:
        item_id = self._named(kind, item)
        return self._mine(principal, lambda s: s.unfollow_item(kind, item_id))

    def _named(self, kind: str, item: str) -> str:
        """The id of the request or change `item` names: its id, or its reference."""
        references = {"request": c.REQUEST_REFERENCES, "change": c.CHANGE_REFERENCES}
        if kind not in references:  # refused as nothing one follows, by _require
            return item
        rule, what = _LABELS[kind]
        number = references[kind].number(item)
        found = self.views.numbered(kind, number) if number is not None else None
        if found is not None:
            return found
        if number is not None:
            raise NotFound(f"{rule}_not_found", f"no {what} {item.strip()}")
        try:
            return str(UUID(item))
        except ValueError:
            raise NotFound(
                f"{rule}_not_found",
                f"no {what} {item!r}: name it by its id or as {references[kind].prefix}-12",
            ) from None

    def _require(self, kind: str, item_id: str) -> None:
        """What is followed exists, and is what it is said to be: read from the log itself
        (the notifier's lookups may not have reached a request submitted a moment ago)."""
        if kind not in _CREATED_BY:
            raise InvalidCommand(
                "not_followable", f"one follows a bundle, a request or a change, not a {kind!r}"
            )
        if self.log.created_as(UUID(item_id)) != _CREATED_BY[kind]:
            rule, what = _LABELS[kind]
            raise NotFound(f"{rule}_not_found", f"no {what} with id {item_id}")

    def unfollow(self, principal: Principal, bundle_id: str) -> Preferences:
        return self._mine(principal, lambda s: s.unfollow(bundle_id))

    def _mine(self, principal: Principal, decide: Callable[[Subscriptions], object]) -> Preferences:
        def answer(subscriptions: Subscriptions) -> Preferences:
            decide(subscriptions)
            return _preferences(
                principal,
                subscriptions.channels,
                subscriptions.webhook_url,
                subscriptions.followed,
                subscriptions.following,
            )

        return self._own(principal, answer)

    def _own(self, principal: Principal, decide: Callable[[Subscriptions], T]) -> T:
        """Decide on the person's own subscriptions (started on first use); the answer is
        what `decide` returns."""

        def command() -> Outcome[T]:
            sid = subscriptions_id(principal.username)
            if self.log.exists(sid):
                subscriptions = self.log.get(sid, Subscriptions)
            else:
                subscriptions = Subscriptions(username=principal.username)
            return Outcome([subscriptions], decide(subscriptions))

        return self.run(command)


_CREATED_BY = {
    "bundle": c.BUNDLE_PLANNED.topic,
    "request": c.REQUEST_SUBMITTED.topic,
    "change": c.CHANGE_RAISED.topic,
}
"""What one can follow, by the event that creates it."""
_LABELS = {
    "bundle": ("release_bundle", "release bundle"),
    "request": ("change_request", "change request"),
    "change": ("production_change", "production change"),
}
"""Each kind as the services that own it name it when it is not found."""
assert set(FOLLOWABLE) < set(_CREATED_BY)


def _preferences(
    principal: Principal,
    chosen: dict[str, str],
    webhook_url: str | None,
    followed: list[str],
    following: dict[str, str],
) -> Preferences:
    """Every topic's channel: the person's choice, else their roles' default."""
    roles = [r.value for r in principal.roles]
    channels = {t.value: effective_channel(t, chosen, roles).value for t in Topic}
    requests, changes = ([i for i, k in following.items() if k == kind] for kind in FOLLOWABLE)
    return Preferences(
        principal.username, channels, sorted(chosen), webhook_url, list(followed), requests, changes
    )


PUBLISHED_TYPES = frozenset(p.type for p in c.ALL)
PUBLISHED_AGGREGATES = frozenset(t.partition(".")[0] for t in PUBLISHED_TYPES)


def _published(event_types: Sequence[str]) -> None:
    """Refuse a filter that names no event an endpoint is ever sent (`NoSuch.Event`, a
    typo of `ChangeRequest.Acepted`): it was taken, and the endpoint heard nothing."""
    check_filter(event_types)  # the form of each first: invalid_event_type
    unknown = [
        t.strip()
        for t in event_types
        if t.strip()
        and t.strip() != "*"
        and t.strip() not in PUBLISHED_TYPES
        and not (t.strip().endswith(".*") and t.strip()[:-2] in PUBLISHED_AGGREGATES)
    ]
    if unknown:
        aggregates = ", ".join(f"{a}.*" for a in sorted(PUBLISHED_AGGREGATES))
        raise InvalidCommand(
            "unknown_event_type",
            f"no event Railyard publishes is {', '.join(unknown)}: name one such as"
            f" ChangeRequest.Accepted, all of an aggregate's ({aggregates}), or *",
        )
