"""Production changes, the only path to production, and the deployment reports that
show whether anything reached production without one.

The domain is a package because it is too big for one file: the aggregates whose
topics are part of the integration contract (`shared/contracts.py`:
`services.change_control.domain:ProductionChange.*`, `...:DeploymentReport.Recorded`)
live here; `values`, `risk`, `gates` and `plans` hold the plain values they decide with,
and `catalogue` the release manager's blackout windows and standard templates. All of
it is pure: the standard library, `eventsourcing.domain`, `shared.domain` and itself.

Every rule lives in a public command method; the `@event` methods below only assign
state, because they run again whenever history is replayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from eventsourcing.domain import event

from services.change_control.domain import plans
from services.change_control.domain.gates import (
    Gate,
    GateFacts,
    GateSubject,
    evaluate_gates,
    require,
)
from services.change_control.domain.plans import PLAN_FIELDS, ChangePlan, TemplateTerms, plan_fields
from services.change_control.domain.risk import ApprovalPolicy, Requirement, Reviewer, Risk
from services.change_control.domain.values import (
    MAX_COMMENT,
    ChangeType,
    Outcome,
    Window,
    iso,
    now,
    text,
)
from shared.domain import AuditedAggregate, InvalidCommand, NotPermitted, RuleViolation


class Status(StrEnum):
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    IMPLEMENTING = "implementing"
    COMPLETED = "completed"  # implemented; open until reviewed (and, for emergencies, approved)
    CLOSED = "closed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


ENDED = frozenset({Status.CLOSED, Status.REJECTED, Status.WITHDRAWN})
BEFORE_START = frozenset({Status.IN_REVIEW, Status.APPROVED})
# A deployment inside the window of a change in one of these states is authorised.
COVERING = frozenset({Status.APPROVED, Status.IMPLEMENTING, Status.COMPLETED, Status.CLOSED})

__all__ = ["ChangePlan", "DeploymentReport", "ProductionChange", "Status"]


class ProductionChange(AuditedAggregate):
    """A change to production: gated, approved per its risk by people other than those
    who asked for it or carry it out, implemented in its window, and reviewed."""

    class Event(AuditedAggregate.Event):
        def mutate(self, aggregate: Any) -> Any:
            # An event body cannot see its own time, so the times the current revision became
            # approved and the change completed are stamped here: no deployment outside them.
            change = super().mutate(aggregate)
            if isinstance(change, ProductionChange):
                if not change.approved:
                    change.approved_at = None
                elif change.approved_at is None:
                    change.approved_at = self.timestamp
                if change.status == Status.COMPLETED and change.completed_at is None:
                    change.completed_at = self.timestamp
            return change

    @classmethod
    def raise_change(
        cls,
        *,
        change_type: ChangeType,
        plan: ChangePlan,
        requester: str,
        catalogue: Sequence[str],
        policy: ApprovalPolicy,
        facts: GateFacts,
        bundle_id: str | None = None,
        template: TemplateTerms | None = None,
    ) -> ProductionChange:
        change_type = ChangeType(change_type)
        if (change_type == ChangeType.RELEASE_DEPLOYMENT) != (bundle_id is not None):
            raise InvalidCommand(
                "bundle_only_for_release_deployment",
                "a release deployment names its bundle, and only a release deployment does",
            )
        if change_type != ChangeType.STANDARD and template is not None:
            raise InvalidCommand(
                "template_only_for_standard_change", "only a standard change names a template"
            )
        if template is not None and not template.active:
            raise RuleViolation("template_retired", f"template {template.name!r} is retired")
        change = cls(
            change_type=change_type.value,
            bundle_id=bundle_id,
            template_id=template.template_id if template else None,
            requester=requester,
            emergency_approvals=policy.emergency,
            **plan_fields(change_type, plan, catalogue, policy, facts, template),
        )
        change._pre_approve(facts)
        return change

    @event("Raised")
    def __init__(
        self,
        change_type: str,
        title: str,
        bundle_id: str | None,
        template_id: str | None,
        subsystems: list[str],
        window_start: str | None,
        window_end: str | None,
        implementation_plan: str,
        backout_plan: str,
        test_evidence: str,
        requester: str,
        implementers: list[str],
        impact: str,
        likelihood: str,
        affected_users: str,
        backout_tested: bool,
        risk: str,
        required_approvals: int,
        operations_approver_required: bool,
        emergency_approvals: int,
    ) -> None:
        self._record_plan({k: v for k, v in locals().items() if k in PLAN_FIELDS})
        self.change_type = ChangeType(change_type)
        self.bundle_id = bundle_id
        self.template_id = template_id
        self.requester = requester
        self.emergency_approvals = emergency_approvals
        self.status = Status.IN_REVIEW
        self.revision = 1
        self.approvals: list[dict[str, Any]] = []  # this revision's, towards `Approved`
        self.approved_revision: int | None = None
        self.approved_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.approvers: list[str] = []
        self.retrospective: list[dict[str, Any]] = []
        self.retrospectively_approved = False
        self.outcome: Outcome | None = None
        self.review_required = False
        self.reviewed = False

    def _record_plan(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.title: str = plan["title"]
        self.subsystems: list[str] = plan["subsystems"]
        self.window = Window.parse(plan["window_start"], plan["window_end"])
        self.backout_plan: str = plan["backout_plan"]
        self.implementers: list[str] = plan["implementers"]
        self.risk = Risk(plan["risk"])
        self.requirement = Requirement(
            plan["required_approvals"], plan["operations_approver_required"]
        )

    # -- facts the rules and views ask about -------------------------------------------

    @property
    def emergency(self) -> bool:
        return self.change_type == ChangeType.EMERGENCY

    @property
    def approved(self) -> bool:
        """Approved for its current revision (by its board, or its template)."""
        return self.approved_revision == self.revision

    def gates(self, facts: GateFacts) -> list[Gate]:
        subject = GateSubject(
            self.change_type,
            self.window,
            self.backout_plan,
            self.subsystems,
            self.bundle_id,
            blackouts_exempt=self.emergency,
            implementers=self.implementers,
        )
        return evaluate_gates(subject, facts)

    def coverage(self, subsystem: str, at: datetime) -> str | None:
        """None when a deployment of `subsystem` at `at` is covered by this change,
        otherwise why it is not."""
        if self.status not in COVERING or self.approved_revision is None:
            return "change_not_approved"
        if subsystem.casefold() not in {s.casefold() for s in self.subsystems}:
            return "subsystem_not_in_change"
        if self.window is None or not self.window.contains(at):
            return "outside_window"
        if self.approved_at is not None and at < self.approved_at:
            return "deployed_before_approval"
        if self.completed_at is not None and at > self.completed_at:
            return "deployed_after_completion"
        return None

    # -- revising and withdrawing -------------------------------------------------------

    def revise(
        self,
        *,
        editor: str,
        manager: bool,
        plan: ChangePlan,
        catalogue: Sequence[str],
        policy: ApprovalPolicy,
        facts: GateFacts,
        template: TemplateTerms | None = None,
    ) -> bool:
        """Any edit of plan, window or scope voids every approval (an emergency's
        retrospective ones too): the change goes back to review. Returns False (and
        records nothing) when nothing changed."""
        self._require_owner(editor, manager, "revise")
        self._require_before_start("revise")
        if template is not None and not template.active:
            # Revised, it would be pre-approved again by a template nobody stands behind.
            raise RuleViolation(
                "template_retired",
                f"template {template.name!r} is retired: raise a normal change for the CAB",
            )
        fields = plan_fields(self.change_type, plan, catalogue, policy, facts, template)
        if fields == self.plan:
            return False
        voided = [a["by"] for a in [*self.approvals, *self.retrospective]]
        changes = plans.revision_of(self.plan, fields)  # named, for the CAB to re-approve
        self._revised(revision=self.revision + 1, approvals_voided=voided, **fields, **changes)
        self._pre_approve(facts)
        return True

    @event("Revised")
    def _revised(
        self,
        revision: int,
        approvals_voided: list[str],
        title: str,
        subsystems: list[str],
        window_start: str | None,
        window_end: str | None,
        implementation_plan: str,
        backout_plan: str,
        test_evidence: str,
        implementers: list[str],
        impact: str,
        likelihood: str,
        affected_users: str,
        backout_tested: bool,
        risk: str,
        required_approvals: int,
        operations_approver_required: bool,
        changed: list[str] | None = None,  # not recorded before revisions named their changes
        previous: dict[str, Any] | None = None,
    ) -> None:
        self._record_plan({k: v for k, v in locals().items() if k in PLAN_FIELDS})
        self.revision = revision
        self.status = Status.IN_REVIEW
        self.approvals = []
        self.approved_revision = None
        self.approvers = []
        self.retrospective = []
        self.retrospectively_approved = False

    def withdraw(self, *, editor: str, manager: bool, reason: str) -> None:
        """Its requester, an implementer or a release manager may withdraw it before work starts."""
        self._require_owner(editor, manager, "withdraw")
        self._require_before_start("withdraw")
        self._withdrawn(reason=text(reason, "reason", 2_000))

    @event("Withdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.status = Status.WITHDRAWN

    # -- the board ------------------------------------------------------------------------

    def approve(
        self, reviewer: Reviewer, facts: GateFacts, revision: int | None = None, comment: str = ""
    ) -> str:
        """Records one CAB member's approval of the current revision and, when the change's
        policy is met, approves it. Returns what the approval counted as: `cab`,
        `emergency` (the emergency board) or `retrospective` (after an emergency)."""
        self._require_open()
        self._require_independent(reviewer, "approve")
        if revision is not None and revision > self.revision:
            raise InvalidCommand(
                "unknown_revision",
                f"the change has no revision {revision}; it is at revision {self.revision}",
                revision=self.revision,
            )
        if revision is not None and revision != self.revision:
            raise RuleViolation(
                "stale_revision",
                f"you reviewed revision {revision}; the change is at revision {self.revision}",
                revision=self.revision,
            )
        if self.change_type == ChangeType.STANDARD:
            raise RuleViolation(
                "standard_change_pre_approved", "a standard change is approved by its template"
            )
        comment = comment.strip()[:2_000]
        if self.emergency and self.approved_revision is not None:
            return self._approve_retrospectively(reviewer, comment)
        if self.status not in BEFORE_START:
            raise RuleViolation(
                "approval_after_start", f"the change is {self.status}", state=self.status.value
            )
        if reviewer.username in {a["by"] for a in self.approvals}:
            raise RuleViolation(
                "already_approved", f"{reviewer.username} already approved this revision"
            )
        self._require_gates(facts)
        board = "emergency" if self.emergency else "cab"
        self._approval_recorded(
            by=reviewer.username,
            team=reviewer.team,
            revision=self.revision,
            counted_as=board,
            comment=comment,
        )
        needed = (
            Requirement(self.emergency_approvals, False) if self.emergency else self.requirement
        )
        if self.status == Status.IN_REVIEW and needed.met_by(self.approvals):
            self._approved(
                approvers=[a["by"] for a in self.approvals], revision=self.revision, board=board
            )
        return board

    def _approve_retrospectively(self, reviewer: Reviewer, comment: str) -> str:
        if reviewer.username in self.approvers + [a["by"] for a in self.retrospective]:
            raise RuleViolation(
                "already_approved", f"{reviewer.username}'s approval of this change already counts"
            )
        self._approval_recorded(
            by=reviewer.username,
            team=reviewer.team,
            revision=self.revision,
            counted_as="retrospective",
            comment=comment,
        )
        if not self.retrospectively_approved and self.requirement.met_by(self.retrospective):
            self._retrospectively_approved(approvers=[a["by"] for a in self.retrospective])
            self._close_if_done()
        return "retrospective"

    @event("ApprovalRecorded")
    def _approval_recorded(
        self, by: str, team: str | None, revision: int, counted_as: str, comment: str = ""
    ) -> None:

        entry = {"by": by, "team": team}
        if counted_as == "retrospective":
            self.retrospective.append(entry)
        else:
            self.approvals.append(entry)

    @event("Approved")
    def _approved(self, approvers: list[str], revision: int, board: str) -> None:
        self.status = Status.APPROVED
        self.approved_revision = revision
        self.approvers = approvers

    @event("RetrospectivelyApproved")
    def _retrospectively_approved(self, approvers: list[str]) -> None:
        self.retrospectively_approved = True

    def _pre_approve(self, facts: GateFacts) -> None:
        """A standard change is approved by its template as soon as its gates are met."""
        if self.change_type != ChangeType.STANDARD:
            return
        if all(gate.holds for gate in self.gates(facts)):
            self._approved(approvers=[], revision=self.revision, board="template")

    def reject(self, reviewer: Reviewer, reason: str) -> None:
        """Any one rejection blocks the change for good; a new change must be raised."""
        self._require_open()
        self._require_independent(reviewer, "reject")
        self._require_before_start("reject")
        self._rejected(by=reviewer.username, reason=text(reason, "reason", 2_000))

    @event("Rejected")
    def _rejected(self, by: str, reason: str) -> None:
        self.status = Status.REJECTED
        self.approved_revision = None  # an approval given before it no longer stands

    def comment(self, remark: str) -> None:
        """A line of IT's conversation about the change, before, during or after it."""
        self._commented(text=text(remark, "comment", MAX_COMMENT))

    @event("Commented")
    def _commented(self, text: str) -> None:
        pass  # a comment changes nothing about the change

    # -- implementation -----------------------------------------------------------------

    def start(self, implementer: str, facts: GateFacts) -> None:
        """An implementer starts an approved change inside its window (an emergency at once)."""
        self._require_open()
        self._require_implementer(implementer)
        if self.status != Status.APPROVED:
            rule = "not_approved" if self.status == Status.IN_REVIEW else "already_started"
            raise RuleViolation(
                rule, f"only an approved change can start; it is {self.status}",
                state=self.status.value,
            )  # fmt: skip
        self._require_gates(facts)
        at = now()
        if not self.emergency and self.window is not None and not self.window.contains(at):
            raise RuleViolation("outside_window", self.window.shut_at(at))
        self._implementation_started(revision=self.revision)

    @event("ImplementationStarted")
    def _implementation_started(self, revision: int) -> None:
        self.status = Status.IMPLEMENTING

    def complete(self, implementer: str, outcome: Outcome, notes: str) -> None:
        """Ends implementation; failures, rollbacks and emergencies then await a review."""
        self._require_open()
        self._require_implementer(implementer)
        if self.status != Status.IMPLEMENTING:
            raise RuleViolation(
                "not_started", f"only a change being implemented can complete; it is {self.status}",
                state=self.status.value,
            )  # fmt: skip
        outcome = Outcome(outcome)
        notes = text(notes, "notes", 10_000, required=outcome != Outcome.SUCCEEDED)
        self._completed(
            outcome=outcome.value,
            change_type=self.change_type.value,
            bundle_id=self.bundle_id,
            notes=notes,
            review_required=self.emergency or outcome != Outcome.SUCCEEDED,
        )
        self._close_if_done()

    @event("Completed")
    def _completed(
        self,
        outcome: str,
        change_type: str,
        bundle_id: str | None,
        notes: str,
        review_required: bool,
    ) -> None:
        self.status = Status.COMPLETED
        self.outcome = Outcome(outcome)
        self.review_required = review_required

    def record_review(self, reviewer: Reviewer, findings: str, actions: str) -> None:
        """The post-implementation review, by a CAB member who neither asked for nor did it."""
        self._require_open()
        if self.status != Status.COMPLETED:
            raise RuleViolation(
                "review_before_completion", "a change is reviewed after it is implemented"
            )
        if not self.review_required or self.reviewed:
            raise RuleViolation("already_reviewed", "this change needs no further review")
        self._require_independent(reviewer, "review")
        self._review_recorded(
            by=reviewer.username,
            findings=text(findings, "findings", 20_000),
            actions=text(actions, "actions", 20_000, required=False),
        )
        self._close_if_done()

    @event("ReviewRecorded")
    def _review_recorded(self, by: str, findings: str, actions: str) -> None:
        self.reviewed = True

    def _close_if_done(self) -> None:
        if self.status != Status.COMPLETED:
            return
        if self.review_required and not self.reviewed:
            return
        if self.emergency and not self.retrospectively_approved:
            return
        assert self.outcome is not None
        self._closed(outcome=self.outcome.value)

    @event("Closed")
    def _closed(self, outcome: str) -> None:
        self.status = Status.CLOSED

    # -- guards ---------------------------------------------------------------------------

    def _require_open(self) -> None:
        if self.status in ENDED:
            raise RuleViolation(
                "change_closed", f"the change is {self.status}", state=self.status.value
            )

    def _require_before_start(self, action: str) -> None:
        if self.status not in BEFORE_START:
            raise RuleViolation(
                f"{action}_after_start",
                f"cannot {action} a change that is {self.status}",
                state=self.status.value,
            )

    def _require_owner(self, editor: str, manager: bool, action: str) -> None:
        if not manager and editor != self.requester and editor not in self.implementers:
            raise NotPermitted(
                "own_change_only",
                f"only the requester, an implementer or a release manager may {action} it",
            )

    def _require_implementer(self, who: str) -> None:
        if who not in self.implementers:
            raise NotPermitted("implementer_only", "only a named implementer may do this")

    def _require_independent(self, reviewer: Reviewer, action: str) -> None:
        """Separation of duties: nobody judges a change they asked for or carry out."""
        if not reviewer.cab_member:
            raise NotPermitted("cab_member_required", f"only a CAB member may {action} a change")
        if reviewer.username == self.requester:
            raise NotPermitted(
                f"requester_cannot_{action}", f"the requester of a change cannot {action} it"
            )
        if reviewer.username in self.implementers:
            raise NotPermitted(
                f"implementer_cannot_{action}", f"an implementer of a change cannot {action} it"
            )

    def _require_gates(self, facts: GateFacts) -> None:
        require(self.gates(facts))


