"""The demo organisation's shape: its people, its work items, and every parameter of its
behaviour, each with the case study's reason for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from services.intake.domain import Category, SizeEstimate

DEPARTMENTS = ("Sales", "Customer Care", "Marketing", "Finance", "Network Services", "Billing Ops")
DEVELOPERS = tuple(f"dev.{n}" for n in ("ana", "ben", "chen", "dara", "eli", "femi", "gus", "hana"))
CATEGORIES = (
    (Category.BUSINESS_PROJECT, 0.3), (Category.IT_PROJECT, 0.15),
    (Category.CHANGE_MAINTENANCE, 0.4), (Category.UNPLANNED, 0.15),
)  # fmt: skip
SIZES = ((SizeEstimate.XS, 1), (SizeEstimate.S, 2), (SizeEstimate.M, 5), (SizeEstimate.L, 8),
         (SizeEstimate.XL, 13))  # fmt: skip
SIZE_WEIGHTS = (2, 4, 5, 3, 1)  # how often each size is asked for: mostly S and M
DESIRED_IN_DAYS = (45, 150)  # a VP asks for a date six weeks to five months away

# -- the organisation as the case study found it ----------------------------------------
# Requests arrive faster than IT finishes them, with nobody counting: the two years start
# once about 325 are "in play".
ARRIVALS_PER_WEEK = 6.5
TEAM_POINTS_PER_WEEK = 64.0  # the team's week, had it one thing to do at a time
IN_PLAY_AT_START = 325
# Year one: business managers make private deals with programmers, who accept and start
# whatever is pushed on them: about 52 requests at once, six or seven each.
JUGGLED = 52
SWITCHING = 17  # items in flight that halve what the team gets done (context switching)

# -- where delivered work is lost, and what the process wins back ------------------------
# The same people make the same mistakes in both years; the process changes where a
# mistake is found and whether a requester knows when their work will come.
DEFECTIVE = 0.25  # share of finished work with a defect, in either year
# Year one: a programmer deploys untested work on their own; a defect breaks production,
# the hotfix is rolled back, and this share of the request's points is done again
# (finding the fault in production, the outage, the redo).
REWORK_AFTER_FAILED_HOTFIX = 0.5
# Year two: QA finds the defect before the bundle ships; the fix is this much smaller.
REWORK_AFTER_QA = 0.15
DEFECT = "A defect found in testing: back to development"  # what QA says of a failure
# Chance a week that a VP gives up on a request already accepted and withdraws it: the
# points spent on it are lost. Year one: nobody can say when it will come, and the
# department's priorities move on without it.
ABANDONED_A_WEEK_UNPLANNED = 0.006
# Year two: the department ranks its own accepted work on a published plan; a VP reorders
# rather than drops (and work scheduled into a bundle is not dropped at all).
ABANDONED_A_WEEK_PLANNED = 0.002

# -- the disciplined year ------------------------------------------------------------------
# The clearinghouse accepts what the next five weeks or so of measured capacity can take
# (the next bundle and a little more: work starts only when its bundle does, and a request
# waits deferred, not half-started), and rejects what is not worth the capacity it would
# take, judging each request once; in the first review, stale requests more often.
ACCEPTED_AHEAD_MONTHS = 1.25
REJECTED_AT_TRIAGE = 0.12
REJECTED_WHEN_STALE = 0.5
STALE_DAYS = 180
# The process itself takes part of the same team's week (triage, planning, QA sign-off,
# the CAB): the case study added no headcount.
PROCESS_OVERHEAD = 0.1
VELOCITY_WEEKS = 8  # capacity is measured over the last eight weeks' work
PLAN_DAYS_BEFORE_FREEZE = 7  # a bundle's scope is planned a week before its freeze

# -- operations, in both years ---------------------------------------------------------------
NORMAL_CHANGES_A_WEEK = 0.8  # chance of an operations change through the CAB in a week
# An operations change is raised on a Wednesday for a window two weeks on (the change's lead
# time); the CAB, meeting weekly, approves at its meeting the changes of the week ahead.
# So on most days a change or two await the CAB.
CHANGE_WINDOW_DAYS_AHEAD = 14
CAB_MEETS_DAYS_BEFORE_WINDOW = (1, 7)  # its weekly meeting falls on any day of the week before
RAISED_BETWEEN_HOURS = (9.0, 17.0)  # an operations change is raised in office hours
CAB_MEETS_BETWEEN_HOURS = (9.0, 12.5)
FIXED_FROM_HOUR = (2.0, 6.0)  # an emergency fix starts in the small hours (after 02:00, when
# a release window past midnight has ended)
# Unplanned work: an outage needing an emergency change, in a week. Year one's untested
# deployments cause more of them.
EMERGENCIES_A_WEEK_AS_FOUND = 0.4
EMERGENCIES_A_WEEK_DISCIPLINED = 0.15
OPS_FAILS = 0.12  # how often an operations change goes wrong

# -- how requesters rate what they got -------------------------------------------------------
CHASED_A_WEEK_UNPLANNED = 0.03  # chance a VP chases overdue work in a week, with no plan
CHASED_A_WEEK_PLANNED = 0.006  # ... and with a release plan that shows its date
RATED = 0.75  # share of delivered requests their VP rates, 2 to 20 days later
# A rating starts at 5 and loses this much a month late (against the promised date when
# there was one, else the date asked for), at most MOST_OFF_FOR_LATENESS; a point more
# when nobody promised a date or the promise was missed (the case study: no one could say
# when a request would come).
OFF_A_MONTH_LATE = 0.35
MOST_OFF_FOR_LATENESS = 2.0
OFF_WITHOUT_A_KEPT_PROMISE = 1
RATING_SPREAD = 0.6  # standard deviation of a VP's mood


def efficiency(active: float) -> float:
    """Share of the team's capacity left after switching between `active` items."""
    return 1 / (1 + active / SWITCHING)


@dataclass
class Work:
    id: UUID
    number: int  # order of submission: ties are broken by it, never by the random id
    department: str
    points: int
    submitted: date
    desired: date
    accepted: date | None = None
    done: float = 0.0
    started: bool = False
    promised: date | None = None
    missed_promise: bool = False
    deferred: bool = False
    bundle: UUID | None = None  # year two: the release bundle it is scheduled into
    stage: str | None = None  # how far release has been told it is
    submitted_at: datetime | None = None  # the instant: a triage that day comes after it


TOPICS = (
    "bill shock alerts", "self-service SIM swap", "dunning letters", "agent desktop search",
    "port-in tracking", "loyalty offers", "usage reports", "fraud flags", "direct debit retry",
    "outage notices", "roaming caps", "call-back scheduling", "tariff migration",
    "address validation", "invoice redesign", "churn dashboard",
)  # fmt: skip


@dataclass
class Organisation:
    """The simulated state: what is waiting, in progress, and promised."""

    waiting: dict[UUID, Work] = field(default_factory=dict)  # submitted or deferred
    accepted: dict[UUID, Work] = field(default_factory=dict)  # accepted, not delivered
    points_done: list[float] = field(default_factory=list)  # work done, week by week
    submitted: int = 0  # requests submitted so far
    pending_ratings: list[tuple[date, Work, date]] = field(default_factory=list)

    @property
    def in_play(self) -> int:
        return len(self.waiting) + len(self.accepted)
