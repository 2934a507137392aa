"""Intake use cases: each loads a request, makes one decision, saves it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from services.intake.domain import (
    Category,
    ChangeRequest,
    ClassOfService,
    DepartmentRanking,
    SizeEstimate,
    Status,
    ranking_id,
)
from services.intake.views import IntakeViews
from shared.application import Outcome, UseCases
from shared.contracts import REQUEST_REFERENCES
from shared.domain import InvalidCommand, NotFound, NotPermitted, require_version
from shared.identity.domain import IT_ROLES, Principal, Role
from shared.identity.views import Directory
from shared.store.log import EventLog

COMMENTERS = (Role.REQUESTER, *IT_ROLES)
YEARS_AHEAD_AT_MOST = 5
"""How far ahead a desired or deferral date may lie: 9999-12-31 is a slip of the year, not
a plan (and no forecast or report reaches it; decision 119)."""
"""IT comments on any request; a requester on their own department's."""


@dataclass(frozen=True)
class RequestDraft:
    """What a requester fills in."""

    title: str
    description: str
    justification: str
    sponsor: str
    category: Category
    subsystems: Sequence[str]
    size_estimate: SizeEstimate
    desired_date: date | None = None


@dataclass(frozen=True)
class RequestRef:
    id: str
    version: int
    status: str


@dataclass(frozen=True)
class Submitted(RequestRef):
    possible_duplicates: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RankingRef:
    department: str
    request_ids: list[str]
    version: int


