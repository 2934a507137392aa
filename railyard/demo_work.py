"""How the demo organisation does its work, before and after the process: who works on
what, when it ships, and how its requesters feel about it."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from railyard.demo_model import (
    ABANDONED_A_WEEK_PLANNED,
    ABANDONED_A_WEEK_UNPLANNED,
    CHASED_A_WEEK_PLANNED,
    CHASED_A_WEEK_UNPLANNED,
    DEFECTIVE,
    JUGGLED,
    MOST_OFF_FOR_LATENESS,
    OFF_A_MONTH_LATE,
    OFF_WITHOUT_A_KEPT_PROMISE,
    PROCESS_OVERHEAD,
    RATED,
    RATING_SPREAD,
    REWORK_AFTER_FAILED_HOTFIX,
    TEAM_POINTS_PER_WEEK,
    VELOCITY_WEEKS,
    Organisation,
    Work,
    efficiency,
)
from services.intake.application import Intake
from shared.application import acting_as
from shared.identity.domain import Principal


class Delivery:
    """Work, shipping and ratings; mixed into `Demo`."""

    rng: random.Random
    chatter: random.Random
    """Who chases what: apart from `rng`, so that talking changes nothing that happens."""
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
        def deployed_without_change(self, subsystem: str, day: date, version: str) -> None: ...
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
        """A week's work on the `active` items: less of it the more there are, and less in
        the disciplined year by what the process itself takes."""
        if self.disciplined:
            active = self.pull_ahead(active)
        points = TEAM_POINTS_PER_WEEK * self.scale * efficiency(len(active) / self.scale)
        if self.disciplined:
            points *= 1 - PROCESS_OVERHEAD
        self.org.points_done.append(self.spend(points, active))
        for work in active:
            work.started = True
            if self.disciplined:
                self.record(work, day)  # release hears how far it is
            elif work.done >= work.points:
                self.deliver(work, day)  # programmers deploy it themselves

    def spend(self, points: float, active: list[Work]) -> float:
        """Share a week's `points` among the `active` items, some going better than others;
        what an item finishes early goes to the rest. Returns the points spent."""
        pace = {work.id: self.rng.uniform(0.6, 1.4) for work in active}
        left, spent = points, 0.0
        unfinished = [w for w in active if w.done < w.points]
        while left > 1e-9 and unfinished:
            paces = sum(pace[w.id] for w in unfinished)
            given = 0.0
            for work in unfinished:
                gain = min(work.points - work.done, left * pace[work.id] / paces)
                work.done = work.points if gain >= work.points - work.done else work.done + gain
                given += gain
            left, spent = left - given, spent + given
            unfinished = [w for w in unfinished if w.done < w.points]
        return spent

    def deliver(self, work: Work, day: date) -> None:
        """Year one: the programmer deploys it untested and calls it delivered, unless it
        breaks production: then they roll it back, and part of it is done again."""
        subsystem = self.rng.choice(self.platform_subsystems())
        self.deployed_without_change(subsystem, day, f"hotfix-{day:%Y%m%d}")
        if self.rng.random() < DEFECTIVE:
            self.deployed_without_change(subsystem, day, f"rollback-{day:%Y%m%d}")
            work.done -= REWORK_AFTER_FAILED_HOTFIX * work.points
            return
        with acting_as("railyard", at=self.at(day, 19)):
            self.intake.deliver(work.id, None, None)
        self.shipped(work, day)

    def platform_subsystems(self) -> tuple[str, ...]:
        return self.catalogue

    def abandon_some(self, day: date) -> None:
        """A VP drops accepted work they have given up waiting for; what was spent on it
        is lost. Work scheduled into a bundle has a date, and is not dropped."""
        chance = ABANDONED_A_WEEK_PLANNED if self.disciplined else ABANDONED_A_WEEK_UNPLANNED
        for work in list(self.org.accepted.values()):
            if work.bundle is None and self.rng.random() < chance:
                vp = self.vp(work.department)
                with acting_as(vp, at=self.at(day)):
                    self.intake.withdraw(self.principal(vp), work.id, "no longer needed")
                del self.org.accepted[work.id]

    def chase_some(self, day: date) -> None:
        """A VP whose accepted work is past the date they asked for may ask after it on
        the request, and its owner answers: in year one with no date to give; once work
        is planned, far less often (the plan shows its date), and the answer points there."""
        chance = CHASED_A_WEEK_PLANNED if self.disciplined else CHASED_A_WEEK_UNPLANNED
        for work in sorted(self.org.accepted.values(), key=lambda w: w.number):
            if work.desired >= day or self.chatter.random() >= chance:
                continue
            vp, row = self.vp(work.department), self.intake.views.get(str(work.id))
            with acting_as(vp, at=self.at(day, 10)):
                by = work.desired
                asked = f"Any news? We asked for it by {by.day} {by:%B %Y}."
                self.intake.comment(self.principal(vp), work.id, asked)
            owner = row["owner"] if row else None
            if owner is None:
                continue
            if work.bundle is not None:
                answer = "It is scheduled into a release bundle: its date is on the release plan."
            elif work.started:
                answer = "It is under way, but other work keeps coming first: no date yet."
            else:
                answer = "Not started: other requests came first. I cannot give a date yet."
            with acting_as(owner, at=self.at(day, 15)):
                self.intake.comment(self.principal(owner), work.id, answer)

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
        recent = self.org.points_done[-VELOCITY_WEEKS:]
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
        value = 5 - min(MOST_OFF_FOR_LATENESS, OFF_A_MONTH_LATE * months_late)
        value += self.rng.gauss(0, RATING_SPREAD)
        if work.promised is None or work.missed_promise:
            value -= OFF_WITHOUT_A_KEPT_PROMISE
        return max(1, min(5, round(value)))
