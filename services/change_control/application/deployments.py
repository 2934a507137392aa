"""What pipelines report they deployed: recorded always, linked or flagged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog

from services.change_control.domain import DeploymentReport, ProductionChange
from services.change_control.domain.values import now
from services.change_control.views import ChangeControlViews
from shared.application import Outcome, UseCases
from shared.domain import NotFound
from shared.store.log import EventLog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeploymentRef:
    id: str
    change_id: str | None
    unauthorised: bool
    reason: str | None


class DeploymentReports(UseCases):
    """A report covered by an approved change in its window is linked to it; any other is
    recorded as an unauthorised change. None is refused for what it says, and none is lost."""

    def __init__(self, log: EventLog, views: ChangeControlViews) -> None:
        super().__init__(log)
        self.views = views

    def report(
        self,
        pipeline: str,
        subsystem: str,
        version: str,
        deployed_at: datetime | None,
        claimed_change_id: str | None,
    ) -> DeploymentRef:
        at = deployed_at or now()

        def command() -> Outcome[DeploymentRef]:
            claimed = self._claimed(claimed_change_id) if claimed_change_id else None
            candidates = (
                []
                if claimed_change_id
                else [
                    self.log.get(UUID(i), ProductionChange)
                    for i in self.views.covering_candidates(subsystem.strip(), at)
                ]
            )
            report = DeploymentReport.record(
                pipeline=pipeline,
                subsystem=subsystem,
                version=version,
                deployed_at=at,
                claimed_change_id=claimed_change_id,
                claimed=claimed,
                candidates=candidates,
                catalogue=self.log.settings.subsystems,
            )
            return Outcome(
                [report],
                DeploymentRef(str(report.id), report.change_id, report.unauthorised, report.reason),
            )

        ref = self.run(command)
        if ref.unauthorised:
            log.warning(
                "unauthorised_deployment_recorded",
                report_id=ref.id,
                pipeline=pipeline,
                subsystem=subsystem,
                version=version,
                claimed_change_id=claimed_change_id,
                reason=ref.reason,
            )
        return ref

    def _claimed(self, change_id: str) -> ProductionChange | None:
        try:
            return self.log.get(UUID(change_id.strip()), ProductionChange)
        except (ValueError, NotFound):
            return None  # a bogus claim is still recorded: as an unauthorised change
