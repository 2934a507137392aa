"""Small histories written as contract events, for metrics tests without other services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.metrics.domain.records import History
from services.metrics.facts import FeedFact, Folder
from shared import contracts as c
from shared.contracts import Published


def at(text: str) -> str:
    """`2026-01-05 09:00` (UTC) as an ISO instant."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()


@dataclass
class Story:
    """Writes events the way the publishing services would, in order, with positions."""

    facts: list[FeedFact] = field(default_factory=list)

    def add(self, contract: Published, aggregate_id: str, when: str, **data: Any) -> None:
        missing = contract.fields - set(data)
        for name in missing:
            data[name] = None
        self.facts.append(
            FeedFact(len(self.facts) + 1, contract.topic, aggregate_id, at(when), data)
        )

    def request(
        self,
        when: str,
        *,
        department: str = "Sales",
        category: str = "business_project",
        subsystems: tuple[str, ...] = ("Billing",),
        title: str | None = None,
        request_id: str | None = None,
    ) -> str:
        rid = request_id or str(uuid.uuid4())
        self.add(
            c.REQUEST_SUBMITTED,
            rid,
            when,
            title=title or f"request {len(self.facts)}",
            department=department,
            sponsor="Val",
            category=category,
            subsystems=list(subsystems),
            size_estimate="M",
            desired_date=None,
            requester="vp",
        )
        return rid

    def accept(self, rid: str, when: str, cos: str = "standard", fixed: str | None = None) -> None:
        self.add(
            c.REQUEST_ACCEPTED,
            rid,
            when,
            owner="dev",
            size_points=3,
            class_of_service=cos,
            fixed_date=fixed,
        )

    def deliver(self, rid: str, when: str) -> None:
        self.add(c.REQUEST_DELIVERED, rid, when, bundle_id=None, change_id=None)

    def flow(self, submitted: str, accepted: str, delivered: str, **kw: Any) -> str:
        rid = self.request(submitted, **kw)
        self.accept(rid, accepted)
        self.deliver(rid, delivered)
        return rid

    def history(self) -> History:
        history = History()
        Folder(history).apply_all(self.facts)
        return history
