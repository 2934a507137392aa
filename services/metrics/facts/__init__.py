"""Folding the log into metrics' records, by the integration contracts' topics only.

The service's projection and a consumer's replay run the same `Folder` over the same
events, so they hold the same records. Only fields listed in `shared.contracts` are
read; metrics never imports another service.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.metrics.domain.calendar import to_utc
from services.metrics.domain.records import History
from services.metrics.facts.base import Fact, FeedFact, Handler, Touched
from services.metrics.facts.changes import ChangeFacts
from services.metrics.facts.releases import ReleaseFacts
from services.metrics.facts.requests import RequestFacts
from shared import contracts as c


class Folder(RequestFacts, ReleaseFacts, ChangeFacts):
    """Applies events to a History, remembering which records it changed."""

    def __init__(self, history: History) -> None:
        super().__init__(history)
        self.handlers: dict[str, Handler] = {
            **self.request_handlers(),
            **self.release_handlers(),
            **self.change_handlers(),
        }
        self.topics = frozenset(self.handlers)

    def release(self) -> None:
        """Drop the dispatch table: its bound methods refer back to this folder, a cycle
        that only the cyclic collector would free, history and all (a view's batch pauses
        that collector, decision 90)."""
        self.handlers = {}

    def apply(self, event: Fact) -> None:
        handler = self.handlers.get(event.topic)
        if handler is not None:
            handler(event, to_utc(event.occurred_at))

    def apply_all(self, events: Iterable[Fact]) -> None:
        # apply() inlined: a rebuild runs this line for every event of the log.
        handlers = self.handlers
        for event in events:
            handler = handlers.get(event.topic)
            if handler is not None:
                at = event.occurred_at
                if not (len(at) == 32 and at[19] == "." and at.endswith("+00:00")):
                    at = to_utc(at)
                handler(event, at)

    # -- what a batch needs loaded ------------------------------------------------

    @staticmethod
    def references(event: Fact) -> tuple[list[str], list[str], list[str]]:
        """The request, bundle and change ids an event reads or changes."""
        topic, d = event.topic, event.data
        owner = topic.partition(":")[2].partition(".")[0]
        if owner == "ChangeRequest":
            return [event.aggregate_id], [], []
        if owner == "ReleaseBundle":
            requests = [d["request_id"]] if "request_id" in d else list(d.get("request_ids") or [])
            changes = [d["change_id"]] if topic == c.BUNDLE_ROLLED_BACK.topic else []
            return [str(r) for r in requests], [event.aggregate_id], [str(x) for x in changes]
        if owner == "ProductionChange":
            return [], [], [event.aggregate_id]
        return [], [], []

    # -- requests -----------------------------------------------------------------


TOPICS = Folder(History()).topics

__all__ = ["TOPICS", "Fact", "FeedFact", "Folder", "Touched"]
