"""What metrics remember of each request, bundle, production change and deployment.

These records are folded from the log (services/metrics/facts.py) by the service's
projections and by a consumer's replay alike; every metric is a pure function of them.
Instants are kept as sortable UTC strings (`calendar.to_utc`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, timedelta, tzinfo
from typing import Any, Self

from services.metrics.domain.calendar import local_date, start_of

# Where a request can be, in flow order. The first three wait for triage; the next five
# are committed work in progress; the last four are where a request ends.
TRIAGE_STAGES = ("submitted", "info_requested", "deferred")
WORK_STAGES = ("accepted", "scheduled", "in_development", "in_qa", "awaiting_deployment")
TERMINAL_STAGES = ("delivered", "rejected", "duplicate", "withdrawn")
OPEN_STAGES = TRIAGE_STAGES + WORK_STAGES
STAGES = OPEN_STAGES + TERMINAL_STAGES


@dataclass
class Record:
    """A plain record that round-trips through JSON (the views' rows, a replay's state)."""

    id: str

    def to_json(self) -> dict[str, Any]:
        # Shallow on purpose: every field is JSON already (asdict's deep copy is slow).
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        known = _FIELDS.get(cls)
        if known is None:
            known = _FIELDS[cls] = frozenset(f.name for f in fields(cls))
        if known.issuperset(data):
            return cls(**data)
        return cls(**{k: v for k, v in data.items() if k in known})


_FIELDS: dict[type[Record], frozenset[str]] = {}
"""Each record type's field names (dataclasses.fields builds them anew on every call)."""


@dataclass
class RequestRecord(Record):
    id: str
    title: str
    department: str
    category: str
    subsystems: list[str]
    submitted_at: str
    desired_date: str | None = None
    class_of_service: str | None = None
    size_points: int | None = None
    fixed_date: str | None = None
    stage: str = "submitted"
    triaged_at: str | None = None
    accepted_at: str | None = None
    delivered_at: str | None = None
    ended_at: str | None = None
    rating: int | None = None
    rated_at: str | None = None
    bundle_id: str | None = None
    transitions: list[list[str]] = field(default_factory=list)
    """[instant, stage] each time the request moved to another stage, in log order."""
    number: int | None = None
    """Its number as intake gives it: the n-th submission of the log."""
    reference: str = ""
    """The number as people write it (REQ-12), by the contract's prefix."""
    bundles: list[list[str | None]] = field(default_factory=list)
    """[instant, bundle id or None] each time the request entered or left a bundle, in
    log order: which bundle it was in on a past day (`bundle_on`)."""

    def brief(self) -> dict[str, Any]:
        """How a list names the request: its id, reference and title, and its department."""
        return {
            "id": self.id,
            "number": self.number,
            "reference": self.reference,
            "title": self.title,
            "department": self.department,
        }

    def move(self, stage: str, at: str) -> None:
        if stage == self.stage and self.transitions:
            return
        self.stage = stage
        self.transitions.append([at, stage])
        if stage in TERMINAL_STAGES:
            self.ended_at = self.ended_at or at

    @property
    def open(self) -> bool:
        return self.stage not in TERMINAL_STAGES

    def timeline(self, zone: tzinfo) -> list[tuple[date, str]]:
        """The stage at the end of each business day on which it changed."""
        out: list[tuple[date, str]] = []
        for at, stage in self.transitions:
            day = local_date(at, zone)
            if out and out[-1][0] == day:
                out[-1] = (day, stage)
            else:
                out.append((day, stage))
        return out

    def stage_on(self, day: date, zone: tzinfo) -> str | None:
        """The stage at the end of `day`, or None when not yet submitted."""
        current = None
        for changed, stage in self.timeline(zone):
            if changed > day:
                break
            current = stage
        return current

    def bundle_on(self, day: date, zone: tzinfo) -> str | None:
        """The bundle the request was in at the end of `day`, if any."""
        current = None
        for at, bundle_id in self.bundles:
            if at is None or local_date(at, zone) > day:
                break
            current = bundle_id
        return current

    def stage_spans(self, zone: tzinfo, until: date) -> dict[str, tuple[str, str | None]]:
        """Per stage: (first start, last finish) up to the end of `until`; the finish is
        None while the request is still in that stage. A request that re-enters a stage is
        measured from its first start to its last finish."""
        spans: dict[str, tuple[str, str | None]] = {}
        previous: str | None = None
        for at, stage in self.transitions:
            if local_date(at, zone) > until:
                break
            if previous is not None:
                first, _ = spans[previous]
                spans[previous] = (first, at)
            first_start = spans[stage][0] if stage in spans else at
            spans[stage] = (first_start, None)
            previous = stage
        return spans


@dataclass
class BundleRecord(Record):
    id: str
    name: str
    planned_at: str
    deploy_date: str | None = None
    window_start: str | None = None
    window_end: str | None = None
    planned_window_start: str | None = None
    planned_window_end: str | None = None
    frozen_at: str | None = None
    scope_at_freeze: int | None = None
    added_after_freeze: int = 0
    removed_after_freeze: int = 0
    deployed_at: str | None = None
    cancelled_at: str | None = None
    rolled_back_at: str | None = None
    change_id: str | None = None
    request_ids: list[str] = field(default_factory=list)
    scheduled: dict[str, str] = field(default_factory=dict)
    """request id -> when it was (last) scheduled into this bundle."""
    shipped: list[str] = field(default_factory=list)
    moves: list[dict[str, str | None]] = field(default_factory=list)
    """{at, from, to}: each time the deployment date was moved."""

    @property
    def ended_at(self) -> str | None:
        return self.deployed_at or self.cancelled_at

    def deploy_date_on(self, day: date, zone: tzinfo) -> str | None:
        """The date it was to deploy on as the end of `day` saw it (before later moves)."""
        for move in self.moves:
            at = move["at"]
            if at is not None and local_date(at, zone) > day:
                return move["from"]
        return self.deploy_date


