"""What every service is built on: the log, the directory of people, authentication and
the process's rate limits.

A `Component` is one service's contribution to a process: its HTTP routers (API and
pages), the projection groups that maintain its views, its reactions to the log, the
entries its pages add to the web navigation, and what it tells each person waits for them
on their start page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter

from shared.http.auth import Auth
from shared.http.ratelimit import Limits
from shared.identity.application import Identity
from shared.identity.domain import Principal
from shared.identity.views import Directory
from shared.references import References
from shared.settings import Settings
from shared.store.followers import BackgroundWorker, Reaction
from shared.store.log import EventLog
from shared.store.projections import ProjectionGroup
from shared.web.rendering import NavLink


@dataclass
class Platform:
    settings: Settings
    log: EventLog
    directory: Directory
    auth: Auth
    identity: Identity
    limits: Limits

    @classmethod
    def build(cls, settings: Settings) -> Platform:
        log = EventLog(settings)
        directory = Directory(log)
        limits = Limits.from_settings(settings)
        return cls(
            settings, log, directory, Auth(directory, log, limits), Identity(log, directory), limits
        )

    def close(self) -> None:
        self.log.close()


@dataclass(frozen=True)
class Found:
    """A record someone looked for from the box in the page header."""

    reference: str
    title: str
    path: str
    status: str
    since: str
    """When it was submitted or raised (ISO 8601)."""


@dataclass(frozen=True)
class Finder:
    """How the header's box finds one kind of record: by its reference (REQ-12 opens it)
    or by words in it."""

    kind: str
    """What it finds, as a heading: "Requests"."""
    references: References
    base: str
    """Where its records' pages are: /requests/<id>."""
    with_number: Callable[[int], str | None]
    """The id of the record with this number, if there is one."""
    matching: Callable[[str, int], tuple[list[Found], int]]
    """Up to n records whose words contain the text, newest first, and how many do."""

    def address(self, number: int) -> str | None:
        """The page of the record with this number, if there is one."""
        found = self.with_number(number)
        return f"{self.base}/{found}" if found is not None else None


@dataclass(frozen=True)
class Waiting:
    """Something that waits for a person, for the roles they hold, on their start page:
    `count` items, said as `one` or `many` ("request awaits triage", "requests await
    triage"), which `path` lists: the list there shows the same `count` items."""

    count: int
    one: str
    many: str
    path: str
    detail: str = ""
    """What to know before opening it: "the oldest submitted 12 days ago"."""

    @property
    def text(self) -> str:
        return self.one if self.count == 1 else self.many


WaitingFor = Callable[[Principal], list[Waiting]]
"""What of one service waits for this person (nothing when their roles ask nothing)."""


@dataclass
class Component:
    name: str
    routers: list[APIRouter] = field(default_factory=list)
    groups: list[ProjectionGroup] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    workers: list[BackgroundWorker] = field(default_factory=list)
    nav: list[NavLink] = field(default_factory=list)
    finders: list[Finder] = field(default_factory=list)
    waiting: list[WaitingFor] = field(default_factory=list)


ComponentFactory = Callable[[Platform], Component]
