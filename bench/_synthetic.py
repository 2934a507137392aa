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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

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


@dataclass
class _Bundle:
    id: uuid.UUID
    name: str
    deploy: datetime
    freeze: datetime
    requests: list[str] = field(default_factory=list)
    frozen: bool = False


class Generator:
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
        self.bundles: dict[str, _Bundle] = {}
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
        self._at(self.start, ("plan", _add_months(first, 1)))
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

    def _bundle_for(self, when: datetime) -> _Bundle:
        month = when.date().replace(day=1)
        for months_ahead in range(0, 4):
            index = month.year * 12 + month.month - 1 + months_ahead
            key = f"{index // 12}-{index % 12 + 1:02d}"
            bundle = self.bundles.get(key)
            if bundle is not None and not bundle.frozen and bundle.freeze > when:
                return bundle
        raise LookupError("no open bundle")

    def _schedule(self, when: datetime, rid: uuid.UUID) -> Iterator[Synthetic]:
        bundle = self._bundle_for(when)
        bundle.requests.append(str(rid))
        yield self._event(
            bundle.id,
            c.REQUEST_SCHEDULED,
            when,
            request_id=str(rid),
            size_points=3,
            after_freeze=False,
            reason="",
        )
        start = when + timedelta(days=self.rng.uniform(0.5, 5))
        if start < bundle.freeze:
            self._at(start, ("progress", bundle.id, rid, "in_development"))

    def _progress(
        self, when: datetime, bundle_id: uuid.UUID, rid: uuid.UUID, stage: str
    ) -> Iterator[Synthetic]:
        yield self._event(
            bundle_id, c.ITEM_PROGRESSED, when, request_id=str(rid), stage=stage, note=""
        )
        following = {"in_development": "ready_for_qa", "ready_for_qa": "qa_passed"}.get(stage)
        if following:
            self._at(
                when + timedelta(days=self.rng.uniform(0.5, 4)),
                ("progress", bundle_id, rid, following),
            )

    # -- bundles and changes ------------------------------------------------------------

    def _month(self, when: datetime, month: date) -> Iterator[Synthetic]:
        """A monthly train: each month plans the bundle that deploys two months on."""
        yield from self._plan(when, _add_months(month, 2))
        following = _add_months(month, 1)
        self._at(_morning(following), ("month", following))

    def _plan(self, when: datetime, deploy_month: date) -> Iterator[Synthetic]:
        deploy = datetime(deploy_month.year, deploy_month.month, 15, 20, tzinfo=UTC)
        bundle = _Bundle(self._id(), f"{deploy_month:%Y.%m}", deploy, deploy - timedelta(days=7))
        self.bundles[f"{deploy_month:%Y-%m}"] = bundle
        yield self._event(
            bundle.id,
            c.BUNDLE_PLANNED,
            when,
            train_id="monthly",
            name=bundle.name,
            deploy_date=deploy.date().isoformat(),
            window_start=deploy.isoformat(),
            window_end=(deploy + timedelta(hours=4)).isoformat(),
            scope_freeze_at=bundle.freeze.isoformat(),
            code_complete_at=None,
            qa_start_at=None,
            capacity_points=200,
            subsystem_capacity={},
        )
        self._at(bundle.freeze, ("freeze", bundle))

    def _freeze(self, when: datetime, bundle: _Bundle) -> Iterator[Synthetic]:
        bundle.frozen = True
        yield self._event(bundle.id, c.SCOPE_FROZEN, when)
        change = self._id()
        yield self._event(
            change,
            c.CHANGE_RAISED,
            when + timedelta(hours=1),
            change_type="release_deployment",
            title=f"Deploy {bundle.name}",
            bundle_id=str(bundle.id),
            subsystems=list(DEFAULT_SUBSYSTEMS),
            window_start=bundle.deploy.isoformat(),
            window_end=(bundle.deploy + timedelta(hours=4)).isoformat(),
            requester="rm",
            implementers=["ops"],
            risk="medium",
        )
        self._at(when + timedelta(days=self.rng.uniform(1, 4)), ("approve", change))
        delay = timedelta(days=7) if self.rng.random() < 0.15 else timedelta(0)
        if delay:
            self._at(when + timedelta(hours=2), ("move", bundle, delay))
            bundle.deploy += delay
        self._at(bundle.deploy, ("deploy", bundle, change))

    def _move(self, when: datetime, bundle: _Bundle, delay: timedelta) -> Iterator[Synthetic]:
        moved = bundle.deploy
        yield self._event(
            bundle.id,
            c.BUNDLE_MOVED,
            when,
            deploy_date=moved.date().isoformat(),
            window_start=moved.isoformat(),
            window_end=(moved + timedelta(hours=4)).isoformat(),
            scope_freeze_at=None,
            code_complete_at=None,
            qa_start_at=None,
            reason="QA late",
        )

    def _approve(self, when: datetime, change: uuid.UUID) -> Iterator[Synthetic]:
        yield self._event(change, c.CHANGE_APPROVED, when, approvers=["cab.carl", "cab.dora"])

    def _deploy(self, when: datetime, bundle: _Bundle, change: uuid.UUID) -> Iterator[Synthetic]:
        r = self.rng
        outcome = "failed" if r.random() < 0.06 else "succeeded"
        yield self._event(change, c.CHANGE_IMPLEMENTATION_STARTED, when)
        yield self._event(
            change,
            c.CHANGE_COMPLETED,
            when + timedelta(hours=2),
            outcome=outcome,
            change_type="release_deployment",
            bundle_id=str(bundle.id),
            notes="",
        )
        yield self._deployment(when + timedelta(hours=1), "Billing", change, False)
        if outcome == "failed":
            # Backed out; the release change is raised again and redeployed a day or two on.
            retry = self._id()
            again = when + timedelta(hours=r.uniform(20, 50))
            yield self._event(
                retry,
                c.CHANGE_RAISED,
                when + timedelta(hours=3),
                change_type="release_deployment",
                title=f"Redeploy {bundle.name}",
                bundle_id=str(bundle.id),
                subsystems=list(DEFAULT_SUBSYSTEMS),
                window_start=again.isoformat(),
                window_end=(again + timedelta(hours=4)).isoformat(),
                requester="rm",
                implementers=["ops"],
                risk="high",
            )
            self._at(when + timedelta(hours=4), ("approve", retry))
            self._at(again, ("deploy", bundle, retry))
            return
        yield self._event(
            bundle.id,
            c.BUNDLE_DEPLOYED,
            when + timedelta(hours=2),
            change_id=str(change),
            request_ids=bundle.requests,
        )
        for rid in bundle.requests:
            request = uuid.UUID(rid)
            yield self._event(
                request,
                c.REQUEST_DELIVERED,
                when + timedelta(hours=2, minutes=5),
                bundle_id=str(bundle.id),
                change_id=str(change),
            )
            if r.random() < 0.7:
                self._at(when + timedelta(days=r.uniform(1, 20)), ("rate", request))
        if r.random() < 0.03:
            yield self._event(
                bundle.id,
                c.BUNDLE_ROLLED_BACK,
                when + timedelta(hours=6),
                change_id=str(change),
                reason="regression",
            )

    def _rate(self, when: datetime, rid: uuid.UUID) -> Iterator[Synthetic]:
        yield self._event(
            rid,
            c.REQUEST_RATED,
            when,
            score=self.rng.choice((2, 3, 4, 4, 5)),
            comment="",
            replaces=None,
        )

    def _ops(self, when: datetime) -> Iterator[Synthetic]:
        kind = self.rng.choice(("standard", "normal", "normal", "emergency"))
        yield from self._ops_change(when, kind, [self.rng.choice(DEFAULT_SUBSYSTEMS)], False)
        self._at(when + timedelta(days=self.rng.expovariate(self.rate / 5)), ("ops",))

    def _ops_change(
        self, when: datetime, kind: str, subsystems: list[str], fix: bool
    ) -> Iterator[Synthetic]:
        r = self.rng
        change = self._id()
        yield self._event(
            change,
            c.CHANGE_RAISED,
            when,
            change_type=kind,
            title=f"{kind} change",
            bundle_id=None,
            subsystems=subsystems,
            window_start=None,
            window_end=None,
            requester="ops",
            implementers=["ops"],
            risk="low",
        )
        approved = when + timedelta(
            hours=r.uniform(0.5, 4) if kind == "emergency" or fix else r.uniform(20, 120)
        )
        yield self._event(change, c.CHANGE_APPROVED, approved, approvers=["cab.carl"])
        done = approved + timedelta(hours=r.uniform(1, 24))
        outcome = "succeeded" if fix or r.random() > 0.1 else r.choice(("failed", "rolled_back"))
        yield self._event(
            change,
            c.CHANGE_COMPLETED,
            done,
            outcome=outcome,
            change_type=kind,
            bundle_id=None,
            notes="",
        )
        yield self._deployment(done, subsystems[0], change, False)
        if r.random() < 0.05:
            yield self._deployment(done + timedelta(hours=3), subsystems[0], None, True)

    def _id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _deployment(
        self, when: datetime, subsystem: str, change: uuid.UUID | None, unauthorised: bool
    ) -> Synthetic:
        report = self._id()
        return self._event(
            report,
            c.DEPLOYMENT_REPORTED,
            when,
            pipeline="jenkins",
            subsystem=subsystem,
            version="1.0",
            deployed_at=when.isoformat(),
            claimed_change_id=str(change) if change else None,
            change_id=str(change) if change else None,
            unauthorised=unauthorised,
        )


def _add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 8, tzinfo=UTC)


def synthetic(
    events: int, *, seed: int = 1, start: date = date(2024, 1, 1), requests_per_day: float = 10
) -> Iterator[Synthetic]:
    """The first `events` events of a generated history."""
    return itertools.islice(
        Generator(seed=seed, start=start, requests_per_day=requests_per_day).events(), events
    )
