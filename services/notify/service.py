"""Wires notifications into a process: the notifier follows the log, the dispatcher sends."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from services.notify.api import notify_router
from services.notify.application import Notifications
from services.notify.dispatch import Dispatcher
from services.notify.email import EmailSender
from services.notify.notifier import Notifier
from services.notify.pages import NAV, TEMPLATES, NotifyPages, notify_pages
from services.notify.views import NotifyViews
from shared.platform import Component, Platform
from shared.store.projections import ProjectionGroup
from shared.store.secrets import server_secret
from shared.web.access import PageAccess
from shared.web.rendering import Templates


@dataclass
class NotifyService:
    component: Component
    notifications: Notifications
    dispatcher: Dispatcher
    views: NotifyViews
    group: ProjectionGroup


def build(platform: Platform) -> NotifyService:
    log = platform.log
    group = ProjectionGroup(log, [Notifier(log)])
    views = NotifyViews(log, group)

    @cache
    def master_key() -> bytes:
        return server_secret(log, "webhook-signing")

    dispatcher = Dispatcher(log, master_key, EmailSender(platform.settings))
    notifications = Notifications(log, views, dispatcher, master_key)
    pages = NotifyPages(
        notifications,
        views,
        PageAccess(platform.directory),
        Templates(TEMPLATES, platform.settings.zone),
    )
    return NotifyService(
        component=Component(
            name="notify",
            routers=[notify_router(platform.auth, notifications, views), notify_pages(pages)],
            groups=[group],
            workers=[dispatcher],
            nav=NAV,
        ),
        notifications=notifications,
        dispatcher=dispatcher,
        views=views,
        group=group,
    )


def component(platform: Platform) -> Component:
    return build(platform).component