class DeploymentReport(AuditedAggregate):
    """What a pipeline says it deployed. Always recorded: linked to the approved change
    that covers it, or flagged as an unauthorised change with the reason."""

    @classmethod
    def record(
        cls,
        *,
        pipeline: str,
        subsystem: str,
        version: str,
        deployed_at: datetime,
        claimed_change_id: str | None,
        claimed: ProductionChange | None,
        candidates: Sequence[ProductionChange],
        catalogue: Sequence[str],
    ) -> DeploymentReport:
        known = {name.casefold(): name for name in catalogue}
        name = known.get(subsystem.strip().casefold())
        change_id: str | None = None
        reason: str | None
        if name is None:
            reason = "unknown_subsystem"
        elif claimed_change_id is not None:
            reason = "unknown_change" if claimed is None else claimed.coverage(name, deployed_at)
            change_id = str(claimed.id) if claimed is not None and reason is None else None
        else:
            covering = [c for c in candidates if c.coverage(name, deployed_at) is None]
            reason = None if covering else "no_approved_change"
            change_id = str(covering[0].id) if covering else None
        return cls(
            pipeline=pipeline,
            subsystem=name or subsystem.strip(),
            version=version.strip(),
            deployed_at=iso(deployed_at),
            claimed_change_id=claimed_change_id,
            change_id=change_id,
            unauthorised=change_id is None,
            reason=reason,
        )

    @event("Recorded")
    def __init__(
        self,
        pipeline: str,
        subsystem: str,
        version: str,
        deployed_at: str,
        claimed_change_id: str | None,
        change_id: str | None,
        unauthorised: bool,
        reason: str | None,
    ) -> None:
        self.pipeline = pipeline
        self.subsystem = subsystem
        self.deployed_version = version  # `version` is the aggregate's own
        self.deployed_at = deployed_at
        self.claimed_change_id = claimed_change_id
        self.change_id = change_id
        self.unauthorised = unauthorised
        self.reason = reason
