"""Change requests from submission through triage to delivery and rating, and each
department's own ranking of its accepted work.

Every rule lives in a public command method; the `@event` methods below each only
assign state, because they run again whenever history is replayed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from shared.domain import (
    AuditedAggregate,
    InvalidCommand,
    NotPermitted,
    RuleViolation,
    name_based_id,
)


class Category(StrEnum):
    """The four categories of work; unplanned work is what kills throughput."""

    BUSINESS_PROJECT = "business_project"
    IT_PROJECT = "it_project"
    CHANGE_MAINTENANCE = "change_maintenance"
    UNPLANNED = "unplanned"


class SizeEstimate(StrEnum):
    """The requester's rough guess; triage replaces it with size points."""

    XS = "XS"
    S = "S"
    M = "M"
    L = "L"
    XL = "XL"


class ClassOfService(StrEnum):
    STANDARD = "standard"
    EXPEDITE = "expedite"
    FIXED_DATE = "fixed_date"


class Status(StrEnum):
    SUBMITTED = "submitted"
    INFO_REQUESTED = "info_requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DEFERRED = "deferred"
    DUPLICATE = "duplicate"
    WITHDRAWN = "withdrawn"
    DELIVERED = "delivered"


# Where the release manager may decide: fresh submissions and earlier deferrals.
TRIAGEABLE = frozenset({Status.SUBMITTED, Status.DEFERRED})
EDITABLE = frozenset({Status.SUBMITTED, Status.INFO_REQUESTED})
CLOSED = frozenset({Status.REJECTED, Status.DUPLICATE, Status.WITHDRAWN, Status.DELIVERED})
MAX_SIZE_POINTS = 1_000
MAX_COMMENT = 5_000
MAX_TITLE = 200


