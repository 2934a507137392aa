"""Integration contracts: the events one service publishes and others follow.

Services never import each other. A service that reacts to, or builds a view from,
another service's facts follows the log by the topics below and reads only the fields
listed. The publishing service's contract test (tests/contracts/) checks that its event
classes still have these topics and fields, so a rename breaks a test, not production.

All values are plain JSON: dates are ISO `YYYY-MM-DD`, instants ISO 8601 with offset,
ids are UUID strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.references import References


@dataclass(frozen=True)
class Published:
    """An event type another service may follow, and the fields it may rely on."""

    topic: str
    fields: frozenset[str]

    @property
    def type(self) -> str:
        """The feed's `type`: `Aggregate.Event`."""
        return self.topic.partition(":")[2]


def _event(topic: str, *fields: str) -> Published:
    return Published(topic, frozenset(fields))


_INTAKE = "services.intake.domain:"
_RELEASE = "services.release.domain:"
_CHANGE = "services.change_control.domain:"

# -- intake: change requests -------------------------------------------------------------

REQUEST_SUBMITTED = _event(
    _INTAKE + "ChangeRequest.Submitted",
    "title", "department", "sponsor", "category", "subsystems", "size_estimate",
    "desired_date", "requester",
)  # fmt: skip
REQUEST_REFERENCES = References("REQ")
"""REQ-12: the 12th REQUEST_SUBMITTED of the log, counted in log order by every view that
shows it (decision 105)."""
REQUEST_EDITED = _event(
    _INTAKE + "ChangeRequest.Edited",
    "title", "sponsor", "category", "subsystems", "size_estimate", "desired_date",
)  # fmt: skip
REQUEST_INFO_REQUESTED = _event(_INTAKE + "ChangeRequest.InformationRequested", "question")
REQUEST_INFO_PROVIDED = _event(_INTAKE + "ChangeRequest.InformationProvided", "answer")
REQUEST_ACCEPTED = _event(
    _INTAKE + "ChangeRequest.Accepted", "owner", "size_points", "class_of_service", "fixed_date"
)
REQUEST_REJECTED = _event(_INTAKE + "ChangeRequest.Rejected", "reason")
REQUEST_DEFERRED = _event(_INTAKE + "ChangeRequest.Deferred", "reason", "until")
REQUEST_DUPLICATE = _event(_INTAKE + "ChangeRequest.MarkedDuplicate", "duplicate_of")
REQUEST_WITHDRAWN = _event(_INTAKE + "ChangeRequest.Withdrawn", "reason")
REQUEST_OWNER_ASSIGNED = _event(_INTAKE + "ChangeRequest.OwnerAssigned", "owner", "previous")
REQUEST_REPLANNED = _event(
    _INTAKE + "ChangeRequest.Replanned", "size_points", "class_of_service", "fixed_date"
)
REQUEST_DELIVERED = _event(_INTAKE + "ChangeRequest.Delivered", "bundle_id", "change_id")
REQUEST_COMMENTED = _event(_INTAKE + "ChangeRequest.Commented", "text")
REQUEST_RATED = _event(_INTAKE + "ChangeRequest.Rated", "score", "comment", "replaces")
RANKING_STARTED = _event(_INTAKE + "DepartmentRanking.Started", "department")
RANKING_REORDERED = _event(_INTAKE + "DepartmentRanking.Reordered", "order")

# -- release: trains and bundles ---------------------------------------------------------

