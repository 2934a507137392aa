"""A demo organisation: the case study's line of business, simulated through the real
domain commands with a simulated clock (every event carries its business time).

The organisation starts as the case study found it: requests arrive faster than IT can
finish them and nobody triages them; programmers accept and start whatever a VP pushes
on them (a private deal), juggle dozens of requests at once and deploy each themselves,
untested, when it is done; nobody can promise a date. When about 325 requests are in
play, the two years begin (on the first of the next month). The first runs as before.
The second runs the disciplined process: a clearinghouse triage of every request (reject
what is not worth doing, accept what fits the next five weeks or so of measured
capacity, defer the rest), departments ranking their accepted work, monthly release
bundles planned against that capacity with a promised date, QA before anything ships,
and work started only when its bundle starts.

Nothing below writes a metric down. Throughput, cycle time and satisfaction follow
from the behaviour, whose every parameter is named in `demo_model.py`: multitasking
costs capacity (`efficiency`); a defect found in production costs a rolled-back hotfix
and a larger redo than one QA finds; a VP who cannot get a date gives up on accepted
work more often, and what was spent on it is lost; the process itself takes part of the
team's week; the plan promises dates, and a VP rates delivered work by how late it came
against what they were promised (or asked for, when nobody promised).

Year two's bundles go through the release service's real commands (`demo_release.py`)
and each deploys through a CAB-approved release change in change control; operations'
normal and emergency changes, and the pipeline's deployment reports, go through change
control in both years (`demo_changes.py`).

Nothing is recorded ahead of the simulated clock: what falls due on a later day (the CAB's
meeting, a change's window, a review) waits in an agenda for that day, so a run that
stops today leaves that work in flight, as an organisation's would be.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from railyard.demo_changes import Changing
from railyard.demo_model import (
    ACCEPTED_AHEAD_MONTHS,
    ARRIVALS_PER_WEEK,
    CATEGORIES,
    DEPARTMENTS,
    DESIRED_IN_DAYS,
    DEVELOPERS,
    IN_PLAY_AT_START,
    REJECTED_AT_TRIAGE,
    REJECTED_WHEN_STALE,
    SIZE_WEIGHTS,
    SIZES,
    STALE_DAYS,
    TOPICS,
    Organisation,
    Work,
)
from railyard.demo_release import Releasing, Train
from railyard.demo_work import Delivery
from services.change_control.application.changes import ChangeControl
from services.change_control.application.deployments import DeploymentReports
from services.change_control.views import ChangeControlViews
from services.intake.application import Intake, RequestDraft
from services.intake.domain import ClassOfService
from services.intake.reactions import DeliverShippedRequests
from services.intake.views import IntakeViews
from services.release.application import Releases
from services.release.queries import ReleaseViews
from services.release.reactions import BundleFollowsItsDeploymentChange
from shared.application import acting_as
from shared.identity.domain import Principal
from shared.platform import Platform
from shared.store.followers import ReactionRunner


class DemoTooLate(ValueError):
    """The history would reach past today before the years it compares are over."""


class Demo(Delivery, Releasing, Changing):
    def __init__(self, platform: Platform, start: date, seed: int = 7, scale: float = 1.0) -> None:
        """`scale` shrinks the organisation (arrivals, team, work juggled) in proportion."""
        self.platform = platform
        self.rng = random.Random(seed)  # noqa: S311  # a reproducible simulation
        self.chatter = random.Random(seed + 1)  # noqa: S311  # comments, reproducible too
        # When in the day, and which day of the week before its window the CAB meets, for
        # operations' changes: apart from `rng`, so that it changes no request's figure.
        self.hours = random.Random(seed + 2)  # noqa: S311  # reproducible too
        self.intake = Intake(platform.log, IntakeViews(platform.log), platform.directory)
        self.start = start
        self.org = Organisation()
        self.disciplined = False
        self.today = start
        self.scale = scale
        self.release_views = ReleaseViews(platform.log)
        self.releases = Releases(platform.log, self.release_views)
        self.change_views = ChangeControlViews(platform.log)
        self.changes = ChangeControl(platform.log, self.change_views, platform.directory)
        self.reports = DeploymentReports(platform.log, self.change_views)
        self.catalogue = platform.settings.subsystems
        # The reactions that make the services cooperate: release follows its deployment
        # change; intake delivers what a deployed bundle shipped.
        self.reactions = ReactionRunner(
            platform.log,
            [
                BundleFollowsItsDeploymentChange(self.releases, self.release_views),
                DeliverShippedRequests(self.intake),
            ],
        )
        self.train_id: UUID | None = None
        self.bundles: list[Train] = []
        # What is due on a later day (a CAB meeting, a change's window), done when the
        # simulation reaches that day: nothing is recorded ahead of the simulated clock, and
        # what falls due after the run stops stays in flight, as it is today.
        self._agenda: list[tuple[date, int, Callable[[], None]]] = []
        self._booked = itertools.count()  # same day: in the order booked

    # -- people and time ------------------------------------------------------------

    def later(self, day: date, action: Callable[[], None]) -> None:
        """Do `action` when the simulation reaches `day` (never, if it stops before)."""
        heapq.heappush(self._agenda, (day, next(self._booked), action))

    def at(self, day: date, hour: float | None = None) -> datetime:
        hour = self.rng.uniform(8.5, 17.5) if hour is None else hour
        return datetime.combine(day, time(int(hour), int(hour % 1 * 60)), tzinfo=UTC)

    def vp(self, department: str) -> str:
        return "vp." + department.lower().replace(" ", "")

    def principal(self, username: str) -> Principal:
        found = self.platform.directory.principal(username)
        assert found is not None, username
        return found

    def register_people(self, day: date) -> None:
        with acting_as("demo", at=self.at(day, 8)):
            identity = self.platform.identity
            # An administrator, to try the people pages (and give a role the CAB lacks).
            identity.register("admin", "Ada Admin", ["admin"])
            identity.register("rm", "Rita Release", ["release_manager"])
            identity.register("metrics", "Mo Metrics", ["metrics_reader"])
            for department in DEPARTMENTS:
                identity.register(
                    self.vp(department), f"VP {department}", ["requester"], department
                )
            for dev in DEVELOPERS:  # "Ana Dev", as the others are named
                name = f"{dev.partition('.')[2].title()} Dev"
                identity.register(dev, name, ["it_staff"], None, "development")
            identity.register("qa.quinn", "Quinn QA", ["it_staff"], None, "qa")
            identity.register(
                "ops.olga", "Olga Ops", ["it_staff", "cab_member"], None, "operations"
            )
            identity.register("cab.carl", "Carl CAB", ["cab_member"], None, "development")
            identity.register("cab.dora", "Dora CAB", ["cab_member"], None, "qa")
            identity.register("pipeline", "Deployment pipeline", ["pipeline"])

    # -- the simulation ---------------------------------------------------------------

    def run(
        self,
        years: int = 2,
        progress: Callable[[str], None] | None = None,
        until: date | None = None,
    ) -> dict[str, str]:
        """Warm up until about 325 requests are in play, then run `years` years from the
        first of the next month (the case study compares 12 calendar months with the 12
        before): the first as found, the rest disciplined; then, when `until` is later,
        keep running the process up to it (so a demo served today has work in play today).
        Returns the periods to compare."""
        say = progress or (lambda _: None)
        self.register_people(self.start)
        day = self.start
        crowded = False
        # The years compared must have happened (metrics are not measured as of a day
        # still to come, and a history in the future is no demonstration): `latest` is the
        # last first of a month from which they end by `until`.
        after = until + timedelta(days=1) if until is not None else None
        latest = date(after.year - years, after.month, 1) if after is not None else None
        while not (crowded and day.day == 1) and day < self.start + timedelta(days=4 * 365):
            if until is not None and latest is not None and day > latest:
                self._too_late(until, _months_later(day.replace(day=1), 1), years, known=False)
            self.step(day)
            crowded = crowded or self.org.in_play >= IN_PLAY_AT_START * self.scale
            day += timedelta(days=1)
        first_year = day
        switch = _months_later(first_year, 12)
        end = _months_later(first_year, 12 * years)
        if until is not None and end > until + timedelta(days=1):
            self._too_late(until, first_year, years)
        say(f"{self.org.in_play} requests in play on {first_year}: year one starts")
        while day < end:
            if day == switch:
                say(f"{day}: the release manager institutes the process")
                self.disciplined = True
                self.clearinghouse_review(day)
            self.step(day)
            day += timedelta(days=1)
        if until is not None and day < until:
            say(f"{day}: the process keeps running through {until - timedelta(days=1)}")
            while day < until:
                self.step(day)
                day += timedelta(days=1)
        return {
            "year_one": f"{first_year.isoformat()}..{(switch - timedelta(days=1)).isoformat()}",
            "year_two": f"{switch.isoformat()}..{(end - timedelta(days=1)).isoformat()}",
            "as_of": (end - timedelta(days=1)).isoformat(),
        }

    def _too_late(self, until: date, first_year: date, years: int, known: bool = True) -> None:
        """Refuse: the years compared would end after `until`. `known`: `first_year` is
        when they would begin, not only the earliest they could."""
        end = _months_later(first_year, 12 * years) - timedelta(days=1)
        later = "" if known else " or later"
        earlier = (
            (self.start - (end - until) - timedelta(days=31)).replace(day=1)
            if known
            else date(until.year - 5, until.month, 1)  # the default: room for any warm-up
        )
        raise DemoTooLate(
            f"starting on {self.start}, the {years} years compared would run from"
            f" {first_year}{later} to {end}{later}, past today ({until}): give an earlier"
            f" --start, such as {earlier}, in an empty RAILYARD_DATA_DIR"
        )

    def step(self, day: date) -> None:
        self.today = day
        while self._agenda and self._agenda[0][0] <= day:
            heapq.heappop(self._agenda)[2]()
        if day.weekday() < 5:
            for _ in range(self._poisson(ARRIVALS_PER_WEEK * self.scale / 5)):
                self.submit(day)
        if day.weekday() == 4:
            self.abandon_some(day)
        if self.disciplined:
            if day.weekday() == 0:
                self.triage_meeting(day)
            self.release_day(day)
            if day.weekday() == 4:
                self.work_week(day, self.building())
        elif day.weekday() == 4:
            self.work_week(day, self.pushed_work(day))
        if day.weekday() == 2:
            self.operations_week(day)
        if day.weekday() == 3:
            self.chase_some(day)
        self.rate_some(day)

    def _poisson(self, mean: float) -> int:
        count, total = 0, self.rng.expovariate(1)
        while total < mean:
            count += 1
            total += self.rng.expovariate(1)
        return count

    # -- requests arrive and are triaged --------------------------------------------------

    def submit(self, day: date) -> None:
        r = self.rng
        department = r.choice(DEPARTMENTS)
        category = r.choices([c for c, _ in CATEGORIES], [w for _, w in CATEGORIES])[0]
        size, points = r.choices(SIZES, SIZE_WEIGHTS)[0]
        subsystems = r.sample(self.platform.settings.subsystems, r.choice((1, 1, 2)))
        desired = day + timedelta(days=r.randint(*DESIRED_IN_DAYS))
        draft = RequestDraft(
            title=f"{department}: {r.choice(TOPICS)} ({r.randint(100, 999)})",
            description="Simulated request of the demo organisation.",
            justification="Needed by the business.",
            sponsor=f"VP {department}",
            category=category,
            subsystems=subsystems,
            size_estimate=size,
            desired_date=desired,
        )
        vp = self.vp(department)
        at = self.at(day)
        with acting_as(vp, at=at):
            submitted = self.intake.submit(self.principal(vp), draft)
        self.org.submitted += 1
        self.org.waiting[UUID(submitted.id)] = Work(
            UUID(submitted.id), self.org.submitted, department, points, day, desired,
            submitted_at=at,
        )  # fmt: skip

    def triaged_at(self, work: Work, day: date) -> datetime:
        """When the release manager decides on `work` on `day`: after it was submitted
        (a triage meeting the afternoon it arrived looks at it then, not that morning)."""
        at = self.at(day)
        if work.submitted_at is not None and at <= work.submitted_at:
            at = work.submitted_at + timedelta(minutes=30)  # no draw: the rest stays as it was
        return at

    def accept(self, work: Work, day: date) -> None:
        with acting_as("rm", at=self.triaged_at(work, day)):
            self.intake.accept(
                work.id, self.rng.choice(DEVELOPERS), work.points, ClassOfService.STANDARD, None
            )
        work.accepted = day
        self.org.waiting.pop(work.id, None)
        self.org.accepted[work.id] = work

    def decline(self, work: Work, day: date, how: str) -> None:
        with acting_as("rm", at=self.triaged_at(work, day)):
            if how == "reject":
                self.intake.reject(work.id, "not worth the capacity it would take")
                self.org.waiting.pop(work.id, None)
            else:
                self.intake.defer(work.id, "no capacity in the next five weeks", None)
                work.deferred = True

    def triage_meeting(self, day: date, review: bool = False) -> None:
        """Year two: every waiting request is decided, oldest first: rejected when not
        worth the capacity (more often in the first review, where requests are stale),
        accepted while the next five weeks or so of measured capacity allow, else deferred.
        Worth is judged once: a deferred request waits only for capacity."""
        horizon = ACCEPTED_AHEAD_MONTHS * self.velocity()
        committed = sum(w.points - w.done for w in self.org.accepted.values())
        queue = sorted(self.org.waiting.values(), key=lambda w: (w.submitted, w.number))
        for work in queue:
            stale = review and (day - work.submitted).days > STALE_DAYS
            judged = work.deferred
            chance = REJECTED_WHEN_STALE if stale else REJECTED_AT_TRIAGE
            if not judged and self.rng.random() < chance:
                self.decline(work, day, "reject")
            elif committed + work.points <= horizon:
                self.accept(work, day)
                committed += work.points
            elif not work.deferred:
                self.decline(work, day, "defer")


def _months_later(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)


DEMO_PASSWORD = "railyard-demo"  # noqa: S105  # demo data only, printed for people to use


def give_passwords(platform: Platform, password: str = DEMO_PASSWORD) -> list[str]:
    """Let every demo person sign in to the web pages with `password`; returns who."""
    people = [u.username for u in platform.directory.users() if u.active]
    with acting_as("demo"):
        for username in people:
            platform.identity.set_password(username, password)
    return people
