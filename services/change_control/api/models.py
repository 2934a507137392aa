"""The change control HTTP contract: request bodies (strict: unknown fields are 422) and
the shapes of what the read routes answer."""

# No `from __future__ import annotations`: FastAPI and pydantic must see the annotations
# as objects.
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from services.change_control.application.changes import ChangeDraft
from services.change_control.domain.risk import AffectedUsers, Impact, Likelihood, Questionnaire
from services.change_control.domain.values import MAX_COMMENT, ChangeType, Outcome
from shared.http.models import Instant, RequestBody

Username = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]
Subsystem = Annotated[str, Field(min_length=1, max_length=100)]
Plan = Annotated[str, Field(max_length=20_000)]
Reason = Annotated[str, Field(min_length=1, max_length=2_000)]


class Strict(RequestBody):
    """Unknown fields are refused (422): no mass assignment of status or approvals."""


class RiskAnswers(Strict):
    """The risk questionnaire; the README explains how it scores to low, medium or high."""

    impact: Impact
    likelihood: Likelihood
    affected_users: AffectedUsers
    backout_tested: bool

    def to_questionnaire(self) -> Questionnaire:
        return Questionnaire(self.impact, self.likelihood, self.affected_users, self.backout_tested)


class ChangeBody(Strict):
    title: str = Field(min_length=1, max_length=200)
    subsystems: list[Subsystem] = Field(min_length=1, max_length=20)
    window_start: Instant | None = None
    window_end: Instant | None = None
    implementation_plan: Plan = Field(
        default="", description="Required, except for a standard change (its template's)."
    )
    backout_plan: Plan = Field(default="", description="A gate: needed before approval.")
    test_evidence: Plan = ""
    implementers: list[Username] = Field(min_length=1, max_length=20)
    risk: RiskAnswers | None = Field(
        default=None, description="Required, except for a standard change (its template's)."
    )

    def to_draft(self) -> ChangeDraft:
        return ChangeDraft(
            title=self.title,
            subsystems=self.subsystems,
            window_start=self.window_start,
            window_end=self.window_end,
            implementation_plan=self.implementation_plan,
            backout_plan=self.backout_plan,
            test_evidence=self.test_evidence,
            implementers=self.implementers,
            questionnaire=self.risk.to_questionnaire() if self.risk else None,
        )


class NewChange(ChangeBody):
    change_type: ChangeType
    bundle_id: UUID | None = Field(default=None, description="A release deployment's bundle.")
    template_id: UUID | None = Field(default=None, description="A standard change's template.")


class Approval(Strict):
    revision: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="The revision you reviewed; refused (409 stale_revision) if it moved on.",
    )
    comment: str = Field(default="", max_length=2_000, description="Why you approve it.")


class Decision(Strict):
    reason: Reason


class CommentBody(Strict):
    text: str = Field(min_length=1, max_length=MAX_COMMENT, description="Line breaks are kept.")


class Completion(Strict):
    outcome: Outcome
    notes: str = Field(default="", max_length=10_000, description="Required unless succeeded.")


class Review(Strict):
    findings: str = Field(min_length=1, max_length=20_000)
    actions: str = Field(default="", max_length=20_000)


class BlackoutBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    start: Instant
    end: Instant
    subsystems: list[Subsystem] = Field(
        default_factory=list, max_length=20, description="None named means every subsystem."
    )
    reason: str = Field(default="", max_length=2_000)


class TemplateBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5_000)
    subsystems: list[Subsystem] = Field(min_length=1, max_length=20)
    implementation_plan: str = Field(min_length=1, max_length=20_000)
    backout_plan: str = Field(min_length=1, max_length=20_000)
    risk: RiskAnswers


class DeploymentBody(Strict):
    subsystem: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=200)
    deployed_at: Instant | None = Field(
        default=None, description="When it was deployed; the time of the report if omitted."
    )
    change_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The production change the pipeline claims, by its id or its reference"
        " (CHG-7); anything else is recorded as an unauthorised change.",
    )


# -- what the read routes answer ------------------------------------------------------------


class ApprovalEntry(BaseModel):
    by: str
    team: str | None
    at: str
    comment: str | None = None


class Gate(BaseModel):
    name: str
    met: bool
    rule: str = Field(description="The rule an approval is refused by while unmet.")
    detail: str
    advisory: bool = Field(False, description="Shown to the CAB, met or not; refuses no approval.")
    window_start: str | None = Field(
        None, description="The period the gate compares the change's window with, if any."
    )
    window_end: str | None = None


