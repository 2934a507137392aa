"""A seeded organisation for the security checks: one person per role, and items in the
state each operation needs, so that a call the design allows can really succeed.

Items are made on first use, by kind ("submitted" request, "approved" change, ...). Every
operation that writes gets items of its own, so what one operation's allowed calls change
never decides another's answer, in whatever order (and on whichever worker) tests run;
reads share one set. The world is built once per test process and served from one app.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from fastapi.testclient import TestClient

from railyard.app import build_app
from services.intake.application import Intake
from services.intake.views import IntakeViews
from shared.application import acting_as
from shared.identity.domain import Role
from shared.platform import Platform
from shared.settings import Settings, load_settings
from tests.builders import request_payload
from tests.change_control.builders import LOW
from tests.conftest import PEOPLE, register_people
from tests.release.builders import train_payload

# Who calls as each role. The IT staff member is on the QA team and implements the seeded
# changes, so that a call IT staff may make is not refused by a rule about the person.
ROLE_USERS: dict[Role, str] = {
    Role.REQUESTER: "vp.sales",
    Role.RELEASE_MANAGER: "rm",
    Role.IT_STAFF: "qa.quinn",
    Role.CAB_MEMBER: "cab.carl",
    Role.METRICS_READER: "metrics.mo",
    Role.ADMIN: "admin",
    Role.PIPELINE: "pipeline",
}
# Someone who is none of the callers: their account, tokens and feeds are "another's".
OTHER = "dev.alice"
PASSWORD = "correct horse battery staple"
SHARED = "shared"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def change_body(**overrides: Any) -> dict[str, Any]:
    """A low-risk normal change whose window is open now, implemented by QA."""
    start = now() - timedelta(minutes=10)
    body: dict[str, Any] = {
        "change_type": "normal",
        "title": "Patch the billing database",
        "subsystems": ["Billing"],
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=4)).isoformat(),
        "implementation_plan": "Apply patch 42 to the primary, then the replica.",
        "backout_plan": "Restore the snapshot taken before the patch.",
        "test_evidence": "Applied in staging on Monday; smoke tests passed.",
        "implementers": [ROLE_USERS[Role.IT_STAFF]],
        "risk": LOW,
    }
    body.update(overrides)
    return body


def template_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Restart the CRM application servers",
        "description": "Rolling restart, one node at a time.",
        "subsystems": ["CRM"],
        "implementation_plan": "Drain and restart each node in turn.",
        "backout_plan": "None needed: a node that fails to start is drained.",
        "risk": LOW,
    }
    body.update(overrides)
    return body


def blackout_body(**overrides: Any) -> dict[str, Any]:
    start = now() + timedelta(days=200)
    body: dict[str, Any] = {
        "name": "Year-end freeze",
        "start": start.isoformat(),
        "end": (start + timedelta(days=3)).isoformat(),
        "subsystems": ["Billing"],
        "reason": "Billing runs the year-end close.",
    }
    body.update(overrides)
    return body


@dataclass
class World:
    """Everyone's credentials and the ids of the items each scope uses."""

    tokens: dict[str, str] = field(default_factory=dict)
    spare_tokens: dict[str, str] = field(default_factory=dict)  # username -> token id
    feeds: dict[str, str] = field(default_factory=dict)  # username -> feed id (to revoke)
    feed_secrets: dict[str, str] = field(default_factory=dict)  # username -> another feed
    scopes: dict[str, dict[str, str]] = field(default_factory=dict)

    def headers(self, username: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"} if username else {}

    def ids(self, scope: str) -> Mapping[str, str]:
        return self.scopes.get(scope, {})


class Items(Mapping[str, str]):
    """One scope's items by kind, made the first time they are asked for."""

    def __init__(self, seeder: Seeder, found: dict[str, str]) -> None:
        self.seeder = seeder
        self.found = found

    def __getitem__(self, kind: str) -> str:
        if kind not in self.found:
            self.found[kind] = KINDS[kind](self.seeder, self)
        return self.found[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self.found)

    def __len__(self) -> int:
        return len(self.found)


class Seeder:
    """Makes items through the same HTTP API people use."""

    def __init__(self, client: TestClient, platform: Platform, world: World) -> None:
        self.client = client
        self.platform = platform
        self.world = world
        self.serial = itertools.count(1)

    def call(self, method: str, path: str, as_: str, json: Any = None, ok: int = 200) -> Any:
        response = self.client.request(method, path, json=json, headers=self.world.headers(as_))
        assert response.status_code == ok, f"{method} {path}: {response.text}"
        return response.json()

    def name(self, prefix: str) -> str:
        return f"{prefix} {next(self.serial)}"

    def request(self) -> str:
        body = request_payload(title=self.name("Bill shock alerts by SMS"))
        return str(self.call("POST", "/api/requests", "vp.sales", body, 201)["id"])

    def accepted(self) -> str:
        request_id = self.request()
        accept = {"owner": "dev.alice", "size_points": 3}
        self.call("POST", f"/api/requests/{request_id}/accept", "rm", accept)
        return request_id

    def bundle(self) -> str:
        train = train_payload(name=self.name("Monthly business"), generate=1)
        return str(self.call("POST", "/api/trains", "rm", train, 201)["bundle_ids"][0])

    def scheduled(self, bundle: str, *stages: tuple[str, str]) -> str:
        request_id = self.accepted()
        self.call("POST", f"/api/bundles/{bundle}/requests", "rm", {"request_id": request_id})
        for stage, person in stages:
            path = f"/api/bundles/{bundle}/requests/{request_id}/progress"
            note = "totals off" if stage == "qa_failed" else ""  # a failure says what
            self.call("POST", path, person, {"stage": stage, "note": note})
        return request_id

    def change(self, *steps: tuple[str, str, dict[str, Any]]) -> str:
        body = change_body(title=self.name("Patch the billing database"))
        change_id = str(self.call("POST", "/api/changes", "dev.alice", body, 201)["id"])
        for step, person, step_body in steps:
            self.call("POST", f"/api/changes/{change_id}/{step}", person, step_body)
        return change_id

    def user(self) -> str:
        username = f"leaver{next(self.serial)}"
        with acting_as("test-setup"):
            self.platform.identity.register(username, "Lee Ver", ["it_staff"], None, "qa")
        return username

    def former(self) -> str:
        """A person deactivated, for an admin to reactivate."""
        username = self.user()
        with acting_as("test-setup"):
            self.platform.identity.deactivate(username, "left")
        return username


def _delivered(s: Seeder, _: Items) -> str:
    request_id = s.accepted()
    intake = Intake(s.platform.log, IntakeViews(s.platform.log), s.platform.directory)
    with acting_as("test-setup"):
        intake.deliver(UUID(request_id), None, None)
    return request_id


def _questioned(s: Seeder, _: Items) -> str:
    request_id = s.request()
    s.call("POST", f"/api/requests/{request_id}/ask", "rm", {"question": "Which bills?"})
    return request_id


def _passed_bundle(s: Seeder, _: Items) -> str:
    bundle = s.bundle()
    s.scheduled(bundle, ("ready_for_qa", "dev.alice"), ("qa_passed", "qa.quinn"))
    s.call("POST", f"/api/bundles/{bundle}/freeze", "rm", {"note": ""})
    return bundle


def _followed_bundle(s: Seeder, _: Items) -> str:
    bundle = s.bundle()
    for username in ROLE_USERS.values():
        s.call("POST", "/api/me/notifications/follow", username, {"bundle_id": bundle})
    return bundle


def _endpoint(s: Seeder, _: Items) -> str:
    endpoint = {"url": "https://hooks.example.com/railyard", "event_types": ["*"]}
    return str(s.call("POST", "/api/webhooks", "admin", endpoint, 201)["id"])


def _paused_endpoint(s: Seeder, items: Items) -> str:
    endpoint = _endpoint(s, items)
    s.call("POST", f"/api/webhooks/{endpoint}/pause", "admin", {"reason": "maintenance"})
    return endpoint


Step = tuple[str, str, dict[str, Any]]
APPROVE: Step = ("approve", "cab.dora", {})
START: Step = ("start", "qa.quinn", {})
FAIL: Step = ("complete", "qa.quinn", {"outcome": "failed", "notes": "The queue did not drain."})

KINDS: dict[str, Callable[[Seeder, Items], str]] = {
    "submitted": lambda s, _: s.request(),
    "original": lambda s, _: s.request(),
    "questioned": _questioned,
    "accepted": lambda s, _: s.accepted(),
    "to_schedule": lambda s, _: s.accepted(),
    "delivered": _delivered,
    "train": lambda s, _: str(
        s.call("POST", "/api/trains", "rm", train_payload(name=s.name("Monthly")), 201)["id"]
    ),
    "bundle": lambda s, _: s.bundle(),
    "in_bundle": lambda s, items: s.scheduled(items["bundle"]),
    "passed_bundle": _passed_bundle,
    "failed": lambda s, items: s.scheduled(
        items["bundle"], ("ready_for_qa", "dev.alice"), ("qa_failed", "qa.quinn")
    ),
    "followed_bundle": _followed_bundle,
    "in_review": lambda s, _: s.change(),
    "approved": lambda s, _: s.change(APPROVE),
    "started": lambda s, _: s.change(APPROVE, START),
    "failed_change": lambda s, _: s.change(APPROVE, START, FAIL),
    "blackout": lambda s, _: str(
        s.call("POST", "/api/blackouts", "rm", blackout_body(name=s.name("Freeze")), 201)["id"]
    ),
    "template": lambda s, _: str(
        s.call("POST", "/api/standard-templates", "rm", template_body(name=s.name("Restart")), 201)[
            "id"
        ]
    ),
    "endpoint": _endpoint,
    "paused_endpoint": _paused_endpoint,
    "leaver": lambda s, _: s.user(),
    "former": lambda s, _: s.former(),
}


def seed_people(platform: Platform, world: World) -> None:
    world.tokens.update(register_people(platform, password=PASSWORD).tokens)
    with acting_as("test-setup"):
        for username in PEOPLE:
            spare = platform.identity.issue_token(username, "spare")
            world.spare_tokens[username] = spare.token_id


Uses = Iterable[tuple[str, Callable[[Items], object]]]


def seed(client: TestClient, platform: Platform, uses: Uses) -> World:
    """Everyone, their feeds and webhooks, and in each scope the items its `use` asks for."""
    world = World()
    seed_people(platform, world)
    seeder = Seeder(client, platform, world)
    for username in [*ROLE_USERS.values(), OTHER]:
        issued = seeder.call("POST", "/api/calendar/feeds", username, {"label": "phone"}, 201)
        world.feeds[username] = issued["feed_id"]
        issued = seeder.call("POST", "/api/calendar/feeds", username, {"label": "desk"}, 201)
        world.feed_secrets[username] = issued["token"]
        hook = {"url": f"https://hooks.example.com/{username}"}
        seeder.call("PUT", "/api/me/notifications/webhook", username, hook)
    for scope, use in uses:
        use(Items(seeder, world.scopes.setdefault(scope, {})))
    return world


@dataclass
class Served:
    """The seeded world, served in-process."""

    app: FastAPI
    client: TestClient
    platform: Platform
    world: World


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(database_url=None, data_dir=data_dir, **overrides)


@contextmanager
def serve(data_dir: Path, **overrides: Any) -> Iterator[tuple[FastAPI, TestClient, Platform]]:
    """Every service in one process, as `railyard serve` builds it, on an SQLite store."""
    app = build_app(settings_for(data_dir, **overrides), run_followers=False)
    platform: Platform = app.state.platform
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield app, client, platform
    finally:
        platform.close()


@contextmanager
def seeded_world(data_dir: Path, uses: Uses, **overrides: Any) -> Iterator[Served]:
    with serve(data_dir, **overrides) as (app, client, platform):
        world = seed(client, platform, uses)
        yield Served(app, client, platform, world)
