"""Folding change control's facts: production changes and deployment reports."""

from __future__ import annotations

from services.metrics.domain.calendar import to_utc
from services.metrics.domain.records import ChangeRecord, DeploymentRecord
from services.metrics.facts.base import Fact, FoldBase, Handler
from shared import contracts as c


class ChangeFacts(FoldBase):
    """Production changes from raising to outcome, and every deployment report."""

    def _change(self, e: Fact) -> ChangeRecord | None:
        return self._change_by_id(e.aggregate_id)

    def _raised(self, e: Fact, at: str) -> None:
        d = e.data
        change = ChangeRecord(
            id=e.aggregate_id,
            change_type=d["change_type"],
            title=d["title"],
            raised_at=at,
            bundle_id=d.get("bundle_id"),
            subsystems=list(d.get("subsystems") or []),
        )
        self.history.changes[change.id] = change
        self.touched.changes.add(change.id)

    def _change_approved(self, e: Fact, at: str) -> None:
        if change := self._change(e):
            change.approved_at = change.approved_at or at

    def _revised(self, e: Fact, at: str) -> None:
        """A revision may change what it touches, and voids the approvals so far: the
        approval that counts is the one given to the revision implemented."""
        if change := self._change(e):
            change.subsystems = list(e.data.get("subsystems") or change.subsystems)
            if e.data.get("approvals_voided"):
                change.approved_at = None

    def _withdrawn(self, e: Fact, at: str) -> None:
        if change := self._change(e):
            change.rejected_at = change.rejected_at or at  # closed without deploying

    def _change_rejected(self, e: Fact, at: str) -> None:
        if change := self._change(e):
            change.rejected_at = change.rejected_at or at

    def _completed(self, e: Fact, at: str) -> None:
        if (change := self._change(e)) and change.completed_at is None:
            change.completed_at = at
            change.outcome = e.data["outcome"]

    def _deployment(self, e: Fact, at: str) -> None:
        d = e.data
        try:
            deployed_at = to_utc(str(d["deployed_at"])) if d.get("deployed_at") else at
        except ValueError:
            deployed_at = at  # an unparseable pipeline time: when it was recorded
        record = DeploymentRecord(
            id=e.aggregate_id,
            at=deployed_at,
            pipeline=str(d.get("pipeline") or ""),
            subsystem=str(d.get("subsystem") or ""),
            version=str(d.get("version") or ""),
            unauthorised=bool(d.get("unauthorised")),
            change_id=d.get("change_id"),
        )
        self.history.deployments[record.id] = record
        self.touched.deployments.add(record.id)

    def change_handlers(self) -> dict[str, Handler]:
        return {
            c.CHANGE_RAISED.topic: self._raised,
            c.CHANGE_APPROVED.topic: self._change_approved,
            c.CHANGE_REJECTED.topic: self._change_rejected,
            c.CHANGE_REVISED.topic: self._revised,
            c.CHANGE_WITHDRAWN.topic: self._withdrawn,
            c.CHANGE_COMPLETED.topic: self._completed,
            c.DEPLOYMENT_REPORTED.topic: self._deployment,
        }
