"""The notification settings page: what each person was told lately, what they hear
about, and how.

Everyone's emails link here. It shows their latest messages (whichever way each went,
so what email could not bring is read here), the topics that can reach the signed-in
person (by their roles), each with its channel (their choice, else their roles'
default), their own webhook URL, and the bundles they follow; the forms run the same use
cases as `/api/me/notifications`.
"""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.notify.application import Notifications
from services.notify.domain import Channel, Topic, topics_for
from services.notify.views import NotifyViews
from shared.http.routing import ServiceRouter
from shared.web.access import PageAccess, Viewer
from shared.web.forms import BadInput, Form, Refusal, attempt, read_form, see_other
from shared.web.rendering import NavLink, Templates

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/settings/notifications"
NAV = [NavLink("Notifications", PAGE, (), "What you hear about, and how: email, webhook, digest.")]

TOPIC_TEXT = {
    Topic.DEPARTMENT_REQUESTS: (
        "Your department's requests: triaged, scheduled, moved, delivered, commented on"
    ),
    Topic.OWNED_REQUESTS: "Requests you are the IT point of contact for, and comments on them",
    Topic.APPROVALS: "Production changes awaiting your approval, and their conflicts",
    Topic.FOLLOWED_BUNDLES: "Bundles you follow: moved, frozen, signed off, deployed",
    Topic.NEW_SUBMISSIONS: (
        "Every new request, and comments on those nobody owns yet (the triage queue)"
    ),
    Topic.UNAUTHORISED_CHANGES: "Deployments no approved change covers",
    Topic.OWN_CHANGES: "Production changes you raised or implement: approved, rejected, comments",
    Topic.MENTIONS: "Comments that name you (@your.username), on any request or change",
    Topic.CONVERSATIONS: "Comments after yours on a request or change you commented on",
}
CHANNEL_TEXT = {
    Channel.EMAIL: "Email at once",
    Channel.DIGEST: "Daily digest email",
    Channel.WEBHOOK: "My webhook",
    Channel.OFF: "Off",
}
NOTICES = {
    "saved": "Saved: you hear about these from now on.",
    "followed": "You follow the bundle now.",
    "unfollowed": "You no longer follow the bundle.",
    "webhook_cleared": "Your webhook is removed.",
}


@dataclass
class NotifyPages:
    notifications: Notifications
    views: NotifyViews
    access: PageAccess
    templates: Templates


def notify_pages(p: NotifyPages) -> APIRouter:
    router = ServiceRouter(include_in_schema=False)
    anyone = p.access.require()

    def page(
        request: Request,
        viewer: Viewer,
        *,
        refusal: Refusal | None = None,
        kept: dict[str, Any] | None = None,
        secret: str | None = None,
    ) -> Response:
        prefs = p.notifications.preferences(viewer.principal)
        topics = topics_for(r.value for r in viewer.principal.roles)
        names = p.views.bundle_names(prefs.followed_bundles)
        typed = kept or {}
        chosen = {t.value: typed.get(f"topic.{t.value}", prefs.channels[t.value]) for t in topics}
        return p.templates.render(
            request,
            "notifications.html",
            viewer,
            status=refusal.status if refusal else 200,
            error=refusal.detail if refusal else None,
            notice=NOTICES.get(request.query_params.get("notice", "")),
            topics=[(t.value, TOPIC_TEXT[t]) for t in topics],
            channels=[(c.value, CHANNEL_TEXT[c]) for c in Channel],
            chosen=chosen,
            defaults={t: t not in prefs.chosen for t in chosen},
            webhook_url=typed.get("url", prefs.webhook_url or ""),
            has_webhook=bool(prefs.webhook_url),
            secret=secret,
            email=p.views.email_of(viewer.username),
            followed=[(b, names.get(b, b)) for b in prefs.followed_bundles],
            told=p.views.told(viewer.username),
        )

    @router.get(PAGE)
    def settings(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        return page(request, viewer)

    @router.post(PAGE)
    async def choose(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        form = await read_form(request)

        def run() -> object:
            current = p.notifications.preferences(viewer.principal).channels
            changed = {
                topic: channel
                for topic, channel in _choices(form, viewer).items()
                if current[topic.value] != channel.value  # a default stays a default
            }
            return p.notifications.choose_many(viewer.principal, changed)

        result = attempt(viewer, run)
        if isinstance(result, Refusal):
            return page(request, viewer, refusal=result, kept=dict(form.kept()))
        return see_other(f"{PAGE}?notice=saved")

    @router.post(PAGE + "/webhook")
    async def webhook(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        form = await read_form(request)
        url = form.text("url") or None
        result = attempt(viewer, lambda: p.notifications.set_webhook(viewer.principal, url))
        if isinstance(result, Refusal):
            return page(request, viewer, refusal=result, kept=dict(form.kept()))
        if result.secret is None:
            return see_other(f"{PAGE}?notice=webhook_cleared")
        return page(request, viewer, secret=result.secret)  # shown this once

    @router.post(PAGE + "/follow")
    async def follow(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        form = await read_form(request)

        def run() -> object:
            return p.notifications.follow(viewer.principal, _bundle_id(form))

        result = attempt(viewer, run)
        if isinstance(result, Refusal):
            return page(request, viewer, refusal=result)
        return see_other(f"{PAGE}?notice=followed")

    @router.post(PAGE + "/unfollow")
    async def unfollow(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        form = await read_form(request)

        def run() -> object:
            return p.notifications.unfollow(viewer.principal, _bundle_id(form))

        result = attempt(viewer, run)
        if isinstance(result, Refusal):
            return page(request, viewer, refusal=result)
        return see_other(f"{PAGE}?notice=unfollowed")

    return router


def _choices(form: Form, viewer: Viewer) -> dict[Topic, Channel]:
    """The channel picked for each topic on the form (only topics that can reach them)."""
    choices: dict[Topic, Channel] = {}
    for topic in topics_for(r.value for r in viewer.principal.roles):
        picked = form.text(f"topic.{topic.value}")
        if not picked:
            continue
        try:
            choices[topic] = Channel(picked)
        except ValueError:
            raise BadInput(f"{picked!r} is not a way to hear about things") from None
    return choices


def _bundle_id(form: Form) -> str:
    try:
        return str(UUID(form.text("bundle_id")))
    except ValueError:
        raise BadInput("that is not a release bundle's id") from None
