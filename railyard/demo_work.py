"""How the demo organisation does its work, before and after the process: who works on
what, when it ships, and how its requesters feel about it."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from railyard.demo_model import JUGGLED, TEAM_POINTS_PER_WEEK, Organisation, Work, efficiency
from services.intake.application import Intake
from shared.application import acting_as
from shared.identity.domain import Principal

RATED = 0.75


class Delivery:
    """Work, shipping and ratings; mixed into `Demo`."""

    rng: random.Random
    intake: Intake
    org: Organisation
    disciplined: bool
    scale: float
    catalogue: tuple[str, ...]

    if TYPE_CHECKING:  # provided by the class this is mixed into

        def at(self, day: date, hour: float | None = None) -> datetime: ...
        def principal(self, username: str) -> Principal: ...
        def vp(self, department: str) -> str: ...
        def accept(self, work: Work, day: date) -> None: ...
        def triage_meeting(self, day: date, review: bool = False) -> None: ...
        def start_train(self, day: date) -> None: ...
        def deployed_without_change(self, subsystem: str, day: date) -> None: ...
        def record(self, work: Work, day: date) -> None: ...

    # -- year one: whatever is pushed gets started, and ships when it is done ----------

    def pushed_work(self, day: date) -> list[Work]:
        """Year one: whenever a programmer has room, a VP pushes one of their requests on
        them (a private deal, not the oldest or the most valuable); it is accepted and
        started on the spot."""
        started = [w for w in self.org.accepted.values() if w.done < w.points]
        while len(started) < JUGGLED * self.scale and self.org.waiting:
            department = self.rng.choice(sorted({w.department for w in self.org.waiting.values()}))
            mine = [w for w in self.org.waiting.values() if w.department == department]
            work = self.rng.choice(sorted(mine, key=lambda w: w.number))
            self.accept(work, day)
            started.append(work)
        return started

    def work_week(self, day: date, active: list[Work]) -> None:
        if self.disciplined:
            active = self.pull_ahead(active)
        if not active:
            self.org.points_done.append(0.0)
            return
        points = TEAM_POINTS_PER_WEEK * self.scale * efficiency(len(active) / self.scale)
        self.org.points_done.append(points)
        share = points / len(active)
        for work in active:
            work.started = True
            work.done = min(work.points, work.done + share * self.rng.uniform(0.6, 1.4))
            if self.disciplined:
                self.record(work, day)  # release hears how far it is
            elif work.done >= work.points:
                self.deliver(work, day)  # programmers deploy it themselves

    def deliver(self, work: Work, day: date) -> None:
        """Year one: the programmer deploys it and calls it delivered."""
        self.deployed_without_change(self.rng.choice(self.platform_subsystems()), day)
        with acting_as("railyard", at=self.at(day, 19)):
            self.intake.deliver(work.id, None, None)
        self.shipped(work, day)

    def platform_subsystems(self) -> tuple[str, ...]:
        return self.catalogue

    # -- year two: a clearinghouse, a ranked plan, monthly bundles ----------------------

    def clearinghouse_review(self, day: date) -> None:
        """The first triage of everything in play, then each department ranks its
        accepted work (what is already started first)."""
        self.triage_meeting(day, review=True)
        self.start_train(day)
        for department in sorted({w.department for w in self.org.accepted.values()}):
            mine = [w for w in self.plan_order() if w.department == department]
            vp = self.vp(department)
            with acting_as(vp, at=self.at(day, 16)):
                self.intake.rank(self.principal(vp), department, [str(w.id) for w in mine])

    def velocity(self) -> float:
        """Points a month the team has been finishing lately."""
        recent = self.org.points_done[-8:]
        return sum(recent) / len(recent) * 4.3 if recent else 100.0 * self.scale

    def plan_order(self) -> list[Work]:
        """Started work first, then oldest acceptance first."""
        return sorted(
            self.org.accepted.values(),
            key=lambda w: (not w.started, w.accepted or w.submitted, w.number),
        )

    def pull_ahead(self, bundle: list[Work]) -> list[Work]:
        """When the bundles' scope is nearly done, the team starts the next items in the
        plan (they ship with the bundle they are scheduled into)."""
        active = [w for w in bundle if w.done < w.points]
        remaining = sum(w.points - w.done for w in active)
        weekly = self.velocity() / 4.3
        for work in self.plan_order():
            if remaining >= weekly:
                break
            if work in bundle or work.done >= work.points:
                continue
            active.append(work)
            remaining += work.points - work.done
        return active

    def building(self) -> list[Work]:
        """Year two: the work scheduled into bundles and not yet done."""
        return [w for w in self.org.accepted.values() if w.bundle and w.done < w.points]

    def shipped(self, work: Work, day: date) -> None:
        """Delivered by intake when its bundle deployed; its requester may rate it."""
        self.org.accepted.pop(work.id, None)
        if self.rng.random() < RATED:
            later = day + timedelta(days=self.rng.randint(2, 20))
            self.org.pending_ratings.append((later, work, day))

    # -- requesters rate what they got ----------------------------------------------------

    def rate_some(self, day: date) -> None:
        due = [p for p in self.org.pending_ratings if p[0] <= day]
        self.org.pending_ratings = [p for p in self.org.pending_ratings if p[0] > day]
        for _, work, delivered in due:
            score = self.score(work, delivered)
            vp = self.vp(work.department)
            with acting_as(vp, at=self.at(day)):
                self.intake.rate(self.principal(vp), work.id, score, "")

    def score(self, work: Work, delivered: date) -> int:
        """How late it came: against the date promised when there was a promise (a
        requester plans around it), else against the date asked for, with a point off
        for never knowing when it would come."""
        target = work.promised or work.desired
        months_late = max(0, (delivered - target).days) / 30
        value = 5 - min(2.0, 0.35 * months_late) + self.rng.gauss(0, 0.6)
        if work.promised is None or work.missed_promise:
            value -= 1
        return max(1, min(5, round(value)))