class Conflict(BaseModel):
    change_id: str
    title: str
    status: str
    window_start: str | None
    window_end: str | None
    subsystems: list[str]


@dataclass(frozen=True)
class HeldBack:
    id: str
    reference: Annotated[str | None, Field(description="CHG-350: the change's number.")]
    title: str


@dataclass(frozen=True)
class BlackoutSaved:
    """A blackout declared or moved, with what it now holds back."""

    id: str
    version: int
    active: bool
    holds_back: Annotated[
        list[HeldBack],
        Field(
            description="The open changes (in review, approved or under way) whose windows it"
            " overlaps on a subsystem they share: none may be approved or started while it"
            " stands."
        ),
    ]


class Blackout(BaseModel):
    id: str
    name: str
    window_start: str
    window_end: str
    subsystems: list[str] = Field(description="Empty: every subsystem.")
    reason: str
    lifted: bool
    declared_by: str
    declared_at: str
    updated_at: str
    version: int


class Deployment(BaseModel):
    id: str
    pipeline: str
    subsystem: str
    version: str
    deployed_at: str
    claimed_change_id: str | None
    change_id: str | None
    unauthorised: bool
    reason: str | None
    recorded_at: str


class HistoryEntry(BaseModel):
    position: int
    version: int
    type: str
    actor: str
    occurred_at: str
    summary: str
    data: dict[str, Any]


class ChangeSummary(BaseModel):
    id: str
    number: int | None = Field(
        description="The order in which the log received the change: the 7th is CHG-7."
    )
    reference: str = Field(description="How people name it: CHG-7.")
    change_type: str
    title: str
    bundle_id: str | None
    template_id: str | None
    subsystems: list[str]
    window_start: str | None
    window_end: str | None
    implementation_plan: str
    backout_plan: str
    test_evidence: str
    requester: str
    implementers: list[str]
    impact: str
    likelihood: str
    affected_users: str
    backout_tested: bool
    risk: str
    required_approvals: int
    operations_approver_required: bool
    emergency_approvals: int
    status: str
    revision: int
    approvals: list[ApprovalEntry] = Field(description="Approvals of the current revision.")
    approvers: list[str] = Field(description="Who approved it, once approved.")
    board: str | None = Field(description="cab, emergency or template, once approved.")
    retrospective: list[ApprovalEntry]
    retrospectively_approved: bool
    outcome: str | None
    notes: str | None
    review_required: bool
    reviewed: bool
    findings: str | None
    decided_by: str | None
    decision_reason: str | None
    raised_at: str
    approved_at: str | None
    started_at: str | None
    completed_at: str | None
    closed_at: str | None
    updated_at: str
    version: int


class BundleShipped(BaseModel):
    """The release bundle a release deployment ships, as change control knows it."""

    bundle_id: str
    name: str
    deploy_date: str | None
    requests: int = Field(description="How many requests its scope holds now.")


class ChangeWithGates(ChangeSummary):
    gates: list[Gate]
    gates_met: bool
    conflicts: list[Conflict]
    blackouts: list[Blackout]
    bundle: BundleShipped | None = Field(
        default=None, description="What a release deployment ships (none for other changes)."
    )


class ChangeDetail(ChangeWithGates):
    deployments: list[Deployment]
    history: list[HistoryEntry]


class QueueItem(ChangeWithGates):
    awaiting: str = Field(description="approval, emergency_approval or retrospective_approval")
    approvals_needed: int
    operations_approver_needed: bool
    approvals_so_far: list[str]


class ChangeList(BaseModel):
    items: list[ChangeSummary]
    total: int
    limit: int
    offset: int


class CalendarEntry(BaseModel):
    change_id: str
    number: int | None
    reference: str = Field(description="CHG-7")
    title: str
    change_type: str
    status: str
    risk: str
    window_start: str
    window_end: str
    subsystems: list[str]
    conflicts_with: list[str]
    blackouts: list[str]


class Calendar(BaseModel):
    changes: list[CalendarEntry]
    blackouts: list[Blackout]


class Template(BaseModel):
    id: str
    name: str
    description: str
    subsystems: list[str]
    implementation_plan: str
    backout_plan: str
    impact: str
    likelihood: str
    affected_users: str
    backout_tested: bool
    risk: str
    retired: bool
    retired_reason: str | None
    published_by: str
    published_at: str
    updated_at: str
    version: int


class DeploymentList(BaseModel):
    items: list[Deployment]
    total: int
    limit: int
    offset: int


class DeploymentCounts(BaseModel):
    total: int
    authorised: int
    unauthorised: int
    unauthorised_by_subsystem: dict[str, int]
