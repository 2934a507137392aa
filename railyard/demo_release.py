"""Year two's release train, through the release service's real commands: a monthly
train, bundles planned against measured capacity, frozen, built and tested item by item,
signed off by QA and deployed; intake's own reaction then delivers what shipped.

Each deployment goes through change control: the release manager raises the bundle's
release change at its scope freeze, the CAB approves it the day before the deployment once
QA has signed the bundle off, operations implement it in the window, and release follows
the change's outcome (`demo_changes.py`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from railyard.demo_model import (
    DEFECT,
    DEFECTIVE,
    PLAN_DAYS_BEFORE_FREEZE,
    REWORK_AFTER_QA,
    Organisation,
    Work,
)
from services.release.application import Releases, TrainDraft
from services.release.cadence import DEFAULT_OFFSETS, Cadence, MilestoneOffsets
from services.release.domain import Stage
from services.release.queries import ReleaseViews
from shared.application import acting_as
from shared.identity.domain import Principal


@dataclass
class Train:
    """A bundle as the demo follows it: its dates and the work scheduled into it."""

    id: UUID
    name: str
    deploy: date
    freeze: date
    scope: list[UUID] = field(default_factory=list)
    planned: bool = False
    frozen: bool = False
    closed: bool = False
    change: UUID | None = None


class Releasing:
    """Mixed into `Demo`: the disciplined year's release train."""

    rng: random.Random
    org: Organisation
    releases: Releases
    release_views: ReleaseViews
    train_id: UUID | None
    bundles: list[Train]

    if TYPE_CHECKING:  # provided by the class this is mixed into

        def at(self, day: date, hour: float | None = None) -> datetime: ...
        def principal(self, username: str) -> Principal: ...
        def velocity(self) -> float: ...
        def plan_order(self) -> list[Work]: ...
        def shipped(self, work: Work, day: date) -> None: ...
        def raise_release_change(self, bundle: UUID, name: str, day: date) -> UUID: ...
        def approve_release_change(self, change: UUID, day: date) -> None: ...
        def withdraw_release_change(self, change: UUID, day: date, reason: str) -> None: ...
        def deploy_release(self, change: UUID, day: date) -> None: ...

    # -- the train --------------------------------------------------------------------

    def start_train(self, day: date) -> None:
        with acting_as("rm", at=self.at(day, 9)):
            ref = self.releases.define_train(
                TrainDraft(
                    "Monthly business release",
                    Cadence.monthly("tuesday", 3, day + timedelta(days=14)),
                    MilestoneOffsets.parse(DEFAULT_OFFSETS),
                    max(1, round(self.velocity())),
                ),
                generate=3,
            )
        self.train_id = UUID(ref.id)
        self._follow(ref.bundle_ids)

    def _follow(self, bundle_ids: list[str]) -> None:
        self.release_views.group.catch_up()
        for bundle_id in bundle_ids:
            row = self.release_views.bundle(bundle_id)
            assert row is not None, bundle_id
            freeze = datetime.fromisoformat(row["scope_freeze_at"]).date()
            deploy = date.fromisoformat(row["deploy_date"])
            self.bundles.append(Train(UUID(bundle_id), str(row["name"]), deploy, freeze))

    def release_day(self, day: date) -> None:
        """What the release manager, IT staff and QA do on `day` for each open bundle."""
        for bundle in [b for b in self.bundles if not b.closed]:
            if not bundle.planned and day >= bundle.freeze - timedelta(PLAN_DAYS_BEFORE_FREEZE):
                self.plan(bundle, day)
            if bundle.planned and not bundle.frozen and day >= bundle.freeze:
                with acting_as("rm", at=self.at(day, 16)):
                    self.releases.freeze(bundle.id, "scope agreed with the departments")
                bundle.frozen = True
                # Its deployment goes to the CAB now: reviewed in the weeks of building and
                # QA, approved once QA has signed off (see `prepare`).
                bundle.change = self.raise_release_change(bundle.id, bundle.name, day)
            if day == bundle.deploy - timedelta(days=1):
                self.prepare(bundle, day)
            if day == bundle.deploy and not bundle.closed:
                self.deploy(bundle, day)
        if self.train_id and sum(1 for b in self.bundles if not b.planned) < 2:
            with acting_as("rm", at=self.at(day, 8)):
                # The next three deployments each get a bundle (those without one).
                ref = self.releases.generate_bundles(self.train_id, 3)
            known = {str(b.id) for b in self.bundles}
            self._follow([i for i in ref.bundle_ids if i not in known])

    def plan(self, bundle: Train, day: date) -> None:
        """Scope to the capacity measured lately, in plan order; promise its date."""
        self.release_views.group.catch_up()
        planned = 0.0
        capacity = max(1, round(self.velocity()))
        with acting_as("rm", at=self.at(day, 10)):
            # The bundle's capacity is what the team has been finishing lately, as the
            # release manager measures it before each planning session.
            self.releases.change_capacity(
                bundle.id, capacity, {}, "points finished a month over the last eight weeks"
            )
            for work in self.plan_order():
                if work.bundle is not None:
                    continue
                remaining = work.points - work.done
                if planned + remaining > capacity:
                    break
                # Railyard counts a request's whole size against the capacity; the release
                # manager plans work already under way by what is left of it, and says so
                # when that takes the bundle over its capacity.
                under_way = f"under way: {remaining:.0f} of its {work.points} points left"
                self.releases.schedule(bundle.id, work.id, under_way if work.done else None)
                work.bundle, work.stage = bundle.id, Stage.SCHEDULED
                work.promised = work.promised or bundle.deploy  # the first promise counts
                bundle.scope.append(work.id)
                planned += remaining
        bundle.planned = True
        for work_id in bundle.scope:
            self.record(self.org.accepted[work_id], day)

    def record(self, work: Work, day: date) -> None:
        """Tell release how far the work is: in development, then ready for QA, where a
        defect fails it back to development (and part of it is done again) or it passes."""
        if work.bundle is None or not work.started:
            return
        dev, qa = self.principal("dev.ana"), self.principal("qa.quinn")
        steps: list[tuple[Principal, Stage]] = []
        if work.stage == Stage.SCHEDULED:
            steps.append((dev, Stage.IN_DEVELOPMENT))
        if work.done >= work.points and work.stage != Stage.QA_PASSED:
            steps.append((dev, Stage.READY_FOR_QA))
            if self.rng.random() < DEFECTIVE:
                steps += [(qa, Stage.QA_FAILED), (dev, Stage.IN_DEVELOPMENT)]
                work.done -= REWORK_AFTER_QA * work.points
            else:
                steps.append((qa, Stage.QA_PASSED))
        for who, stage in steps:
            note = DEFECT if stage == Stage.QA_FAILED else ""
            with acting_as(who.username, at=self.at(day, 15)):
                self.releases.record_progress(who, work.bundle, work.id, stage, note)
            work.stage = stage

    def prepare(self, bundle: Train, day: date) -> None:
        """The day before: what has not passed QA waits for the next bundle (an exception
        after the freeze), QA signs off the rest, and the deployment is approved."""
        for work_id in list(bundle.scope):
            work = self.org.accepted[work_id]
            if work.stage != Stage.QA_PASSED:
                with acting_as("rm", at=self.at(day, 11)):
                    self.releases.unschedule(bundle.id, work.id, "not ready: next bundle")
                work.bundle, work.stage, work.missed_promise = None, None, True
                bundle.scope.remove(work_id)
        assert bundle.change is not None  # raised at the freeze
        if not bundle.scope:
            self.withdraw_release_change(bundle.change, day, "nothing ready to ship")
            with acting_as("rm", at=self.at(day, 12)):
                self.releases.cancel(bundle.id, "nothing ready to ship")
            bundle.closed = True
            return
        with acting_as("qa.quinn", at=self.at(day, 13)):
            self.releases.sign_off(self.principal("qa.quinn"), bundle.id, "all passed")
        self.approve_release_change(bundle.change, day)

    def deploy(self, bundle: Train, day: date) -> None:
        assert bundle.change is not None
        self.deploy_release(bundle.change, day)  # release deploys; intake delivers
        for work_id in bundle.scope:
            self.shipped(self.org.accepted[work_id], day)
        bundle.closed = True
