"""What every part of the fold shares: the event as both readers present it, the
history being folded, and which records a batch changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from services.metrics.domain.records import ChangeRecord, History, Record, RequestRecord

SCHEDULED_OR_LATER = ("scheduled", "in_development", "in_qa", "awaiting_deployment")


class Fact(Protocol):
    """One event of the log, as the projection and the consumer feed both present it."""

    @property
    def topic(self) -> str: ...
    @property
    def aggregate_id(self) -> str: ...
    @property
    def occurred_at(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FeedFact:
    """An event read from `GET /api/events`."""

    position: int
    topic: str
    aggregate_id: str
    occurred_at: str
    data: dict[str, Any]

    @classmethod
    def from_feed(cls, entry: dict[str, Any]) -> FeedFact:
        return cls(
            int(entry["position"]),
            str(entry["topic"]),
            str(entry["aggregate_id"]),
            str(entry["occurred_at"]),
            dict(entry["data"]),
        )


@dataclass
class Touched:
    requests: set[str] = field(default_factory=set)
    bundles: set[str] = field(default_factory=set)
    changes: set[str] = field(default_factory=set)
    deployments: set[str] = field(default_factory=set)
    rankings: set[str] = field(default_factory=set)


Handler = Callable[[Fact, str], None]
R = TypeVar("R", bound=Record)
Recall = Callable[[str, str], Record | None]
"""(kind, id): a record the fold let go of, read back into the history (kind as History
names its records: "requests", "bundles", "changes"); None when there is none."""


class FoldBase:
    """The history being folded and the records touched so far.

    `recall`, when set, is asked for a record the history does not hold: a rebuild that
    holds its records in memory lets go of those long settled (`views.Held.let_go`), and
    reads one back if a later event touches it. `latest`: the latest instant of the
    last events of the batches folded (where settled is counted from)."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.touched = Touched()
        self.recall: Recall | None = None
        self.latest = ""

    def _found(
        self, records: dict[str, R], touched: set[str], kind: str, record_id: str, cls: type[R]
    ) -> R | None:
        """The record `record_id` of `records` (History's `kind`), else, if the fold let
        it go, read back (`recall`); marked as touched."""
        found = records.get(record_id)
        if found is None and self.recall is not None:
            recalled = self.recall(kind, record_id)
            found = recalled if isinstance(recalled, cls) else None
        if found is not None:
            touched.add(found.id)
        return found

    def _request_by_id(self, request_id: str) -> RequestRecord | None:
        h, t = self.history, self.touched
        return self._found(h.requests, t.requests, "requests", request_id, RequestRecord)

    def _change_by_id(self, change_id: str) -> ChangeRecord | None:
        h, t = self.history, self.touched
        return self._found(h.changes, t.changes, "changes", change_id, ChangeRecord)