BUNDLE_PLANNED = _event(
    _RELEASE + "ReleaseBundle.Planned",
    "train_id", "name", "deploy_date", "window_start", "window_end", "scope_freeze_at",
    "code_complete_at", "qa_start_at", "capacity_points", "subsystem_capacity",
)  # fmt: skip
BUNDLE_MOVED = _event(
    _RELEASE + "ReleaseBundle.Moved",
    "deploy_date", "window_start", "window_end", "scope_freeze_at", "code_complete_at",
    "qa_start_at", "reason",
)  # fmt: skip
BUNDLE_CANCELLED = _event(_RELEASE + "ReleaseBundle.Cancelled", "reason")
REQUEST_SCHEDULED = _event(
    _RELEASE + "ReleaseBundle.RequestScheduled",
    "request_id", "size_points", "subsystems", "after_freeze", "reason",
)  # fmt: skip
REQUEST_UNSCHEDULED = _event(
    _RELEASE + "ReleaseBundle.RequestUnscheduled", "request_id", "after_freeze", "reason"
)
SCOPE_FROZEN = _event(_RELEASE + "ReleaseBundle.ScopeFrozen")
ITEM_PROGRESSED = _event(
    _RELEASE + "ReleaseBundle.ItemProgressed", "request_id", "stage", "note"
)  # stage: in_development | ready_for_qa | qa_passed | qa_failed
QA_SIGNED_OFF = _event(_RELEASE + "ReleaseBundle.QASignedOff", "request_ids")
BUNDLE_APPROVED_FOR_DEPLOYMENT = _event(
    _RELEASE + "ReleaseBundle.ApprovedForDeployment", "change_id"
)
BUNDLE_DEPLOYMENT_APPROVAL_WITHDRAWN = _event(
    _RELEASE + "ReleaseBundle.DeploymentApprovalWithdrawn", "change_id", "reason"
)
BUNDLE_DEPLOYED = _event(_RELEASE + "ReleaseBundle.Deployed", "change_id", "request_ids")
BUNDLE_ROLLED_BACK = _event(_RELEASE + "ReleaseBundle.RolledBack", "change_id", "reason")

# -- change control: production changes and deployments -----------------------------------

CHANGE_RAISED = _event(
    _CHANGE + "ProductionChange.Raised",
    "change_type", "title", "bundle_id", "subsystems", "window_start", "window_end",
    "requester", "implementers", "risk",
)  # fmt: skip  # change_type: release_deployment | standard | normal | emergency
CHANGE_REFERENCES = References("CHG")
"""CHG-7: the 7th CHANGE_RAISED of the log, counted the same way."""
CHANGE_COMMENTED = _event(_CHANGE + "ProductionChange.Commented", "text")
CHANGE_APPROVED = _event(_CHANGE + "ProductionChange.Approved", "approvers")
# An approval is bound to a revision: a revision voids it (status back to in_review), so a
# follower that acted on Approved (release: bundle approved for deployment) must undo it.
# `changed` names the plan fields the revision changed and `previous` what the short ones
# were (not the plans' texts); a revision recorded before they were has neither: read both
# with .get().
CHANGE_REVISED = _event(
    _CHANGE + "ProductionChange.Revised",
    "revision", "title", "subsystems", "implementers", "window_start", "window_end", "risk",
    "approvals_voided", "changed", "previous",
)  # fmt: skip
CHANGE_WITHDRAWN = _event(_CHANGE + "ProductionChange.Withdrawn", "reason")
CHANGE_REJECTED = _event(_CHANGE + "ProductionChange.Rejected", "by", "reason")
CHANGE_IMPLEMENTATION_STARTED = _event(_CHANGE + "ProductionChange.ImplementationStarted")
CHANGE_COMPLETED = _event(
    _CHANGE + "ProductionChange.Completed", "outcome", "change_type", "bundle_id", "notes"
)  # outcome: succeeded | failed | rolled_back
DEPLOYMENT_REPORTED = _event(
    _CHANGE + "DeploymentReport.Recorded",
    "pipeline", "subsystem", "version", "deployed_at", "claimed_change_id", "change_id",
    "unauthorised", "reason",
)  # fmt: skip

# -- metrics: what the organisation was told ---------------------------------------------

WEEKLY_REPORT_ISSUED = _event(
    "services.metrics.domain.issued:WeeklyReport.Issued", "week", "start", "end", "counts",
    "key_figures",
)  # fmt: skip  # counts: submitted, triaged, delivered, slipped, at_risk, unauthorised_changes

ALL: tuple[Published, ...] = tuple(v for v in globals().values() if isinstance(v, Published))
