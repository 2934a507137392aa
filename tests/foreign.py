"""Given another service's facts: append events by their contract topic, as that service
would, without importing it (services never import each other, and tests of one service
must not need the other to exist)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from eventsourcing.persistence import StoredEvent

from shared.contracts import Published
from shared.store.log import EventLog


def publish(
    log: EventLog,
    contract: Published,
    aggregate_id: uuid.UUID,
    aggregate_version: int,
    /,
    *,
    actor: str = "someone",
    at: datetime | None = None,
    **data: Any,
) -> None:
    """Append one event of `contract` for `aggregate_id` at `aggregate_version` (1 = created).

    The aggregate id and version are positional-only so that event fields such as
    `version` (a deployment report's) can be passed as keywords."""
    missing = contract.fields - set(data)
    assert not missing, f"{contract.type} needs {sorted(missing)}"
    state: dict[str, Any] = {
        "timestamp": (at or datetime.now(UTC)).isoformat(),
        "actor": actor,
        "correlation_id": uuid.uuid4().hex,
        **data,
    }
    if aggregate_version == 1:
        state["originator_topic"] = contract.topic.rsplit(".", 1)[0]
    log.recorder.insert_events(
        [
            StoredEvent(
                originator_id=aggregate_id,
                originator_version=aggregate_version,
                topic=contract.topic,
                state=orjson.dumps(state),
            )
        ]
    )
