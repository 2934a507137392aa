"""Use cases: admins manage webhook endpoints; everyone manages their own subscriptions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from services.notify.dispatch import Dispatcher
from services.notify.domain import (
    Channel,
    Subscriptions,
    Topic,
    WebhookEndpoint,
    effective_channel,
    subscriptions_id,
)
from services.notify.signing import endpoint_secret, person_secret
from services.notify.views import NotifyViews
from shared.application import Outcome, UseCases
from shared.domain import NotFound
from shared.identity.domain import Principal
from shared.store.log import EventLog


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
        }
        return _preferences(
            principal, stored["channels"], stored["webhook_url"], stored["followed"]
        )

    def choose(self, principal: Principal, topic: Topic, channel: Channel) -> Preferences:
        return self._mine(principal, lambda s: s.choose(topic, channel))

    def choose_many(self, principal: Principal, choices: dict[Topic, Channel]) -> Preferences:
        """Several topics at once: all of them are saved, or none (one refused)."""

        def decide(subscriptions: Subscriptions) -> None:
            for topic, channel in choices.items():
                subscriptions.choose(topic, channel)

        return self._mine(principal, decide)

    def set_webhook(self, principal: Principal, url: str | None) -> PersonalWebhook:
        self._mine(principal, lambda s: s.set_webhook(url, require_https=self.require_https))
        secret = person_secret(self.master_key(), principal.username) if url else None
        return PersonalWebhook(url, secret)

    def follow(self, principal: Principal, bundle_id: str) -> Preferences:
        return self._mine(principal, lambda s: s.follow(bundle_id))

    def unfollow(self, principal: Principal, bundle_id: str) -> Preferences:
        return self._mine(principal, lambda s: s.unfollow(bundle_id))

    def _mine(self, principal: Principal, decide: Callable[[Subscriptions], object]) -> Preferences:
        def command() -> Outcome[Preferences]:
            sid = subscriptions_id(principal.username)
            if self.log.exists(sid):
                subscriptions = self.log.get(sid, Subscriptions)
            else:
                subscriptions = Subscriptions(username=principal.username)
            decide(subscriptions)
            return Outcome(
                [subscriptions],
                _preferences(
                    principal,
                    subscriptions.channels,
                    subscriptions.webhook_url,
                    subscriptions.followed,
                ),
            )

        return self.run(command)


def _preferences(
    principal: Principal, chosen: dict[str, str], webhook_url: str | None, followed: list[str]
) -> Preferences:
    """Every topic's channel: the person's choice, else their roles' default."""
    roles = [r.value for r in principal.roles]
    channels = {t.value: effective_channel(t, chosen, roles).value for t in Topic}
    return Preferences(principal.username, channels, sorted(chosen), webhook_url, list(followed))
