"""What every aggregate shares: who did it, when, under which correlation id; and the
domain errors that every service raises.

This module is as pure as the domains that use it: the standard library and
`eventsourcing.domain` only. The application layer says who is acting with
`attributed_to(...)`; every event an aggregate triggers inside that block records the
actor, the correlation id and, when history is imported or simulated, the business time.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate

RAILYARD_NAMESPACE = uuid.UUID("5b0c6c52-4d0f-4b8e-9b0e-8f6c1d1f6a10")


def name_based_id(kind: str, name: str) -> uuid.UUID:
    """A stable aggregate id derived from a natural key (a username, a department)."""
    return uuid.uuid5(RAILYARD_NAMESPACE, f"{kind}:{name.strip().casefold()}")


@dataclass(frozen=True)
class Attribution:
    """Who is acting, under which correlation id, and (for imported or simulated
    history) at which business time."""

    actor: str
    correlation_id: str
    at: datetime | None = None


_attribution: contextvars.ContextVar[Attribution | None] = contextvars.ContextVar(
    "railyard_attribution", default=None
)


@contextmanager
def attributed_to(
    actor: str, correlation_id: str | None = None, at: datetime | None = None
) -> Iterator[Attribution]:
    """Attribute every event triggered inside the block to `actor`."""
    if at is not None and at.tzinfo is None:
        raise ValueError("business time must be timezone-aware")
    attribution = Attribution(actor, correlation_id or uuid.uuid4().hex, at)
    token = _attribution.set(attribution)
    try:
        yield attribution
    finally:
        _attribution.reset(token)


def current_attribution() -> Attribution:
    attribution = _attribution.get()
    if attribution is None:
        # A programming error, not a user error: every write must say who made it.
        raise RuntimeError("an event was triggered outside attributed_to(...)")
    return attribution


def business_now() -> datetime | None:
    """The business time of the current command, when one was set."""
    attribution = _attribution.get()
    return attribution.at if attribution else None


def _stamp(kwargs: dict[str, Any]) -> dict[str, Any]:
    attribution = current_attribution()
    kwargs = dict(kwargs)
    kwargs.setdefault("actor", attribution.actor)
    kwargs.setdefault("correlation_id", attribution.correlation_id)
    if attribution.at is not None and kwargs.get("timestamp") is None:
        kwargs["timestamp"] = attribution.at
    return kwargs


class AuditedAggregate(Aggregate):
    """An aggregate whose every event records its actor and correlation id."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str

    class Created(Aggregate.Created, Event):
        pass

    @classmethod
    def _create(cls, event_class: type[CanInitAggregate[uuid.UUID]], **kwargs: Any) -> Self:
        return super()._create(event_class, **_stamp(kwargs))

    def trigger_event(
        self, event_class: type[CanMutateAggregate[uuid.UUID]], **kwargs: Any
    ) -> None:
        super().trigger_event(event_class, **_stamp(kwargs))


class DomainError(Exception):
    """A rule of the domain refused a command; nothing was written.

    `rule` is a stable, snake_case name a client can branch on; `status` is the HTTP
    status the edge answers with.
    """

    status: ClassVar[int] = 409

    def __init__(self, rule: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail
        self.extra = extra


class RuleViolation(DomainError):
    """The command is not allowed in the aggregate's current state (409)."""

    status = 409


class NotPermitted(DomainError):
    """The actor may not do this, whatever the state (403)."""

    status = 403


class NotFound(DomainError):
    """The thing named does not exist (404)."""

    status = 404


class InvalidCommand(DomainError):
    """The command's values break a rule of the domain (422)."""

    status = 422


class StaleVersion(DomainError):
    """The command was made against a version of the record that is no longer its
    latest (412, from a request's `If-Match`): someone changed it meanwhile."""

    status = 412


def require_version(what: str, current: int, expected: int | None) -> None:
    """Refuse a change made against another version than `current` (None: not asked)."""
    if expected is not None and not 1 <= expected <= current:
        # Not stale: that version never existed (a typed number, another record's ETag).
        raise StaleVersion(
            "stale_version",
            f"no version {expected} of this {what}: it is at version {current}; read it"
            " again and send its ETag as If-Match",
            current_version=current,
        )
    if expected is not None and expected != current:
        raise StaleVersion(
            "stale_version",
            f"this {what} is at version {current}, not {expected}: it was changed since you"
            " read it; read it again and make your change to what it says now",
            current_version=current,
        )


MENTION = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9._-]{1,63})")
"""@dev.ana in a comment: a username (shared.identity.domain.USERNAME) after an @ that
does not end a word or an email address."""


def mentioned(text: str) -> list[str]:
    """The usernames a comment names, in order, once each; a sentence's full stop (or a
    dash or underscore) after one is not part of it."""
    return list(dict.fromkeys(m.rstrip("._-") for m in MENTION.findall(text)))
