"""The suggested plan: fill upcoming bundles from the accepted backlog, fairly.

Order of service: expedite requests first (oldest acceptance first), then fixed-date
requests by their date, then every department's own ranking interleaved round robin:
each round takes the next request of each department, and the department that goes
first rotates from round to round so no department is always served first.

Each request goes into the earliest bundle that still has room for it, in total and in
every subsystem it touches (its whole size counts against each). A fixed-date request
only goes into a bundle deploying on or before its date. Within a department a request
never lands in an earlier bundle than one its department ranked above it, so a small,
low-ranked request does not overtake the department's own priorities.

Pure computation: the release manager reviews the answer and applies what they choose
as ordinary scheduling.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

EXPEDITE = "expedite"
FIXED_DATE = "fixed_date"


@dataclass(frozen=True)
class Candidate:
    """An accepted request that is not scheduled yet."""

    request_id: str
    department: str
    department_rank: int
    class_of_service: str
    size_points: int
    subsystems: tuple[str, ...] = ()
    fixed_date: date | None = None
    accepted_at: str = ""


@dataclass
class OpenBundle:
    """An upcoming bundle whose scope is still open, with what it already holds."""

    bundle_id: str
    name: str
    deploy_date: date
    capacity_points: int
    subsystem_capacity: dict[str, int] = field(default_factory=dict)
    load: int = 0
    subsystem_load: dict[str, int] = field(default_factory=dict)

    def fits(self, candidate: Candidate) -> bool:
        if self.load + candidate.size_points > self.capacity_points:
            return False
        return all(
            self.subsystem_load.get(s, 0) + candidate.size_points <= capacity
            for s, capacity in self.subsystem_capacity.items()
            if s in candidate.subsystems
        )

    def take(self, candidate: Candidate) -> None:
        self.load += candidate.size_points
        for subsystem in candidate.subsystems:
            if subsystem in self.subsystem_capacity:
                self.subsystem_load[subsystem] = (
                    self.subsystem_load.get(subsystem, 0) + candidate.size_points
                )


@dataclass(frozen=True)
class Proposal:
    request_id: str
    bundle_id: str
    bundle_name: str
    deploy_date: str
    why: str


@dataclass(frozen=True)
class Unplaced:
    request_id: str
    why: str


@dataclass(frozen=True)
class Suggestion:
    proposals: list[Proposal]
    unplaced: list[Unplaced]


def order_of_service(candidates: Sequence[Candidate]) -> Iterator[tuple[Candidate, str]]:
    """Every candidate once, in the order the plan serves them, with why."""
    expedite = sorted(
        (c for c in candidates if c.class_of_service == EXPEDITE),
        key=lambda c: (c.accepted_at, c.request_id),
    )
    for candidate in expedite:
        yield candidate, "expedite"
    fixed = sorted(
        (c for c in candidates if c.class_of_service == FIXED_DATE),
        key=lambda c: (c.fixed_date or date.max, c.accepted_at, c.request_id),
    )
    for candidate in fixed:
        yield candidate, f"fixed date {candidate.fixed_date}"
    queues: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        if candidate.class_of_service not in (EXPEDITE, FIXED_DATE):
            queues.setdefault(candidate.department, []).append(candidate)
    for queue in queues.values():
        queue.sort(key=lambda c: (c.department_rank, c.accepted_at, c.request_id))
    departments = sorted(queues, key=str.casefold)
    rounds = max((len(q) for q in queues.values()), default=0)
    for round_number in range(rounds):
        shift = round_number % len(departments)
        for department in departments[shift:] + departments[:shift]:
            queue = queues[department]
            if round_number < len(queue):
                candidate = queue[round_number]
                yield (
                    candidate,
                    (f"{department} rank {candidate.department_rank}, round {round_number + 1}"),
                )


def suggest(candidates: Sequence[Candidate], bundles: Sequence[OpenBundle]) -> Suggestion:
    """Place each candidate, in order of service, into the earliest bundle with room."""
    ordered = sorted(bundles, key=lambda b: (b.deploy_date, b.bundle_id))
    floor: dict[str, int] = {}  # department -> earliest bundle index its next request may use
    proposals: list[Proposal] = []
    unplaced: list[Unplaced] = []
    for candidate, why in order_of_service(candidates):
        ranked = candidate.class_of_service not in (EXPEDITE, FIXED_DATE)
        start = floor.get(candidate.department, 0) if ranked else 0
        chosen: int | None = None
        for index in range(start, len(ordered)):
            bundle = ordered[index]
            if candidate.fixed_date is not None and bundle.deploy_date > candidate.fixed_date:
                break
            if bundle.fits(candidate):
                chosen = index
                break
        if chosen is None:
            unplaced.append(Unplaced(candidate.request_id, _why_not(candidate, ordered)))
            continue
        bundle = ordered[chosen]
        bundle.take(candidate)
        if ranked:
            floor[candidate.department] = chosen
        proposals.append(
            Proposal(
                candidate.request_id,
                bundle.bundle_id,
                bundle.name,
                bundle.deploy_date.isoformat(),
                why,
            )
        )
    return Suggestion(proposals, unplaced)


def _why_not(candidate: Candidate, bundles: Sequence[OpenBundle]) -> str:
    if not bundles:
        return "no upcoming bundle is open for planning"
    if candidate.fixed_date is None:
        return f"no open bundle has room for {_points(candidate, bundles)}"
    if all(b.deploy_date > candidate.fixed_date for b in bundles):
        return f"no open bundle deploys by its fixed date {candidate.fixed_date}"
    by_then = [b for b in bundles if b.deploy_date <= candidate.fixed_date]
    return (
        f"no open bundle deploying by its fixed date {candidate.fixed_date} has room"
        f" for {_points(candidate, by_then)}"
    )


def _points(candidate: Candidate, bundles: Sequence[OpenBundle]) -> str:
    """'13 more points', naming the subsystems whose capacity is what is full where a
    bundle has room in total: '13 more points of Billing capacity'."""
    size = candidate.size_points
    full = sorted(
        {
            s
            for b in bundles
            if b.load + size <= b.capacity_points
            for s, capacity in b.subsystem_capacity.items()
            if s in candidate.subsystems and b.subsystem_load.get(s, 0) + size > capacity
        }
    )
    return f"{size} more points" + (f" of {' and '.join(full)} capacity" if full else "")
