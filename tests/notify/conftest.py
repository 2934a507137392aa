"""A notification service on the test platform, driven step by step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.intake.application import Intake
from services.intake.views import IntakeViews
from services.notify.dispatch import RetryPolicy
from services.notify.service import NotifyService, build
from shared.application import acting_as
from shared.platform import Platform
from tests.builders import draft
from tests.conftest import People, register_people


class Notify:
    def __init__(self, platform: Platform, service: NotifyService) -> None:
        self.platform = platform
        self.service = service
        self.dispatcher = service.dispatcher
        self.notifications = service.notifications

    def follow_log(self) -> None:
        self.service.group.catch_up()

    def deliver(self, rounds: int = 1) -> None:
        self.follow_log()
        for _ in range(rounds):
            self.dispatcher.run_once(wait=True)

    def register(
        self,
        url: str,
        event_types: list[str] | None = None,
        max_in_flight: int = 4,
        timeout_s: float = 5.0,
    ) -> tuple[str, str]:
        with acting_as("admin"):
            created = self.notifications.register_endpoint(
                url, event_types or ["ChangeRequest.*"], "test", max_in_flight, timeout_s
            )
        return created.id, created.secret

    def outbox(self, target: str) -> list[dict[str, Any]]:
        with self.platform.log.db.transaction() as cur:
            cur.execute(
                f"SELECT * FROM {self.platform.log.table('notify_outbox')}"
                " WHERE target = :t ORDER BY position",
                {"t": target},
            )
            return cur.fetchall()


@pytest.fixture
def notify(platform: Platform, people: People) -> Iterator[Notify]:
    service = build(platform)
    service.dispatcher.policy = RetryPolicy(base_s=0.05, max_backoff_s=0.2, give_up_after_s=3.0)
    service.group.setup()
    service.dispatcher.setup()
    yield Notify(platform, service)
    service.dispatcher.pool.shutdown(wait=True)


def submit(platform: Platform, title: str = "Bill shock alerts", as_: str = "vp.sales") -> str:
    intake = Intake(platform.log, IntakeViews(platform.log), platform.directory)
    principal = platform.directory.principal(as_)
    assert principal is not None
    with acting_as(as_):
        return intake.submit(principal, draft(title=title)).id


def give_email(platform: Platform, username: str, address: str) -> None:
    """The person's email address, set by an admin as the people pages set it."""
    user = platform.directory.user(username)
    assert user is not None
    with acting_as("admin"):
        platform.identity.change_profile(
            username, user.roles, user.department, user.team, email=address
        )


__all__ = ["Notify", "People", "give_email", "register_people", "submit"]
