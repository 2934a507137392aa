"""Replay by a consumer: read the public feed over HTTP, fold it locally with the same
`Folder` the service's view uses, and compute every metric with the same arithmetic.

The state file holds the last position read and the records folded so far, so a replay
can stop and resume where it left off (a position alone could not rebuild the records).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from services.metrics.domain.records import (
    BundleRecord,
    ChangeRecord,
    DeploymentRecord,
    History,
    RankingRecord,
    Record,
    RequestRecord,
)
from services.metrics.facts import FeedFact, Folder

STATE_FORMAT = 4
START_AGAIN = ": remove it (or name another --position-file) to replay from the start"
"""2: requests carry their numbers, and the state the count of submissions met."""
KINDS: dict[str, type[Record]] = {
    "requests": RequestRecord,
    "bundles": BundleRecord,
    "changes": ChangeRecord,
    "deployments": DeploymentRecord,
    "rankings": RankingRecord,
}


class FeedResponse(Protocol):
    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...


class FeedClient(Protocol):
    """An HTTP client bound to the service's base URL and token (an httpx.Client)."""

    def get(self, url: str, *, params: dict[str, int]) -> FeedResponse: ...


class ReplayError(Exception):
    """The feed could not be read; the message says why in words a person can act on."""


class PastTheHead(ReplayError):
    """The feed refused a position no event has reached (422 `position_beyond_head`)."""

    def __init__(self, message: str, head: int) -> None:
        super().__init__(message)
        self.head = head


@dataclass
class ReplayState:
    position: int = 0
    history: History = field(default_factory=History)
    events: int = 0
    last: dict[str, Any] | None = None
    """The last event folded (position, aggregate, version): on resuming, the service's
    event at that position must be the same one, or the file was folded from another log."""
    time_zone: str | None = None
    """The business time zone the feed says the service counts days in (not saved)."""

    def save(self, path: Path) -> None:
        """Write atomically: a replay killed while saving keeps the previous state."""
        document: dict[str, Any] = {
            "format": STATE_FORMAT,
            "position": self.position,
            "events": self.events,
            "submitted": self.history.submitted,
            "last": self.last,
        }
        for name in KINDS:
            records: dict[str, Record] = getattr(self.history, name)
            document[name] = [r.to_json() for r in records.values()]
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(orjson.dumps(document))
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> ReplayState:
        if not path.exists():
            return cls()
        try:
            document = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ReplayError(f"{path} is not a replay state file: {exc}{START_AGAIN}") from None
        except OSError as exc:
            raise ReplayError(f"cannot read {path}: {exc.strerror}") from None
        if not isinstance(document, dict) or not isinstance(document.get("format"), int):
            raise ReplayError(
                f"{path} is not a replay state file of format {STATE_FORMAT}{START_AGAIN}"
            )
        if document["format"] != STATE_FORMAT:
            raise ReplayError(
                f"{path} was written by another version of railyard (format"
                f" {document['format']}, this one reads {STATE_FORMAT}): remove it to replay"
                " from the start"
            )
        try:
            return cls._read(document)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # A file edited by hand or cut short by a disk: resuming from it would give
            # figures that silently miss what it lost.
            raise ReplayError(
                f"{path} is not a whole replay state file ({_what_is_wrong(exc)}): remove it"
                " to replay from the start"
            ) from None

    @classmethod
    def _read(cls, document: dict[str, Any]) -> ReplayState:
        position, events = document["position"], document["events"]
        submitted, last = document["submitted"], document["last"]
        if not _counts(position, events) or not (submitted is None or _counts(submitted)):
            raise ValueError("position, events and submitted are counts")
        if not (last is None or isinstance(last, dict)):
            raise ValueError("last is the last event folded")
        history = History(submitted=submitted)
        for name, kind in KINDS.items():
            records = {}
            for fields in document[name]:
                if not isinstance(fields, dict):
                    raise ValueError(f"{name} holds something that is not a record")
                lacking = _required(kind) - fields.keys()
                if lacking:
                    raise ValueError(f"a record of {name} lacks {', '.join(sorted(lacking))}")
                record = kind.from_json(fields)
                if not isinstance(record.id, str):
                    raise ValueError(f"a record of {name} has no id")
                records[record.id] = record
            setattr(history, name, records)
        return cls(position, history, events, last)