class Intake(UseCases):
    """The front door: submission, triage, ranking and rating of change requests."""

    def __init__(self, log: EventLog, views: IntakeViews, directory: Directory) -> None:
        super().__init__(log)
        self.views = views
        self.directory = directory
        self.catalogue = log.settings.subsystems

    # -- requester ------------------------------------------------------------------

    def submit(
        self, caller: Principal, draft: RequestDraft, department: str | None = None
    ) -> Submitted:
        """Requesters submit for their own department; IT submits for a named one."""
        dept = self._department_for(caller, department)
        self._within_reach(draft.desired_date, "desired_date", "the desired date")
        duplicates = self.views.similar(draft.title)

        def command() -> Outcome[Submitted]:
            request = ChangeRequest.submit(
                title=draft.title,
                description=draft.description,
                justification=draft.justification,
                department=dept,
                sponsor=draft.sponsor,
                category=draft.category,
                subsystems=draft.subsystems,
                size_estimate=draft.size_estimate,
                desired_date=draft.desired_date,
                requester=caller.username,
                catalogue=self.catalogue,
            )
            return Outcome(
                [request],
                Submitted(str(request.id), request.version, request.status.value, duplicates),
            )

        return self.run(command)

    def edit(
        self,
        caller: Principal,
        request_id: UUID,
        draft: RequestDraft,
        expected_version: int | None = None,
    ) -> RequestRef:
        """The whole draft replaces what was submitted; with `expected_version`, only if
        nobody changed the request since it was read at that version."""

        def decide(request: ChangeRequest) -> None:
            require_version("request", request.version, expected_version)
            request.edit(
                title=draft.title,
                description=draft.description,
                justification=draft.justification,
                sponsor=draft.sponsor,
                category=draft.category,
                subsystems=draft.subsystems,
                size_estimate=draft.size_estimate,
                desired_date=draft.desired_date,
                department=self._own_department(caller),
                catalogue=self.catalogue,
            )

        return self._change(request_id, decide)

    def withdraw(self, caller: Principal, request_id: UUID, reason: str) -> RequestRef:
        department = None if caller.has(Role.RELEASE_MANAGER) else self._own_department(caller)
        return self._change(request_id, lambda r: r.withdraw(reason, department))

    def provide_information(self, caller: Principal, request_id: UUID, answer: str) -> RequestRef:
        return self._change(
            request_id, lambda r: r.provide_information(answer, self._own_department(caller))
        )

    def comment(self, caller: Principal, request_id: UUID, text: str) -> RequestRef:
        """IT (the release manager, IT staff, the CAB) comments on any request; a
        requester on their own department's."""
        department = None if caller.has(*IT_ROLES) else self._own_department(caller)
        return self._change(request_id, lambda r: r.comment(text, department))

    def rate(
        self,
        caller: Principal,
        request_id: UUID,
        score: int,
        comment: str,
        *,
        read_at: int | None = None,
        expected_version: int | None = None,
    ) -> RequestRef:
        """`read_at`: the version the rater was shown (a page's form): refused only if it
        was rated since. `expected_version` (an API's If-Match): refused if anything
        changed since."""

        def decide(request: ChangeRequest) -> None:
            require_version("request", request.version, expected_version)
            request.rate(score, comment, self._own_department(caller), read_at)

        return self._change(request_id, decide)

    def rank(self, caller: Principal, department: str, order: Sequence[str]) -> RankingRef:
        """A requester orders their own department's accepted, undelivered requests: the
        ones named (by id or as REQ-12) go first, in that order, and the others keep their
        place after them, as the department's ranking shows them."""
        if self._own_department(caller).casefold() != department.casefold():
            raise NotPermitted(
                "own_department_only", f"only {department}'s requesters may rank its requests"
            )
        named = [self.request_id_of(r) for r in order]

        def command() -> Outcome[RankingRef]:
            departments: dict[str, str] = {}
            statuses: dict[str, str] = {}
            for request_id in named:
                request = self._request(_parse_id(request_id))
                departments[request_id] = request.department
                statuses[request_id] = request.status.value
            given = set(named)
            full = list(named)
            for rest in self.views.ranking(department).request_ids if named else ():
                request = self._request(_parse_id(rest))
                # One delivered or taken back since the view was read just leaves the order.
                if rest not in given and request.status is Status.ACCEPTED:
                    full.append(rest)
                    departments[rest] = request.department
                    statuses[rest] = request.status.value
            rid = ranking_id(department)
            if self.log.exists(rid):
                ranking = self.log.get(rid, DepartmentRanking)
            else:
                ranking = DepartmentRanking(department=department)
            ranking.rank(full, departments, statuses)
            return Outcome(
                [ranking], RankingRef(ranking.department, list(ranking.order), ranking.version)
            )

        return self.run(command)

    # -- release manager: triage ----------------------------------------------------

    def accept(
        self,
        request_id: UUID,
        owner: str,
        size_points: int,
        class_of_service: ClassOfService,
        fixed_date: date | None,
    ) -> RequestRef:
        self._require_it_staff(owner)
        self._within_reach(fixed_date, "fixed_date", "a fixed date")
        return self._change(
            request_id,
            lambda r: r.accept(
                owner=owner,
                size_points=size_points,
                class_of_service=class_of_service,
                fixed_date=fixed_date,
            ),
        )

    def reject(self, request_id: UUID, reason: str) -> RequestRef:
        return self._change(request_id, lambda r: r.reject(reason))

    def defer(self, request_id: UUID, reason: str, until: date | None) -> RequestRef:
        self._within_reach(until, "until", "a deferral's date")
        return self._change(request_id, lambda r: r.defer(reason, until))

    def _within_reach(self, day: date | None, field: str, what: str) -> None:
        """A date that is already behind the business day the command acts on is refused
        (a typo of the year, a date picker left on a past month), and so is one more than
        YEARS_AHEAD_AT_MOST years ahead."""
        if day is None:
            return
        today = self.views.today()
        if day < today:
            raise InvalidCommand(
                f"{field}_in_past",
                f"{what} {day.isoformat()} is before today ({today.isoformat()}):"
                " give today or a later date",
                field=field,
            )
        latest = today + timedelta(days=365 * YEARS_AHEAD_AT_MOST + 1)
        if day > latest:
            raise InvalidCommand(
                f"{field}_too_far",
                f"{what} {day.isoformat()} is more than {YEARS_AHEAD_AT_MOST} years away"
                f" (after {latest.isoformat()}): check the year",
                field=field,
            )

    def request_information(self, request_id: UUID, question: str) -> RequestRef:
        return self._change(request_id, lambda r: r.request_information(question))

    def mark_duplicate(self, request_id: UUID, original_id: UUID, note: str) -> RequestRef:
        original = self._request(original_id)
        return self._change(request_id, lambda r: r.mark_duplicate(original, note))

    def assign_owner(self, request_id: UUID, owner: str) -> RequestRef:
        self._require_it_staff(owner)
        return self._change(request_id, lambda r: r.assign_owner(owner))

    def replan(
        self,
        request_id: UUID,
        size_points: int,
        class_of_service: ClassOfService,
        fixed_date: date | None,
    ) -> RequestRef:

        def decide(r: ChangeRequest) -> None:
            # Only a new fixed date is checked: one already agreed may have passed.
            if fixed_date is not None and fixed_date.isoformat() != r.fixed_date:
                self._within_reach(fixed_date, "fixed_date", "a fixed date")
            r.replan(
                size_points=size_points, class_of_service=class_of_service, fixed_date=fixed_date
            )

        return self._change(request_id, decide)

    # -- reactions ------------------------------------------------------------------

    def deliver(self, request_id: UUID, bundle_id: str | None, change_id: str | None) -> RequestRef:
        return self._change(
            request_id, lambda r: r.deliver(bundle_id=bundle_id, change_id=change_id)
        )

    def deliver_shipped(
        self, request_ids: Sequence[str], bundle_id: str, change_id: str | None
    ) -> list[RequestRef]:
        """A deployed bundle's requests are delivered together, in one save: a crash
        leaves all of them delivered or none. Requests already delivered, or no longer
        accepted (withdrawn while in the bundle), are left as they are."""

        def command() -> Outcome[list[RequestRef]]:
            delivered = []
            for request_id in dict.fromkeys(request_ids):
                try:
                    request = self._request(_parse_id(request_id))
                except NotFound:
                    continue  # not a request intake knows: nothing to deliver
                if request.status != Status.ACCEPTED:
                    continue
                request.deliver(bundle_id=bundle_id, change_id=change_id)
                delivered.append(request)
            refs = [RequestRef(str(r.id), r.version, r.status.value) for r in delivered]
            return Outcome(delivered, refs)

        return self.run(command)

    # -- helpers --------------------------------------------------------------------

    def _change(self, request_id: UUID, decide: Callable[[ChangeRequest], object]) -> RequestRef:
        def command() -> Outcome[RequestRef]:
            request = self._request(request_id)
            decide(request)
            return Outcome(
                [request], RequestRef(str(request.id), request.version, request.status.value)
            )

        return self.run(command)

    def request_id_of(self, reference: str) -> str:
        """The id of the request `reference` names: its id, or REQ-12 as people name it
        (an unknown number is 404 naming it; any other text is taken as an id)."""
        number = REQUEST_REFERENCES.number(reference)
        if number is None:
            return reference
        found = self.views.with_number(number)
        if found is None:
            raise NotFound("change_request_not_found", f"no change request {reference.strip()}")
        return found

    def request_named(self, reference: str) -> UUID:
        """The id of the request named by its id or as REQ-12 (404 for neither)."""
        return _parse_id(self.request_id_of(reference))

    def _request(self, request_id: UUID) -> ChangeRequest:
        return self.log.get(request_id, ChangeRequest, "change request")

    def _department_for(self, caller: Principal, department: str | None) -> str:
        if caller.has(Role.REQUESTER) and caller.department:
            if department and department.casefold() != caller.department.casefold():
                raise NotPermitted(
                    "own_department_only", f"you submit for {caller.department}, not {department}"
                )
            return caller.department
        if department:
            return department
        raise InvalidCommand("department_required", "name the department this request is for")

    @staticmethod
    def _own_department(caller: Principal) -> str:
        if not caller.department:
            raise NotPermitted("requester_only", "only a requester of a department may do this")
        return caller.department

    def _require_it_staff(self, owner: str) -> None:
        principal = self.directory.principal(owner)
        if principal is None or not principal.has(Role.IT_STAFF):
            raise InvalidCommand(
                "owner_not_it_staff",
                f"the owner must be an active IT staff member; {owner!r} is not",
            )


def _parse_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound("change_request_not_found", f"no change request with id {value!r}") from None
