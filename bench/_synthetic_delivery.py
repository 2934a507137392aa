"""The synthetic history's release trains and production changes: a monthly bundle two
months ahead, frozen a week before it deploys through a release change, sometimes moved
or failed and redeployed; operations' standard, normal and emergency changes, a few of
them failing, and a few unauthorised deployments."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import contracts as c
from shared.contracts import Published
from shared.settings import DEFAULT_SUBSYSTEMS

if TYPE_CHECKING:
    from bench._synthetic import Synthetic


@dataclass
class PlannedBundle:
    id: uuid.UUID
    name: str
    deploy: datetime
    freeze: datetime
    requests: list[str] = field(default_factory=list)
    frozen: bool = False


class ReleasesAndChanges:
    """Mixed into `Generator`."""

    rng: random.Random
    rate: float
    bundles: dict[str, PlannedBundle]

    if TYPE_CHECKING:  # provided by the generator

        def _at(self, when: datetime, action: Any) -> None: ...
        def _event(
            self, aggregate: uuid.UUID, contract: Published, when: datetime, **data: Any
        ) -> Synthetic: ...
        def _id(self) -> uuid.UUID: ...

    def _bundle_for(self, when: datetime) -> PlannedBundle:
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
            subsystems=["Billing"],
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
        yield from self._plan(when, add_months(month, 2))
        following = add_months(month, 1)
        self._at(morning(following), ("month", following))

    def _plan(self, when: datetime, deploy_month: date) -> Iterator[Synthetic]:
        deploy = datetime(deploy_month.year, deploy_month.month, 15, 20, tzinfo=UTC)
        bundle = PlannedBundle(
            self._id(), f"{deploy_month:%Y.%m}", deploy, deploy - timedelta(days=7)
        )
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

    def _freeze(self, when: datetime, bundle: PlannedBundle) -> Iterator[Synthetic]:
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

    def _move(self, when: datetime, bundle: PlannedBundle, delay: timedelta) -> Iterator[Synthetic]:
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

    def _deploy(
        self, when: datetime, bundle: PlannedBundle, change: uuid.UUID
    ) -> Iterator[Synthetic]:
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


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
