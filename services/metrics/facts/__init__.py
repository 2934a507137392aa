"""Folding the log into metrics' records, by the integration contracts' topics only.

The service's projection and a consumer's replay run the same `Folder` over the same
events, so they hold the same records. Only fields listed in `shared.contracts` are
read; metrics never imports another service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.metrics.domain.calendar import to_utc
from services.metrics.domain.records import History
from services.metrics.facts.base import Fact, FeedFact, Handler, Touched
from services.metrics.facts.changes import ChangeFacts
from services.metrics.facts.releases import ReleaseFacts
from services.metrics.facts.requests import RequestFacts
from shared import contracts as c

ROLLED_BACK = c.BUNDLE_ROLLED_BACK.topic
_OWNERS: dict[str, str] = {}
"""topic -> the aggregate type whose events it names, e.g. "ReleaseBundle"."""


@dataclass
class References:
    """What a batch of events needs loaded before it is folded."""

    requests: set[str]
    bundles: set[str]
    changes: set[str]
    rankings: bool = False


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
        self.apply_all((event,))

    def apply_all(self, events: Iterable[Fact]) -> None:
        # to_utc's own first test inlined: a rebuild runs it for every event of the log.
        handlers = self.handlers
        at = ""
        for event in events:
            handler = handlers.get(event.topic)
            if handler is not None:
                at = event.occurred_at
                if not (len(at) == 32 and at[19] == "." and at.endswith("+00:00")):
                    at = to_utc(at)
                handler(event, at)
        self.latest = max(self.latest, at)

    # -- what a batch needs loaded ------------------------------------------------

    @staticmethod
    def references(events: Iterable[Fact]) -> References:
        """The request, bundle and change ids a batch of events reads or changes, and
        whether it touches a department's ranking. A rebuild runs this loop for every
        event of the log: one lookup of the topic's aggregate, no list per event."""
        found = References(set(), set(), set())
        for event in events:
            topic = event.topic
            owner = _OWNERS.get(topic)
            if owner is None:
                owner = _OWNERS[topic] = topic.partition(":")[2].partition(".")[0]
            if owner == "ChangeRequest":
                found.requests.add(event.aggregate_id)
            elif owner == "ProductionChange":
                found.changes.add(event.aggregate_id)
            elif owner == "ReleaseBundle":
                d = event.data
                found.bundles.add(event.aggregate_id)
                if "request_id" in d:
                    found.requests.add(str(d["request_id"]))
                else:
                    found.requests.update(str(r) for r in d.get("request_ids") or ())
                if topic == ROLLED_BACK:
                    found.changes.add(str(d["change_id"]))
            elif owner == "DepartmentRanking":
                found.rankings = True
        return found

    # -- requests -----------------------------------------------------------------


TOPICS = Folder(History()).topics

__all__ = ["TOPICS", "Fact", "FeedFact", "Folder", "References", "Touched"]