def _text(value: str, field: str, limit: int, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidCommand(f"{field}_required", f"{field.replace('_', ' ')} is required")
    if len(value) > limit:
        raise InvalidCommand(
            f"{field}_too_long", f"{field.replace('_', ' ')} is longer than {limit} characters"
        )
    return value


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _subsystems(values: Sequence[str], catalogue: Sequence[str]) -> list[str]:
    known = {name.casefold(): name for name in catalogue}
    chosen: list[str] = []
    for value in values:
        name = known.get(value.strip().casefold())
        if name is None:
            raise InvalidCommand(
                "unknown_subsystem",
                f"{value!r} is not in the subsystem catalogue",
                catalogue=list(catalogue),
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InvalidCommand("subsystem_required", "name at least one affected subsystem")
    return chosen


def _rating_said(score: int | None, comment: str) -> str:
    """2/5, with what was said: "2/5 (“too slow”)"."""
    return f"{score}/5" + (f" (“{comment}”)" if comment else "")


class ChangeRequest(AuditedAggregate):
    """A department's request for IT work, from the front door to a rating."""

    @classmethod
    def submit(
        cls,
        *,
        title: str,
        description: str,
        justification: str,
        department: str,
        sponsor: str,
        category: Category,
        subsystems: Sequence[str],
        size_estimate: SizeEstimate,
        desired_date: date | None,
        requester: str,
        catalogue: Sequence[str],
    ) -> ChangeRequest:
        return cls(
            title=_text(title, "title", MAX_TITLE),
            description=_text(description, "description", 10_000),
            justification=_text(justification, "justification", 5_000),
            department=_text(department, "department", 100),
            sponsor=_text(sponsor, "sponsor", 200),
            category=Category(category).value,
            subsystems=_subsystems(subsystems, catalogue),
            size_estimate=SizeEstimate(size_estimate).value,
            desired_date=_iso_date(desired_date),
            requester=requester,
        )

    @event("Submitted")
    def __init__(
        self,
        title: str,
        description: str,
        justification: str,
        department: str,
        sponsor: str,
        category: str,
        subsystems: list[str],
        size_estimate: str,
        desired_date: str | None,
        requester: str,
    ) -> None:
        self.title = title
        self.description = description
        self.justification = justification
        self.department = department
        self.sponsor = sponsor
        self.category = category
        self.subsystems = subsystems
        self.size_estimate = size_estimate
        self.desired_date = desired_date
        self.requester = requester
        self.status = Status.SUBMITTED
        self.owner: str | None = None
        self.size_points: int | None = None
        self.class_of_service: str | None = None
        self.fixed_date: str | None = None
        self.duplicate_of: str | None = None
        self.rating: int | None = None
        self.rating_comment = ""
        self.rated_in_version: int | None = None

    # -- the requester's side -------------------------------------------------------

    def edit(
        self,
        *,
        title: str,
        description: str,
        justification: str,
        sponsor: str,
        category: Category,
        subsystems: Sequence[str],
        size_estimate: SizeEstimate,
        desired_date: date | None,
        department: str,
        catalogue: Sequence[str],
    ) -> None:
        """Requesters of the department may edit until the request is triaged."""
        self._require_department(department, "edit")
        if self.status not in EDITABLE:
            raise RuleViolation(
                "edit_after_triage",
                f"a request can be edited only until triage; it is {self.status}",
                state=self.status.value,
            )
        self._edited(
            title=_text(title, "title", MAX_TITLE),
            description=_text(description, "description", 10_000),
            justification=_text(justification, "justification", 5_000),
            sponsor=_text(sponsor, "sponsor", 200),
            category=Category(category).value,
            subsystems=_subsystems(subsystems, catalogue),
            size_estimate=SizeEstimate(size_estimate).value,
            desired_date=_iso_date(desired_date),
        )

    @event("Edited")
    def _edited(
        self,
        title: str,
        description: str,
        justification: str,
        sponsor: str,
        category: str,
        subsystems: list[str],
        size_estimate: str,
        desired_date: str | None,
    ) -> None:
        self.title = title
        self.description = description
        self.justification = justification
        self.sponsor = sponsor
        self.category = category
        self.subsystems = subsystems
        self.size_estimate = size_estimate
        self.desired_date = desired_date

    def withdraw(self, reason: str, department: str | None) -> None:
        """The requesting department may withdraw at any time before delivery.

        `department` is the caller's; None means a release manager acting for them."""
        if department is not None:
            self._require_department(department, "withdraw")
        if self.status == Status.DELIVERED:
            raise RuleViolation(
                "withdraw_after_delivery", "a delivered request cannot be withdrawn"
            )
        if self.status in CLOSED:
            raise RuleViolation(
                "request_closed", f"the request is already {self.status}", state=self.status.value
            )
        self._withdrawn(reason=_text(reason, "reason", 2_000))

    @event("Withdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.status = Status.WITHDRAWN

    def provide_information(self, answer: str, department: str) -> None:
        """The requester answers; the request returns to the triage queue."""
        self._require_department(department, "answer for")
        if self.status != Status.INFO_REQUESTED:
            raise RuleViolation(
                "no_question_pending", "no information was asked for on this request"
            )
        self._information_provided(answer=_text(answer, "answer", 5_000))

    @event("InformationProvided")
    def _information_provided(self, answer: str) -> None:
        self.status = Status.SUBMITTED

    def comment(self, text: str, department: str | None) -> None:
        """A line of the conversation about the request, at any stage and after it ends:
        the requesting department and IT talk on the request, not in private.

        `department` is the caller's when they speak for a department; None for IT (the
        release manager, IT staff, the CAB)."""
        if department is not None:
            self._require_department(department, "comment on")
        self._commented(text=_text(text, "comment", MAX_COMMENT))

    @event("Commented")
    def _commented(self, text: str) -> None:
        pass  # a comment changes nothing about where the request stands

    def rate(self, score: int, comment: str, department: str, read_at: int | None = None) -> None:
        """After delivery the requesting department rates it 1-5; a new rating replaces
        the previous one, and both stay in the history.

        `read_at`: the version of the request the rater was shown. A rating given after
        it is refused (`rated_meanwhile`) rather than silently replaced: a second tab
        still showing "Rate it" would otherwise overwrite a rating and its comment."""
        self._require_department(department, "rate")
        if self.status != Status.DELIVERED:
            raise RuleViolation("rate_before_delivery", "only a delivered request can be rated")
        if not 1 <= score <= 5:
            raise InvalidCommand("rating_out_of_range", "a rating is a whole number from 1 to 5")
        if read_at is not None and (self.rated_in_version or 0) > read_at:
            said = _rating_said(self.rating, self.rating_comment)
            raise RuleViolation(
                "rated_meanwhile",
                f"this request was rated {said} meanwhile, after the page you rated from was"
                " shown; your rating is not saved: send it again to replace that one",
                rating=self.rating,
                rating_comment=self.rating_comment,
            )
        self._rated(
            score=score,
            comment=_text(comment, "comment", 2_000, required=False),
            replaces=self.rating,
        )

    @event("Rated")
    def _rated(self, score: int, comment: str, replaces: int | None) -> None:
        self.rating = score
        self.rating_comment = comment
        # The version this event gives the request (the library sets `version` after
        # the body runs): what a rater read is compared with it.
        self.rated_in_version = self.version + 1

    # -- triage ---------------------------------------------------------------------

    def accept(
        self,
        *,
        owner: str,
        size_points: int,
        class_of_service: ClassOfService,
        fixed_date: date | None,
    ) -> None:
        """Accepting names the single IT point of contact, a size and a class of service."""
        self._require_triageable("accept")
        if not 1 <= size_points <= MAX_SIZE_POINTS:
            raise InvalidCommand(
                "size_out_of_range", f"size points are between 1 and {MAX_SIZE_POINTS}"
            )
        if (class_of_service == ClassOfService.FIXED_DATE) != (fixed_date is not None):
            raise InvalidCommand("fixed_date_mismatch", _fixed_date_mismatch(fixed_date))
        self._accepted(
            owner=owner,
            size_points=size_points,
            class_of_service=ClassOfService(class_of_service).value,
            fixed_date=_iso_date(fixed_date),
        )

    @event("Accepted")
    def _accepted(
        self, owner: str, size_points: int, class_of_service: str, fixed_date: str | None
    ) -> None:
        self.status = Status.ACCEPTED
        self.owner = owner
        self.size_points = size_points
        self.class_of_service = class_of_service
        self.fixed_date = fixed_date

    def reject(self, reason: str) -> None:
        self._require_triageable("reject")
        self._rejected(reason=_text(reason, "reason", 2_000))

    @event("Rejected")
    def _rejected(self, reason: str) -> None:
        self.status = Status.REJECTED

    def defer(self, reason: str, until: date | None) -> None:
        """Deferred requests leave the queue until their date comes (without one, until the
        release manager takes them up); a deferred request may be deferred again."""
        if self.status not in TRIAGEABLE:
            raise RuleViolation(
                "already_triaged",
                f"only a request waiting for triage can be deferred; it is {self.status}",
                state=self.status.value,
            )
        self._deferred(reason=_text(reason, "reason", 2_000), until=_iso_date(until))

    @event("Deferred")
    def _deferred(self, reason: str, until: str | None) -> None:
        self.status = Status.DEFERRED

    def request_information(self, question: str) -> None:
        self._require_triageable("ask about")
        self._information_requested(question=_text(question, "question", 5_000))

    @event("InformationRequested")
    def _information_requested(self, question: str) -> None:
        self.status = Status.INFO_REQUESTED

    def mark_duplicate(self, original: ChangeRequest, note: str) -> None:
        self._require_triageable("mark as duplicate")
        if original.id == self.id:
            raise InvalidCommand("duplicate_of_itself", "a request cannot duplicate itself")
        if original.status in (Status.DUPLICATE, Status.REJECTED, Status.WITHDRAWN):
            raise RuleViolation(
                "duplicate_of_closed_request",
                f"the original request is {original.status}; point at an open one",
                state=original.status.value,
            )
        self._marked_duplicate(
            duplicate_of=str(original.id), note=_text(note, "note", 2_000, required=False)
        )

    @event("MarkedDuplicate")
    def _marked_duplicate(self, duplicate_of: str, note: str) -> None:
        self.status = Status.DUPLICATE
        self.duplicate_of = duplicate_of

    # -- after acceptance -----------------------------------------------------------

    def assign_owner(self, owner: str) -> None:
        """The single IT point of contact can change while the work is open."""
        if self.status != Status.ACCEPTED:
            raise RuleViolation(
                "not_accepted", "only an accepted request has an owner", state=self.status.value
            )
        if owner == self.owner:
            raise RuleViolation("owner_unchanged", f"{owner} already owns this request")
        self._owner_assigned(owner=owner, previous=self.owner)

    @event("OwnerAssigned")
    def _owner_assigned(self, owner: str, previous: str | None) -> None:
        self.owner = owner

    def replan(
        self, *, size_points: int, class_of_service: ClassOfService, fixed_date: date | None
    ) -> None:
        """The release manager may re-size or re-classify accepted work."""
        if self.status != Status.ACCEPTED:
            raise RuleViolation(
                "not_accepted", "only accepted work can be re-planned", state=self.status.value
            )
        if not 1 <= size_points <= MAX_SIZE_POINTS:
            raise InvalidCommand(
                "size_out_of_range", f"size points are between 1 and {MAX_SIZE_POINTS}"
            )
        if (class_of_service == ClassOfService.FIXED_DATE) != (fixed_date is not None):
            raise InvalidCommand("fixed_date_mismatch", _fixed_date_mismatch(fixed_date))
        self._replanned(
            size_points=size_points,
            class_of_service=ClassOfService(class_of_service).value,
            fixed_date=_iso_date(fixed_date),
        )

    @event("Replanned")
    def _replanned(self, size_points: int, class_of_service: str, fixed_date: str | None) -> None:
        self.size_points = size_points
        self.class_of_service = class_of_service
        self.fixed_date = fixed_date

    def deliver(self, *, bundle_id: str | None, change_id: str | None) -> bool:
        """Mark delivered; returns False (and records nothing) when already delivered, so
        a reaction that sees the same deployment twice never double-delivers."""
        if self.status == Status.DELIVERED:
            return False
        if self.status != Status.ACCEPTED:
            raise RuleViolation(
                "deliver_unaccepted",
                f"only accepted work can be delivered; it is {self.status}",
                state=self.status.value,
            )
        self._delivered(bundle_id=bundle_id, change_id=change_id)
        return True

    @event("Delivered")
    def _delivered(self, bundle_id: str | None, change_id: str | None) -> None:
        self.status = Status.DELIVERED

    # -- helpers --------------------------------------------------------------------

    def _require_triageable(self, action: str) -> None:
        if self.status not in TRIAGEABLE:
            raise RuleViolation(
                "already_triaged",
                f"cannot {action} a request that is {self.status}",
                state=self.status.value,
            )

    def _require_department(self, department: str, action: str) -> None:
        if department.casefold() != self.department.casefold():
            raise NotPermitted(
                "own_department_only",
                f"only the {self.department} department may {action} this request",
            )


class DepartmentRanking(AuditedAggregate):
    """A department's own order of its accepted, undelivered requests."""

    @staticmethod
    def create_id(department: str) -> UUID:
        return ranking_id(department)

    @event("Started")
    def __init__(self, department: str) -> None:
        self.department = department
        self.order: list[str] = []

    def rank(
        self, order: Sequence[str], departments: Mapping[str, str], statuses: Mapping[str, str]
    ) -> None:
        """Only this department's accepted, undelivered requests can be ranked, each once.

        `departments` and `statuses` describe every request named in `order`."""
        if not order:
            raise InvalidCommand(
                "empty_ranking",
                "name the requests to put first in the order they go; the others keep"
                " their place after them (an empty order ranks nothing)",
                field="order",
            )
        if len(set(order)) != len(order):
            raise InvalidCommand("ranked_twice", "each request appears once in a ranking")
        for request_id in order:
            department = departments.get(request_id)
            if department is None:
                raise InvalidCommand("unknown_request", f"no request {request_id}")
            if department.casefold() != self.department.casefold():
                raise NotPermitted(
                    "own_department_only",
                    f"request {request_id} belongs to {department}, not {self.department}",
                )
            if statuses[request_id] != Status.ACCEPTED:
                raise RuleViolation(
                    "rank_unaccepted",
                    f"only accepted, undelivered requests are ranked;"
                    f" {request_id} is {statuses[request_id]}",
                )
        if list(order) == self.order:
            return
        self._reordered(order=list(order))

    @event("Reordered")
    def _reordered(self, order: list[str]) -> None:
        self.order = order


def ranking_id(department: str) -> UUID:
    return name_based_id("department-ranking", department)


def _fixed_date_mismatch(fixed_date: date | None) -> str:
    if fixed_date is None:
        return "a fixed-date request needs its date: give the fixed date"
    return "a fixed date goes with the class of service 'fixed date': choose it, or clear the date"