@dataclass
class ChangeRecord(Record):
    id: str
    change_type: str
    title: str
    raised_at: str
    bundle_id: str | None = None
    subsystems: list[str] = field(default_factory=list)
    approved_at: str | None = None
    rejected_at: str | None = None
    completed_at: str | None = None
    outcome: str | None = None
    rolled_back_at: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "rolled_back") or self.rolled_back_at is not None

    @property
    def ended_at(self) -> str | None:
        return self.completed_at or self.rejected_at


@dataclass
class DeploymentRecord(Record):
    id: str
    at: str
    pipeline: str
    subsystem: str
    version: str
    unauthorised: bool
    change_id: str | None = None


@dataclass
class RankingRecord(Record):
    id: str
    department: str
    orders: list[list[Any]] = field(default_factory=list)
    """[instant, [request id, ...]] each time the department reordered its work, in log
    order: its order on a past day (`order_on`)."""

    def order_on(self, day: date, zone: tzinfo) -> list[str]:
        """The department's order at the end of `day` (empty before its first)."""
        current: list[str] = []
        for at, order in self.orders:
            if local_date(at, zone) > day:
                break
            current = order
        return current


@dataclass
class History:
    """Everything metrics knows, keyed by id. A query may hold only the records that
    touch the periods it asks about; the metrics computed are the same."""

    requests: dict[str, RequestRecord] = field(default_factory=dict)
    bundles: dict[str, BundleRecord] = field(default_factory=dict)
    changes: dict[str, ChangeRecord] = field(default_factory=dict)
    deployments: dict[str, DeploymentRecord] = field(default_factory=dict)
    rankings: dict[str, RankingRecord] = field(default_factory=dict)
    submitted: int | None = 0
    """How many submissions the fold has met since the log began (the last request's
    number); None where a view's batch has not needed to know (it has no submission)."""

    @property
    def empty(self) -> bool:
        """Nothing of it: no request, bundle, change or deployment (a period before the
        log began, say), where every figure is zero for want of anything to count."""
        return not (self.requests or self.bundles or self.changes or self.deployments)

    def departments(self) -> list[str]:
        """The departments its requests come from, alphabetically."""
        return sorted({r.department for r in self.requests.values()}, key=str.casefold)

    def names_department(self, department: str) -> bool:
        """Whether a request of it comes from `department` (in any case)."""
        return department.casefold() in {d.casefold() for d in self.departments()}

    def overlapping(self, first: date, last: date) -> History:
        """The requests whose lives may overlap `first` to `last` (a day's margin either
        side, for any time zone), with every other record: all that a question about
        those days reads, which it reads faster from this than from a longer history."""
        lo, hi = (first - timedelta(days=1)).isoformat(), (last + timedelta(days=2)).isoformat()
        requests = {
            rid: r
            for rid, r in self.requests.items()
            if r.submitted_at < hi and (r.ended_at is None or r.ended_at >= lo)
        }
        return replace(self, requests=requests)

    def lived(self, low: str, high: str) -> History:
        """What the metrics view reads for the instants `low` to `high` (`window`): the
        requests submitted before `high` that were open at `low` or ended or were rated
        since, the bundles and changes open at `low` or ended since, the deployment
        reports between, and every ranking (the view's query, in memory: a replay
        answers from the same records as the service)."""
        return History(
            requests={
                i: r for i, r in self.requests.items()
                if r.submitted_at < high and (
                    r.ended_at is None or r.ended_at >= low
                    or (r.rated_at is not None and r.rated_at >= low)
                )
            },
            bundles={i: b for i, b in self.bundles.items() if _alive(b.ended_at, low)},
            changes={i: c for i, c in self.changes.items() if _alive(c.ended_at, low)},
            deployments={i: d for i, d in self.deployments.items() if low <= d.at < high},
            rankings=self.rankings,
            submitted=self.submitted,
        )  # fmt: skip

    def ranking_of(self, department: str, day: date, zone: tzinfo) -> list[str]:
        """The department's ranking of its work at the end of `day`."""
        for ranking in self.rankings.values():
            if ranking.department.casefold() == department.casefold():
                return ranking.order_on(day, zone)
        return []


def window(first: date, last: date, zone: tzinfo) -> tuple[str, str]:
    """The instants (UTC, as records keep them) a question about the business days
    `first` to `last` reads records between: a day's margin either side (the metrics
    themselves select exactly by business day)."""
    return start_of(first - timedelta(days=1), zone), start_of(last + timedelta(days=2), zone)


def _alive(ended_at: str | None, low: str) -> bool:
    return ended_at is None or ended_at >= low


@dataclass(frozen=True)
class Filter:
    """Which requests a metric counts; empty fields match everything."""

    department: str | None = None
    category: str | None = None
    subsystem: str | None = None
    class_of_service: str | None = None

    def matches(self, r: RequestRecord) -> bool:
        if self.department and r.department.casefold() != self.department.casefold():
            return False
        if self.category and r.category != self.category:
            return False
        if self.subsystem and self.subsystem.casefold() not in {s.casefold() for s in r.subsystems}:
            return False
        return not (self.class_of_service and r.class_of_service != self.class_of_service)

    def touches(self, subsystems: list[str]) -> bool:
        """Production changes are filtered by subsystem only."""
        if not self.subsystem:
            return True
        return self.subsystem.casefold() in {s.casefold() for s in subsystems}

    @property
    def empty(self) -> bool:
        return not (self.department or self.category or self.subsystem or self.class_of_service)

    def to_json(self) -> dict[str, str | None]:
        return asdict(self)