def _required(kind: type[Record]) -> set[str]:
    """The fields a record of `kind` cannot be made without."""
    return {
        f.name
        for f in dataclasses.fields(kind)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


def _counts(*values: object) -> bool:
    return all(type(v) is int and v >= 0 for v in values)


def _what_is_wrong(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"{exc.args[0]} is missing"
    return str(exc) or type(exc).__name__


Progress = Callable[[int, int, int], None]
"""(position reached, head of the log, events folded so far)"""


def _problem(response: FeedResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    fields = "; ".join(
        f"{e.get('field') or 'body'}: {e.get('message')}"
        for e in body.get("errors") or ()
        if isinstance(e, dict)
    )
    # The feed's own limits (its page size, for one) are the server's settings: say them.
    return f"{body.get('detail')} ({body.get('rule')})" + (f": {fields}" if fields else "")


def _rule(response: FeedResponse) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("rule") if isinstance(body, dict) else None


MAX_RATE_LIMITED_WAITS = 20


def read_page(
    client: FeedClient,
    after: int,
    limit: int,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    for _ in range(MAX_RATE_LIMITED_WAITS):
        try:
            response = client.get("/api/events", params={"after": after, "limit": limit})
        except httpx.HTTPError as exc:
            raise ReplayError(f"could not reach the feed: {exc}") from None
        if response.status_code != 429:
            break
        # The feed is rate limited per user: wait as long as it says, then go on.
        sleep(_retry_after(response))
    if response.status_code == 401:
        raise ReplayError(f"the token was refused: {_problem(response)}")
    if response.status_code == 403:
        raise ReplayError(
            "this token may not read the feed (roles metrics_reader, release_manager or admin)"
        )
    if response.status_code == 422 and _rule(response) == "position_beyond_head":
        message = f"the feed answered 422: {_problem(response)}"
        raise PastTheHead(message, int(response.json().get("head", 0)))
    if response.status_code != 200:
        raise ReplayError(f"the feed answered {response.status_code}: {_problem(response)}")
    page: dict[str, Any] = response.json()
    return page


def _retry_after(response: FeedResponse) -> float:
    value = response.headers.get("retry-after", "1")
    return float(value) if value.isdigit() else 1.0


def replay(
    client: FeedClient,
    state: ReplayState,
    *,
    page_size: int = 1000,
    progress: Progress | None = None,
    checkpoint: Callable[[ReplayState], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayState:
    """Fold every event after `state.position` into `state`, page by page (waiting as
    told when the feed's per-user rate limit answers 429). A state resumed from a file
    is first checked against the service's log (`check_resumable`)."""
    if state.position > 0:
        check_resumable(client, state, sleep)
    folder = Folder(state.history)
    while True:
        page = read_page(client, state.position, page_size, sleep)
        state.time_zone = page.get("time_zone") or state.time_zone
        for entry in page["events"]:
            folder.apply(FeedFact.from_feed(entry))
        if page["events"]:
            final = page["events"][-1]
            state.last = {k: final[k] for k in ("position", "aggregate_id", "version")}
        state.events += len(page["events"])
        state.position = int(page["next_after"])
        if progress is not None:
            progress(state.position, int(page["head"]), state.events)
        if checkpoint is not None and page["events"]:
            checkpoint(state)
        if not page["has_more"]:
            return state


def check_resumable(
    client: FeedClient, state: ReplayState, sleep: Callable[[float], None] = time.sleep
) -> None:
    """A file's position and last event must be the service's: a file folded from another
    log (another server, a log restored from an earlier backup) would otherwise be resumed
    silently, with that log's figures."""
    advice = "remove the position file to replay this service's log from the start"
    try:
        page = read_page(client, state.position - 1, 1, sleep)
        head = int(page["head"])
    except PastTheHead as past:  # the feed refuses a position past its head
        page, head = {}, past.head
    state.time_zone = page.get("time_zone") or state.time_zone
    if head < state.position:
        raise ReplayError(
            f"the position file is at position {state.position}, past the end of the"
            f" service's log ({head}): it was folded from another log; {advice}"
        )
    if state.last is None:
        return  # written before files named their last event: the position is all there is
    found = page["events"][0] if page["events"] else None
    theirs = {k: found[k] for k in ("position", "aggregate_id", "version")} if found else None
    if theirs != state.last:
        raise ReplayError(
            f"the position file's last event (position {state.last['position']}, aggregate"
            f" {state.last['aggregate_id']} version {state.last['version']}) is not the"
            f" service's event there: it was folded from another log; {advice}"
        )


def service_time_zone(
    client: FeedClient, sleep: Callable[[float], None] = time.sleep
) -> str | None:
    """The business time zone the service's feed says it counts days in (None from a
    service too old to say)."""
    zone = read_page(client, 0, 1, sleep).get("time_zone")
    return str(zone) if zone else None
