"""Synthetic, contract-shaped histories of any size, generated as a stream in time order.

Requests arrive at a steady rate, are triaged, scheduled into monthly bundles, move
through development and QA, ship when their bundle deploys and are often rated; each
bundle deploys through a production change; operations raise standard, normal and
emergency changes; some fail; a few deployments are unauthorised. Events carry the
fields of `shared.contracts` (as their services would write them), so metrics, the
benchmark and the tests' independent recomputation all read the same shapes.

The rate is constant, so a larger log is a longer history, as a real log grows.
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench._synthetic_delivery import PlannedBundle, ReleasesAndChanges, add_months
from shared import contracts as c
from shared.contracts import Published
from shared.settings import DEFAULT_SUBSYSTEMS

DEPARTMENTS = ("Sales", "Customer Care", "Finance", "Marketing", "Network", "Billing Ops")
CATEGORIES = ("business_project", "it_project", "change_maintenance", "unplanned")


@dataclass(frozen=True)
class Synthetic:
    """One event: aggregate, its version, contract topic and JSON state."""

    aggregate_id: uuid.UUID
    version: int
    topic: str
    state: dict[str, Any]


class Generator(ReleasesAndChanges):
    """A reproducible stream of events from `start`, `requests_per_day` on average."""

    def __init__(
        self, *, seed: int = 1, start: date = date(2024, 1, 1), requests_per_day: float = 10
    ):
        self.rng = random.Random(seed)  # noqa: S311  # reproducible data, not a secret
        self.start = datetime(start.year, start.month, start.day, 8, tzinfo=UTC)
        self.rate = requests_per_day
        self.heap: list[tuple[datetime, int, Any]] = []
        self.counter = itertools.count()
        self.versions: dict[uuid.UUID, int] = {}
        self.bundles: dict[str, PlannedBundle] = {}
        self.last_change: datetime = self.start

    # -- scheduling -------------------------------------------------------------------

    def _at(self, when: datetime, action: Any) -> None:
        heapq.heappush(self.heap, (when, next(self.counter), action))

    def _event(
        self, aggregate: uuid.UUID, contract: Published, when: datetime, **data: Any
    ) -> Synthetic:
        version = self.versions.get(aggregate, 0) + 1
        self.versions[aggregate] = version
        state = {
            "timestamp": when.isoformat(),
            "actor": "synthetic",
            "correlation_id": "bench",
            **data,
        }
        if version == 1:
            state["originator_topic"] = contract.topic.rsplit(".", 1)[0]
        return Synthetic(aggregate, version, contract.topic, state)

    def events(self) -> Iterator[Synthetic]:
        first = self.start.date().replace(day=1)
        self._at(self.start, ("plan", first))
        self._at(self.start, ("plan", add_months(first, 1)))
        self._at(self.start, ("month", first))
        self._at(self.start, ("arrival",))
        self._at(self.start, ("ops",))
        while self.heap:
            when, _, action = heapq.heappop(self.heap)
            yield from getattr(self, f"_{action[0]}")(when, *action[1:])

    # -- requests ---------------------------------------------------------------------

    def _arrival(self, when: datetime) -> Iterator[Synthetic]:
        r = self.rng
        rid = self._id()
        department = r.choice(DEPARTMENTS)
        yield self._event(
            rid,
            c.REQUEST_SUBMITTED,
            when,
            title=f"Request {rid.hex[:8]}",
            department=department,
            sponsor="Sponsor",
            category=r.choice(CATEGORIES),
            subsystems=r.sample(DEFAULT_SUBSYSTEMS, r.randint(1, 2)),
            size_estimate="M",
            desired_date=(when + timedelta(days=r.randint(30, 120))).date().isoformat(),
            requester=f"vp.{department.lower().replace(' ', '')}",
            description="d",
            justification="j",
        )
        self._at(when + timedelta(hours=r.uniform(4, 200)), ("triage", rid, 0))
        self._at(when + timedelta(days=r.expovariate(self.rate)), ("arrival",))

    def _triage(self, when: datetime, rid: uuid.UUID, round_: int) -> Iterator[Synthetic]:
        r = self.rng
        roll = r.random()
        if roll < 0.08 and round_ == 0:
            yield self._event(rid, c.REQUEST_INFO_REQUESTED, when, question="why?")
            later = when + timedelta(hours=r.uniform(6, 96))
            self._at(later, ("answer", rid))
        elif roll < 0.18:
            yield self._event(rid, c.REQUEST_REJECTED, when, reason="not now")
        elif roll < 0.24 and round_ == 0:
            yield self._event(rid, c.REQUEST_DEFERRED, when, reason="later", until=None)
            self._at(when + timedelta(days=r.uniform(5, 40)), ("triage", rid, 1))
        elif roll < 0.27:
            yield self._event(rid, c.REQUEST_WITHDRAWN, when, reason="changed mind")
        else:
            cos = "expedite" if r.random() < 0.1 else "standard"
            yield self._event(
                rid,
                c.REQUEST_ACCEPTED,
                when,
                owner="dev",
                size_points=r.randint(1, 13),
                class_of_service=cos,
                fixed_date=None,
            )
            self._at(when + timedelta(days=r.uniform(1, 25)), ("schedule", rid))

    def _answer(self, when: datetime, rid: uuid.UUID) -> Iterator[Synthetic]:
        yield self._event(rid, c.REQUEST_INFO_PROVIDED, when, answer="because")
        self._at(when + timedelta(hours=self.rng.uniform(4, 72)), ("triage", rid, 1))

    def _rate(self, when: datetime, rid: uuid.UUID) -> Iterator[Synthetic]:
        yield self._event(
            rid,
            c.REQUEST_RATED,
            when,
            score=self.rng.choice((2, 3, 4, 4, 5)),
            comment="",
            replaces=None,
        )

    def _id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


def synthetic(
    events: int, *, seed: int = 1, start: date = date(2024, 1, 1), requests_per_day: float = 10
) -> Iterator[Synthetic]:
    """The first `events` events of a generated history."""
    return itertools.islice(
        Generator(seed=seed, start=start, requests_per_day=requests_per_day).events(), events
    )
