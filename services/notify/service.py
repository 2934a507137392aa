"""Wires notifications into a process: the notifier follows the log, the dispatcher sends."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from services.notify.api import notify_router
from services.notify.application import Notifications
from services.notify.dispatch import Dispatcher
from services.notify.email import EmailSender
from services.notify.notifier import Notifier
from services.notify.views import NotifyViews
from shared.platform import Component, Platform
from shared.store.projections import ProjectionGroup
from shared.store.secrets import server_secret


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
    return NotifyService(
        component=Component(
            name="notify",
            routers=[notify_router(platform.auth, notifications, views)],
            groups=[group],
            workers=[dispatcher],
        ),
        notifications=notifications,
        dispatcher=dispatcher,
        views=views,
        group=group,
    )


def component(platform: Platform) -> Component:
    return build(platform).component
