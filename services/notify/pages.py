"""The notification settings page: what each person was told lately, what they hear
about, and how.

Everyone's emails link here. It shows their latest messages (whichever way each went,
so what email could not bring is read here), the topics that can reach the signed-in
person (by their roles), each with its channel (their choice, else their roles'
default), their own webhook URL, and the bundles, requests and changes they follow; the
forms run the same use cases as `/api/me/notifications`. It also serves the Follow button
that a bundle's, a request's and a change's pages load.
"""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, Response

from services.notify.application import Notifications
from services.notify.domain import Channel, Topic, topics_for
from services.notify.views import NotifyViews
from shared.http.routing import ServiceRouter
from shared.web.access import PageAccess, Viewer
from shared.web.forms import BadInput, Form, Refusal, attempt, is_htmx, read_form, see_other
from shared.web.rendering import NavLink, Templates

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "/settings/notifications"
NAV = [NavLink("Notifications", PAGE, (), "What you hear about, and how: email, webhook, digest.")]

TOPIC_TEXT = {
    Topic.DEPARTMENT_REQUESTS: (
        "Your department's requests: triaged, replanned, scheduled, moved, withdrawn,"
        " delivered, commented on"
    ),
    Topic.OWNED_REQUESTS: (
        "Requests you are the IT point of contact for: every step, comments, and their ratings"
    ),
    Topic.APPROVALS: "Production changes awaiting your approval, and their conflicts",
    Topic.FOLLOWED_BUNDLES: "Bundles you follow: moved, frozen, signed off, deployed",
    Topic.NEW_SUBMISSIONS: (
        "Every new request, and comments on those nobody owns yet (the triage queue)"
    ),
    Topic.UNAUTHORISED_CHANGES: "Deployments no approved change covers",
    Topic.OWN_CHANGES: (
        "Production changes you raised or implement: approved, rejected, started, completed,"
        " withdrawn, comments"
    ),
    Topic.MENTIONS: "Comments that name you (@your.username), on any request or change",
    Topic.CONVERSATIONS: "Comments after yours on a request or change you commented on",
    Topic.FOLLOWED_ITEMS: "Requests and changes you follow: their every step, and comments",
    Topic.WEEKLY_REPORT: (
        "The weekly status report, each Monday: delivered, slipped, at risk, key figures"
    ),
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
    "followed_request": "You follow the request now: you hear of its every step and comment.",
    "unfollowed_request": "You no longer follow the request.",
    "followed_change": "You follow the change now: you hear of its every step and comment.",
    "unfollowed_change": "You no longer follow the change.",
    "webhook_cleared": "Your webhook is removed.",
}
FOLLOW_TITLES = {
    "bundle": "Hear when it moves, freezes, passes QA or ships",
    "request": "Hear of its every step and every comment on it",
    "change": "Hear of its every step and every comment on it",
}
KINDS = {"bundle": "release bundle", "request": "request", "change": "production change"}


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
        replaced: bool = False,
    ) -> Response:
        prefs = p.notifications.preferences(viewer.principal)
        stored = p.views.subscriptions(viewer.username)
        stored_version = stored["secret_version"] if stored else 1
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
            replaced=replaced,
            secret_version=stored_version,
            email=p.views.email_of(viewer.username),
            followed=[(b, names.get(b, b)) for b in prefs.followed_bundles],
            following=p.views.followed_items(viewer.username),
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

    @router.post(PAGE + "/webhook/replace-secret")
    async def replace_secret(
        request: Request, viewer: Annotated[Viewer, Depends(anyone)]
    ) -> Response:
        form = await read_form(request)
        seen = form.text("replacing")
        shown = int(seen) if seen.isdigit() else None  # the secret the page offered to replace
        result = attempt(
            viewer, lambda: p.notifications.replace_webhook_secret(viewer.principal, shown)
        )
        if isinstance(result, Refusal):
            return page(request, viewer, refusal=result)
        return page(request, viewer, secret=result.secret, replaced=True)  # shown this once

    _follow_routes(router, p, anyone, page)
    return router


def _follow_routes(
    router: APIRouter,
    p: NotifyPages,
    anyone: Callable[[Request], Awaitable[Viewer]],
    page: Callable[..., Response],
) -> None:
    """The Follow button an item's page loads, and following from it or from this page."""

    def button(
        request: Request, viewer: Viewer, kind: str, item_id: str, refusal: Refusal | None = None
    ) -> Response:
        """Follow, or Following · Stop following: the button an item's page loads."""
        if kind == "bundle":
            following = item_id in p.notifications.preferences(viewer.principal).followed_bundles
        else:
            following = p.views.follows(viewer.username, item_id)
        return p.templates.render(
            request,
            "_follow.html",
            viewer,
            status=refusal.status if refusal else 200,
            error=refusal.detail if refusal else None,
            kind=kind,
            item_id=item_id,
            following=following,
            title=FOLLOW_TITLES[kind],
        )

    @router.get(PAGE + "/following")
    def following(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        """The follow button of a bundle's, a request's or a change's page, as it stands
        for the viewer (the page itself belongs to another service)."""
        try:
            kind, item_id = _target(request.query_params)
        except BadInput as refused:
            return HTMLResponse(f'<span class="error">{escape(str(refused))}</span>', 422)
        return button(request, viewer, kind, item_id)

    async def toggle(request: Request, viewer: Viewer, follow: bool) -> Response:
        form = await read_form(request)
        found: list[tuple[str, str]] = []

        def run() -> object:
            kind, item_id = _target(form)
            found.append((kind, item_id))
            n = p.notifications
            if kind == "bundle":
                return (n.follow if follow else n.unfollow)(viewer.principal, item_id)
            return (n.follow_item if follow else n.unfollow_item)(viewer.principal, kind, item_id)

        result = attempt(viewer, run)
        if is_htmx(request) and found:  # the item's page: its button, or why it was refused
            refusal = result if isinstance(result, Refusal) else None
            return button(request, viewer, *found[0], refusal=refusal)
        if isinstance(result, Refusal):
            return page(request, viewer, refusal=result)
        done = "followed" if follow else "unfollowed"
        kind = found[0][0]
        return see_other(f"{PAGE}?notice={done if kind == 'bundle' else f'{done}_{kind}'}")

    @router.post(PAGE + "/follow")
    async def follow(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        return await toggle(request, viewer, follow=True)

    @router.post(PAGE + "/unfollow")
    async def unfollow(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        return await toggle(request, viewer, follow=False)


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


def _target(values: Form | Mapping[str, str]) -> tuple[str, str]:
    """(kind, id) of what a form or a query names: one of bundle_id, request_id, change_id."""
    read = values.text if isinstance(values, Form) else (lambda k: values.get(k, "").strip())
    named = [(kind, read(f"{kind}_id")) for kind in KINDS if read(f"{kind}_id")]
    if len(named) != 1:
        raise BadInput("name one release bundle, request or production change to follow")
    kind, value = named[0]
    try:
        return kind, str(UUID(value))
    except ValueError:
        raise BadInput(f"that is not a {KINDS[kind]}'s id") from None
