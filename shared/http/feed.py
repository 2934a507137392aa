"""The consumer feed: every event after a position, paged, and a live tail over SSE.

Positions increase in commit order and may skip numbers (a failed insert leaves a gap);
a consumer pages with `after=<last position it saw>` and never waits for a gap.
"""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
import asyncio
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from shared.domain import InvalidCommand
from shared.http.auth import Auth, Caller, per_user
from shared.http.ratelimit import Limits
from shared.http.routing import ServiceRouter
from shared.http.threads import in_thread
from shared.identity.domain import Role
from shared.store.log import EventLog, public_entry

FEED_ROLES = (Role.METRICS_READER, Role.RELEASE_MANAGER, Role.ADMIN)

POSITION = re.compile(r"[0-9]{1,18}", re.ASCII)


class FeedEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int = Field(description="Global, gap-tolerant, commit-ordered position.")
    aggregate_id: str
    aggregate_type: str
    version: int = Field(description="The aggregate's version after this event.")
    type: str = Field(description="Event type, e.g. ChangeRequest.Submitted.")
    topic: str = Field(description="Stored topic: module and class name.")
    occurred_at: str = Field(description="Business time (ISO 8601 with offset).")
    actor: str
    correlation_id: str
    data: dict[str, Any]


class FeedPage(BaseModel):
    events: list[FeedEvent]
    after: int
    next_after: int = Field(description="Pass as `after` to read the next page.")
    head: int = Field(description="The highest position when this page was read.")
    has_more: bool
    time_zone: str = Field(
        description="The business time zone (IANA name) the service counts days in: a"
        " consumer computing metrics from the feed uses the same to get the same figures."
    )


def refuse_beyond_head(after: int, head: int) -> None:
    """A position no event has reached yet names nothing a consumer saw: answered with an
    empty page, it would be stored as `next_after` and every event up to it skipped."""
    if after > head:
        raise InvalidCommand(
            "position_beyond_head",
            f"after={after} is past the end of the log: the log's head is at position {head};"
            " pass the last position you saw (0 reads from the start)",
            head=head,
        )


def feed_router(log: EventLog, auth: Auth, limits: Limits, poll_s: float = 0.25) -> APIRouter:
    router = ServiceRouter(prefix="/api/events", tags=["event feed"])
    max_page = log.settings.feed_max_page
    zone_name = getattr(log.settings.zone, "key", str(log.settings.zone))
    roles = auth.require(*FEED_ROLES)
    # Per user, so one runaway consumer cannot starve the others (README: Configuration).
    reader = per_user(limits.feed_pages_per_user, roles, "feed pages")
    streamer = per_user(limits.feed_streams_per_user, roles, "live-tail connections")

    @router.get("", response_model=FeedPage, summary="Read the log after a position")
    def read_page(
        caller: Annotated[Caller, Depends(reader)],
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=max_page)] = 100,
    ) -> dict[str, Any]:
        head = log.head()
        refuse_beyond_head(after, head)
        entries = log.entries(after, limit + 1)
        has_more = len(entries) > limit
        entries = entries[:limit]
        return {
            "events": [public_entry(e) for e in entries],
            "after": after,
            "next_after": entries[-1].position if entries else after,
            "head": max(head, entries[-1].position if entries else 0),
            "has_more": has_more,
            "time_zone": zone_name,
        }

    @router.get(
        "/stream",
        summary="Follow the log live (server-sent events)",
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "One SSE message per event; `id` is its position.",
            }
        },
    )
    async def stream(
        request: Request,
        caller: Annotated[Caller, Depends(streamer)],
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        max_events: Annotated[int | None, Query(ge=1, le=10_000_000)] = None,
        last_event_id: Annotated[
            str | None,
            Header(
                max_length=32,
                description="A position to resume after, as a reconnecting EventSource"
                " sends it (the `id` of the last message it had); anything but a position"
                " is 422 `invalid_last_event_id`, not a replay from the start",
            ),
        ] = None,
    ) -> EventSourceResponse:
        start = after
        if last_event_id is not None:
            if not POSITION.fullmatch(last_event_id):
                raise InvalidCommand(
                    "invalid_last_event_id",
                    f"Last-Event-ID names a position (the id of an event sent), not"
                    f" {last_event_id!r}",
                )
            start = int(last_event_id)
        refuse_beyond_head(start, await in_thread(log.head))

        async def events() -> AsyncIterator[dict[str, Any]]:
            position = start
            sent = 0
            while max_events is None or sent < max_events:
                entries = await in_thread(log.entries, position, 500)
                for entry in entries:
                    yield {
                        "id": str(entry.position),
                        "event": entry.type,
                        "data": orjson.dumps(public_entry(entry)).decode(),
                    }
                    position = entry.position
                    sent += 1
                    if max_events is not None and sent >= max_events:
                        return
                if not entries:
                    if await request.is_disconnected():
                        return
                    await asyncio.sleep(poll_s)

        return EventSourceResponse(events(), ping=15)

    return router
