"""Production changes in the demo, through change control's real commands: the release
change that deploys each bundle in year two, operations' normal and emergency changes in
both years (some fail: backed out, fixed by an emergency change that night, reviewed the
next day), and the deployment pipeline's reports (in year
one, programmers deploy on their own: change control flags each as unauthorised)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from railyard.demo_model import (
    CAB_MEETS_BETWEEN_HOURS,
    CAB_MEETS_DAYS_BEFORE_WINDOW,
    CHANGE_WINDOW_DAYS_AHEAD,
    EMERGENCIES_A_WEEK_AS_FOUND,
    EMERGENCIES_A_WEEK_DISCIPLINED,
    FIXED_FROM_HOUR,
    NORMAL_CHANGES_A_WEEK,
    OPS_FAILS,
    RAISED_BETWEEN_HOURS,
)
from services.change_control.application.changes import ChangeControl, ChangeDraft
from services.change_control.application.deployments import DeploymentReports
from services.change_control.domain.risk import (
    AffectedUsers,
    Impact,
    Likelihood,
    Questionnaire,
)
from services.change_control.domain.values import ChangeType, Outcome
from services.change_control.views import ChangeControlViews
from shared.application import acting_as
from shared.identity.domain import Principal
from shared.store.followers import ReactionRunner

FIX_TITLE = "Fix the failed patch"
LOW_RISK = Questionnaire(Impact.MINOR, Likelihood.UNLIKELY, AffectedUsers.NONE, True)


class Changing:
    """Mixed into `Demo`: production changes and deployment reports."""

    rng: random.Random
    hours: random.Random
    changes: ChangeControl
    change_views: ChangeControlViews
    reports: DeploymentReports
    reactions: ReactionRunner
    disciplined: bool
    catalogue: tuple[str, ...]

    if TYPE_CHECKING:  # provided by the class this is mixed into

        def at(self, day: date, hour: float | None = None) -> datetime: ...
        def principal(self, username: str) -> Principal: ...
        def later(self, day: date, action: Callable[[], None]) -> None: ...

    def _draft(self, title: str, subsystems: list[str], start: datetime | None) -> ChangeDraft:
        end = start + timedelta(hours=3) if start else None
        return ChangeDraft(
            title=title,
            subsystems=subsystems,
            window_start=start,
            window_end=end,
            implementation_plan="Apply the package with the runbook.",
            backout_plan="Reinstall the previous package from the runbook.",
            test_evidence="Passed in the staging environment.",
            implementers=["ops.olga"],
            questionnaire=LOW_RISK,
        )

    def _implement(self, change: UUID, day: date, outcome: Outcome, hour: float) -> None:
        ops = self.principal("ops.olga")
        with acting_as("ops.olga", at=self.at(day, hour)):
            self.changes.start(ops, change)
        notes = "" if outcome == Outcome.SUCCEEDED else "errors after the switch; backed out"
        with acting_as("ops.olga", at=self.at(day, hour + 1)):
            self.changes.complete(ops, change, outcome, notes)
        self.reactions.catch_up()  # release follows its deployment change

    def _review_if_needed(self, change: UUID, day: date, outcome: Outcome) -> None:
        """A change that went wrong is reviewed the next day."""
        if outcome == Outcome.SUCCEEDED:
            return

        def review() -> None:
            carl = self.principal("cab.carl")
            with acting_as("cab.carl", at=self.at(day + timedelta(days=1), 10)):
                self.changes.review(carl, change, "the package clashed with a patch", "retest")

        self.later(day + timedelta(days=1), review)

    # -- release deployments --------------------------------------------------------------

    def raise_release_change(self, bundle: UUID, name: str, day: date) -> UUID:
        """At the scope freeze: the release manager raises the bundle's change, in the
        bundle's window (it waits for the CAB until QA has signed the bundle off)."""
        self.change_views.group.catch_up()
        rm = self.principal("rm")
        with acting_as("rm", at=self.at(day, 16.5)):
            ref = self.changes.raise_change(
                rm,
                ChangeType.RELEASE_DEPLOYMENT,
                self._draft(f"Deploy release {name}", list(self.catalogue), None),
                bundle_id=str(bundle),
            )
        return UUID(ref.id)

    def approve_release_change(self, change: UUID, day: date) -> None:
        """The day before deployment, once QA has signed off: the CAB approves."""
        self.change_views.group.catch_up()
        with acting_as("cab.carl", at=self.at(day, 15)):
            self.changes.approve(self.principal("cab.carl"), change, None)
        self.reactions.catch_up()  # release: approved for deployment

    def withdraw_release_change(self, change: UUID, day: date, reason: str) -> None:
        with acting_as("rm", at=self.at(day, 11.5)):
            self.changes.withdraw(self.principal("rm"), change, reason)

    def deploy_release(self, change: UUID, day: date) -> None:
        """Inside the window; release hears the outcome, intake delivers what shipped."""
        self._implement(change, day, Outcome.SUCCEEDED, 20.5)
        # The pipeline deployed during the implementation (20:30 to 21:30) and reports it
        # afterwards, saying when it deployed: a deployment after the change completed
        # would not be covered by it.
        deployed = self.at(day, 21.0)
        with acting_as("pipeline", at=self.at(day, 21.6)):
            self.reports.report("jenkins", "Billing", f"release-{day:%Y.%m}", deployed, str(change))

    # -- operations -----------------------------------------------------------------------

    def operations_week(self, day: date) -> None:
        """A normal change most weeks, now and then an emergency; some go wrong."""
        subsystem = [self.rng.choice(self.catalogue)]
        if self.rng.random() < NORMAL_CHANGES_A_WEEK:
            self.normal_change(day, subsystem)
        emergencies = (
            EMERGENCIES_A_WEEK_DISCIPLINED if self.disciplined else EMERGENCIES_A_WEEK_AS_FOUND
        )
        if self.rng.random() < emergencies:  # unplanned work
            self.emergency_change(day + timedelta(days=1), subsystem)

    def normal_change(self, day: date, subsystems: list[str]) -> None:
        """Raised now for a window two weeks on, approved at the CAB's meeting the day
        before it, implemented in the window (each when the simulation gets there)."""
        self.change_views.group.catch_up()
        ops = self.principal("ops.olga")
        window = day + timedelta(days=CHANGE_WINDOW_DAYS_AHEAD)
        meeting = window - timedelta(days=self.hours.randint(*CAB_MEETS_DAYS_BEFORE_WINDOW))
        raised, approved = (self.hours.uniform(*RAISED_BETWEEN_HOURS),
                            self.hours.uniform(*CAB_MEETS_BETWEEN_HOURS))  # fmt: skip
        with acting_as("ops.olga", at=self.at(day, raised)):
            ref = self.changes.raise_change(
                ops,
                ChangeType.NORMAL,
                self._draft("Patch the servers", subsystems, self.at(window, 21)),
            )
        change = UUID(ref.id)
        outcome = Outcome.FAILED if self.rng.random() < OPS_FAILS else Outcome.SUCCEEDED

        def approve() -> None:
            self.change_views.group.catch_up()
            with acting_as("cab.carl", at=self.at(meeting, approved)):
                self.changes.approve(self.principal("cab.carl"), change, None)

        def implement() -> None:
            self._implement(change, window, outcome, 21.2)
            self._review_if_needed(change, window, outcome)
            if outcome != Outcome.SUCCEEDED:
                # Backed out, the servers still lack the patch: operations put it right
                # under an emergency change in the small hours (service restored).
                after = window + timedelta(days=1)
                self.later(after, lambda: self.emergency_change(after, subsystems, FIX_TITLE))

        self.later(meeting, approve)
        self.later(window, implement)

    def emergency_change(
        self, day: date, subsystems: list[str], title: str = "Fix the outage"
    ) -> None:
        self.change_views.group.catch_up()
        ops = self.principal("ops.olga")
        start = self.hours.uniform(*FIXED_FROM_HOUR)
        with acting_as("ops.olga", at=self.at(day, start)):
            ref = self.changes.raise_change(
                ops, ChangeType.EMERGENCY, self._draft(title, subsystems, self.at(day, start))
            )
        change = UUID(ref.id)
        with acting_as("cab.carl", at=self.at(day, start + 0.5)):
            self.changes.approve(self.principal("cab.carl"), change, None)
        self._implement(change, day, Outcome.SUCCEEDED, start + 1)
        with acting_as("cab.dora", at=self.at(day, 10)):
            self.changes.approve(self.principal("cab.dora"), change, None)  # in retrospect
        with acting_as("cab.carl", at=self.at(day, 11)):
            self.changes.review(self.principal("cab.carl"), change, "outage fixed", "none")

    def deployed_without_change(self, subsystem: str, day: date, version: str) -> None:
        """Year one: a programmer deploys (or rolls back) on their own; the pipeline still
        reports it."""
        deployed = self.at(day, 19.5)
        with acting_as("pipeline", at=deployed):
            self.reports.report("laptop", subsystem, version, deployed, None)
