"""What pipelines report they deployed: recorded always, linked or flagged."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from uuid import UUID

import orjson
import structlog

from services.change_control.domain import DeploymentReport, ProductionChange
from services.change_control.domain.values import now
from services.change_control.views import ChangeControlViews
from shared.application import Outcome, UseCases
from shared.contracts import CHANGE_REFERENCES
from shared.domain import InvalidCommand, NotFound
from shared.store.log import EventLog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeploymentRef:
    id: str
    change_id: str | None
    unauthorised: bool
    reason: str | None
    claimed_change_id: str | None = None
    """The change the report named, taken as under it or not."""


@dataclass(frozen=True)
class Coverage:
    """Whether a deployment of `subsystem` at `at` would be covered by an approved change."""

    subsystem: str
    at: str
    covered: bool
    change_id: str | None
    title: str | None
    window_start: str | None
    window_end: str | None
    reason: str | None  # the rule, when not covered
    detail: str  # one sentence a pipeline log can show


COVERAGE_REASONS = {
    "change_not_approved": "change {change} is not approved",
    "subsystem_not_in_change": "change {change} does not name {subsystem}",
    "outside_window": "{at} is outside the window of change {change} ({window})",
    "deployed_before_approval": "{at} is before change {change} was approved",
    "deployed_after_completion": "{at} is after change {change} was completed",
}
FUTURE_TOLERANCE = timedelta(minutes=5)
PAST_AT_MOST = timedelta(days=366)  # a report older than a year is a slip of the year
"""How far ahead of this server's clock a reported deployment time may be (clock skew)."""


class DeploymentReports(UseCases):
    """A report covered by an approved change in its window is linked to it; any other is
    recorded as an unauthorised change. None is refused for what it says, and none is lost."""

    def __init__(self, log: EventLog, views: ChangeControlViews) -> None:
        super().__init__(log)
        self.views = views

    def _by_reference(self, change: str | None) -> str | None:
        """A change named as people name it (CHG-7, as the gate prints it) is that change's
        id; any other text is taken as an id (an unknown one is an unknown change)."""
        number = CHANGE_REFERENCES.number(change) if change else None
        if number is None:
            return change
        return self.views.with_number(number) or change

    def change_id_of(self, change: str) -> str:
        """The id of the change `change` names, as an id or as CHG-7 (to list its
        reports): an unknown number is 404, text that is neither is 422, naming it."""
        number = CHANGE_REFERENCES.number(change)
        if number is not None:
            found = self.views.with_number(number)
            if found is None:
                raise NotFound("production_change_not_found", f"no production change {change}")
            return found
        try:
            return str(UUID(change))
        except ValueError:
            raise InvalidCommand(
                "invalid_change_id",
                f"change_id {change!r} names no change: give its id or its reference, CHG-7",
                field="change_id",
            ) from None

    def reported(self, pipeline: str, idempotency_key: str) -> DeploymentRef:
        """The deployment `pipeline` reported under `idempotency_key`, as Railyard answered
        it then: a re-run of a pipeline's step asks before it deploys again (the gate ran
        the command a second time, then could not report it under the same key)."""
        claim = self.log.find_claim(pipeline, idempotency_key)
        answer = orjson.loads(claim.response) if claim is not None and claim.status == 201 else {}
        # A claim holds whatever write used the key: only a deployment report's answer is one.
        if not isinstance(answer, dict) or set(answer) != {f.name for f in fields(DeploymentRef)}:
            raise NotFound(
                "deployment_not_reported",
                f"no deployment was reported under the idempotency key {idempotency_key!r}",
            )
        return DeploymentRef(**answer)

    def report(
        self,
        pipeline: str,
        subsystem: str,
        version: str,
        deployed_at: datetime | None,
        claimed_change_id: str | None,
    ) -> DeploymentRef:
        at = deployed_at or now()
        claimed_change_id = self._by_reference(claimed_change_id)
        if at > now() + FUTURE_TOLERANCE:
            raise InvalidCommand(
                "deployed_in_future",
                f"deployed_at {iso_of(at)} is in the future; report a deployment once it is done",
                field="deployed_at",
            )
        if at < now() - PAST_AT_MOST:
            raise InvalidCommand(
                "deployed_too_long_ago",
                f"deployed_at {iso_of(at)} is more than a year ago: check the year; a"
                " deployment is reported as it happens",
                field="deployed_at",
            )

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
                DeploymentRef(
                    str(report.id),
                    report.change_id,
                    report.unauthorised,
                    report.reason,
                    report.claimed_change_id,
                ),
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

    def coverage(self, subsystem: str, at: datetime, claimed_change_id: str | None) -> Coverage:
        """The pipeline gate's question, answered as a deployment report would be judged:
        by the claimed change when one is named, else by any approved change."""
        subsystem = subsystem.strip()
        when = iso_of(at)
        known = {s.casefold(): s for s in self.log.settings.subsystems}
        if subsystem.casefold() not in known:
            return _uncovered(
                subsystem,
                when,
                "unknown_subsystem",
                f"{subsystem!r} is not in the subsystem catalogue",
            )
        subsystem = known[subsystem.casefold()]
        claimed_change_id = self._by_reference(claimed_change_id)
        if claimed_change_id:
            change = self._claimed(claimed_change_id)
            if change is None:
                return _uncovered(
                    subsystem,
                    when,
                    "unknown_change",
                    f"there is no production change {claimed_change_id}",
                )
            candidates = [change]
        else:
            candidates = [
                self.log.get(UUID(i), ProductionChange)
                for i in self.views.covering_candidates(subsystem, at)
            ]
        reason = "no_approved_change"
        for change in candidates:
            refusal = change.coverage(subsystem, at)
            window = change.window
            if refusal is None and window is not None:
                return Coverage(
                    subsystem,
                    when,
                    True,
                    str(change.id),
                    change.title,
                    window.start_iso,
                    window.end_iso,
                    None,
                    f"covered by approved change {self._named(str(change.id))} “{change.title}”"
                    f" ({window.start_iso} to {window.end_iso})",
                )
            reason = refusal or reason
        if claimed_change_id and reason in COVERAGE_REASONS:
            change = candidates[0]
            window = change.window
            detail = COVERAGE_REASONS[reason].format(
                change=self._named(str(change.id)),
                subsystem=subsystem,
                at=when,
                window=f"{window.start_iso} to {window.end_iso}" if window else "none planned",
            )
            return _uncovered(subsystem, when, reason, detail)
        awaiting = self.views.awaiting_approval(subsystem, at)
        advice = (
            f"change {self._named(awaiting[0]['id'])} “{awaiting[0]['title']}” plans this"
            " window but is"
            " still in review: have the CAB approve it before deploying"
            if awaiting
            else "raise one and have it approved before deploying"
        )
        return _uncovered(
            subsystem,
            when,
            "no_approved_change",
            f"no approved production change covers {subsystem} at {when}: {advice}",
        )

    def _named(self, change_id: str) -> str:
        """CHG-7 (and its id, which `--change-id` takes), as people and pipelines read it."""
        row = self.views.change(change_id)
        reference = row.get("reference") if row else None
        return f"{reference} ({change_id})" if reference else change_id

    def _claimed(self, change_id: str) -> ProductionChange | None:

        try:
            return self.log.get(UUID(change_id.strip()), ProductionChange)
        except (ValueError, NotFound):
            return None  # a bogus claim is still recorded: as an unauthorised change


def iso_of(at: datetime) -> str:
    return at.isoformat()


def _uncovered(subsystem: str, at: str, reason: str, detail: str) -> Coverage:
    return Coverage(subsystem, at, False, None, None, None, None, reason, detail)
