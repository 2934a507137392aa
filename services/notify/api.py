"""Notifications over HTTP: admins manage webhook endpoints and their deliveries; everyone
manages what they hear about."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, model_validator

from services.notify.application import (
    EndpointRef,
    EndpointSecret,
    Notifications,
    PersonalWebhook,
    Preferences,
)
from services.notify.domain import Channel, Topic
from services.notify.views import Endpoint, NotifyViews
from shared.domain import NotFound, RuleViolation
from shared.http.auth import Auth, Caller
from shared.http.models import RequestBody
from shared.http.routing import CreatedAt, ServiceRouter
from shared.identity.domain import Role

DeliveryId = Annotated[
    str, Path(pattern=r"^\d{1,18}:[a-z]{1,16}:[A-Za-z0-9._-]{1,64}(:conflict:[0-9a-f-]{36})?$")
]


class Strict(RequestBody):
    """Unknown fields are refused (422): no mass assignment."""


class NewEndpoint(Strict):
    url: str = Field(min_length=8, max_length=2_000)
    event_types: list[Annotated[str, Field(max_length=100)]] = Field(
        min_length=1,
        max_length=100,
        description="Event types such as ChangeRequest.Accepted, ProductionChange.*, or *.",
    )
    description: str = Field(default="", max_length=500)
    max_in_flight: int = Field(default=4, ge=1, le=32)
    timeout_s: float = Field(default=5.0, ge=0.5, le=30)


class EndpointChange(Strict):
    url: str = Field(min_length=8, max_length=2_000)
    event_types: list[Annotated[str, Field(max_length=100)]] = Field(min_length=1, max_length=100)


class Pause(Strict):
    reason: str = Field(min_length=1, max_length=500)


class ChannelChoice(Strict):
    channel: Channel


class WebhookUrl(Strict):
    url: str | None = Field(default=None, min_length=8, max_length=2_000)


class FollowRef(Strict):
    """What to follow: exactly one of a release bundle, a request or a production change."""

    bundle_id: UUID | None = None
    request_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Its id, or REQ-12."
    )
    change_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Its id, or CHG-7."
    )

    @model_validator(mode="after")
    def _one(self) -> "FollowRef":
        if sum(v is not None for v in (self.bundle_id, self.request_id, self.change_id)) != 1:
            raise ValueError("name exactly one of bundle_id, request_id and change_id")
        return self

    def target(self) -> tuple[str, str]:
        """(kind, id): "bundle", "request" or "change", and its id."""
        for kind, value in (
            ("bundle", self.bundle_id),
            ("request", self.request_id),
            ("change", self.change_id),
        ):
            if value is not None:
                return kind, str(value)
        raise AssertionError("validated: exactly one is set")


class DeliveryOut(BaseModel):
    delivery_id: str
    position: int
    event_type: str
    channel: str
    target: str
    topic: str | None
    status: str
    attempts: int
    created_at: str
    next_attempt_at: str
    delivered_at: str | None
    last_error: str | None
    payload: dict[str, Any]


class Attempt(BaseModel):
    attempt: int
    at: str
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: float


class Resent(BaseModel):
    delivery_id: str
    status: Literal["pending"]


def notify_router(auth: Auth, notifications: Notifications, views: NotifyViews) -> APIRouter:
    router = ServiceRouter(prefix="/api", tags=["notifications"])
    admin = auth.require(Role.ADMIN)
    anyone = auth.require()

    @router.get("/webhooks", response_model=list[Endpoint], summary="Registered endpoints")
    def endpoints(caller: Annotated[Caller, Depends(admin)]) -> list[Endpoint]:
        return views.endpoints()

    @router.post(
        "/webhooks",
        response_model=EndpointSecret,
        status_code=201,
        summary="Register an endpoint: the answer shows its signing secret, once",
        responses=CreatedAt("/api/webhooks/{id}"),
    )
    def register(body: NewEndpoint, caller: Annotated[Caller, Depends(admin)]) -> EndpointSecret:
        with caller.acting():
            return notifications.register_endpoint(
                body.url, body.event_types, body.description, body.max_in_flight, body.timeout_s
            )

    @router.get("/webhooks/{endpoint_id}", response_model=Endpoint, summary="One endpoint")
    def endpoint(endpoint_id: UUID, caller: Annotated[Caller, Depends(admin)]) -> Endpoint:
        found = views.endpoint(str(endpoint_id))
        if found is None:
            raise NotFound("webhook_endpoint_not_found", f"no webhook endpoint {endpoint_id}")
        return found

    @router.put(
        "/webhooks/{endpoint_id}",
        response_model=EndpointRef,
        summary="Change an endpoint's URL or event filter",
    )
    def change(
        endpoint_id: UUID, body: EndpointChange, caller: Annotated[Caller, Depends(admin)]
    ) -> EndpointRef:
        with caller.acting():
            return notifications.change_endpoint(endpoint_id, body.url, body.event_types)

    @router.post(
        "/webhooks/{endpoint_id}/pause",
        response_model=EndpointRef,
        summary="Pause deliveries (they wait, nothing is lost)",
    )
    def pause(
        endpoint_id: UUID, body: Pause, caller: Annotated[Caller, Depends(admin)]
    ) -> EndpointRef:
        with caller.acting():
            return notifications.pause_endpoint(endpoint_id, body.reason)

    @router.post(
        "/webhooks/{endpoint_id}/resume", response_model=EndpointRef, summary="Resume deliveries"
    )
    def resume(endpoint_id: UUID, caller: Annotated[Caller, Depends(admin)]) -> EndpointRef:
        with caller.acting():
            return notifications.resume_endpoint(endpoint_id)

    @router.post(
        "/webhooks/{endpoint_id}/rotate-secret",
        response_model=EndpointSecret,
        summary="Replace the signing secret; the answer shows the new one, once",
    )
    def rotate(endpoint_id: UUID, caller: Annotated[Caller, Depends(admin)]) -> EndpointSecret:
        with caller.acting():
            return notifications.rotate_secret(endpoint_id)

    @router.post(
        "/webhooks/{endpoint_id}/remove", response_model=EndpointRef, summary="Remove an endpoint"
    )
    def remove(endpoint_id: UUID, caller: Annotated[Caller, Depends(admin)]) -> EndpointRef:
        with caller.acting():
            return notifications.remove_endpoint(endpoint_id)

    @router.get(
        "/webhooks/{endpoint_id}/deliveries",
        response_model=list[DeliveryOut],
        summary="The endpoint's delivery log, newest first",
    )
    def deliveries(
        endpoint_id: UUID,
        caller: Annotated[Caller, Depends(admin)],
        status: Literal["pending", "delivered", "dead"] | None = None,
        before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Any:
        return views.deliveries(str(endpoint_id), status, limit, before)

    @router.get(
        "/webhook-deliveries/{delivery_id}/attempts",
        response_model=list[Attempt],
        summary="Every attempt of one delivery",
    )
    def attempts(delivery_id: DeliveryId, caller: Annotated[Caller, Depends(admin)]) -> Any:
        return views.attempts(delivery_id)

    @router.post(
        "/webhook-deliveries/{delivery_id}/resend",
        response_model=Resent,
        summary="Send a dead letter again",
    )
    def resend(delivery_id: DeliveryId, caller: Annotated[Caller, Depends(admin)]) -> Resent:
        if not notifications.resend(delivery_id):
            raise RuleViolation(
                "not_a_dead_letter", f"{delivery_id} is not a dead letter (or does not exist)"
            )
        return Resent(delivery_id=delivery_id, status="pending")

    @router.get(
        "/me/notifications", response_model=Preferences, summary="What I hear about, and how"
    )
    def preferences(caller: Annotated[Caller, Depends(anyone)]) -> Preferences:
        return notifications.preferences(caller.principal)

    @router.put(
        "/me/notifications/topics/{topic}",
        response_model=Preferences,
        summary="Choose the channel for one topic (email, webhook, digest or off)",
    )
    def choose(
        topic: Topic, body: ChannelChoice, caller: Annotated[Caller, Depends(anyone)]
    ) -> Preferences:
        with caller.acting():
            return notifications.choose(caller.principal, topic, body.channel)

    @router.put(
        "/me/notifications/webhook",
        response_model=PersonalWebhook,
        summary="Set (or clear) my own webhook URL; the answer shows its secret once",
    )
    def webhook(body: WebhookUrl, caller: Annotated[Caller, Depends(anyone)]) -> PersonalWebhook:
        with caller.acting():
            return notifications.set_webhook(caller.principal, body.url)

    @router.post(
        "/me/notifications/webhook/replace-secret",
        response_model=PersonalWebhook,
        summary="Replace my webhook's signing secret; the answer shows the new one, once",
    )
    def replace_webhook_secret(caller: Annotated[Caller, Depends(anyone)]) -> PersonalWebhook:
        with caller.acting():
            return notifications.replace_webhook_secret(caller.principal)

    @router.post(
        "/me/notifications/follow",
        response_model=Preferences,
        summary="Follow a release bundle, a request or a production change",
    )
    def follow(body: FollowRef, caller: Annotated[Caller, Depends(anyone)]) -> Preferences:
        kind, item_id = body.target()
        with caller.acting():
            if kind == "bundle":
                return notifications.follow(caller.principal, item_id)
            return notifications.follow_item(caller.principal, kind, item_id)

    @router.post(
        "/me/notifications/unfollow",
        response_model=Preferences,
        summary="Stop following a release bundle, a request or a production change",
    )
    def unfollow(body: FollowRef, caller: Annotated[Caller, Depends(anyone)]) -> Preferences:
        kind, item_id = body.target()
        with caller.acting():
            if kind == "bundle":
                return notifications.unfollow(caller.principal, item_id)
            return notifications.unfollow_item(caller.principal, kind, item_id)

    @router.get(
        "/me/notifications/deliveries",
        response_model=list[DeliveryOut],
        summary="What was sent to me, newest first",
    )
    def mine(
        caller: Annotated[Caller, Depends(anyone)], limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> Any:
        return views.deliveries(caller.username, None, limit)

    return router
