"""Test-data builders for change control: a valid change unless a test says otherwise,
and release's bundle facts appended by their contract topics (release is another service)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.change_control.domain import ChangePlan, ProductionChange
from services.change_control.domain.gates import GateFacts
from services.change_control.domain.plans import TemplateTerms
from services.change_control.domain.risk import (
    AffectedUsers,
    ApprovalPolicy,
    Impact,
    Likelihood,
    Questionnaire,
    Reviewer,
)
from services.change_control.domain.values import ChangeType, Window
from shared import contracts
from shared.settings import DEFAULT_SUBSYSTEMS
from shared.store.log import EventLog
from tests.foreign import publish

LOW = {
    "impact": "minor",
    "likelihood": "unlikely",
    "affected_users": "none",
    "backout_tested": True,
}
MEDIUM = {
    "impact": "moderate",
    "likelihood": "possible",
    "affected_users": "some",
    "backout_tested": True,
}
HIGH = {"impact": "major", "likelihood": "likely", "affected_users": "all", "backout_tested": False}

CARL = Reviewer("cab.carl", cab_member=True, team="development")
DORA = Reviewer("cab.dora", cab_member=True, team="qa")
OLGA = Reviewer("ops.olga", cab_member=True, team="operations")
ERIN = Reviewer("cab.erin", cab_member=True, team="development")


def questionnaire(answers: dict[str, Any]) -> Questionnaire:
    return Questionnaire(
        Impact(answers["impact"]),
        Likelihood(answers["likelihood"]),
        AffectedUsers(answers["affected_users"]),
        bool(answers["backout_tested"]),
    )


def window(
    starts_in: timedelta = timedelta(minutes=-10), lasts: timedelta = timedelta(hours=2)
) -> Window:
    """By default a window that is open now, so an approved change can start."""
    start = datetime.now(UTC).replace(microsecond=0) + starts_in
    found = Window.of(start, start + lasts)
    assert found is not None
    return found


def plan(**overrides: Any) -> ChangePlan:
    values: dict[str, Any] = {
        "title": "Patch the billing database",
        "subsystems": ["Billing"],
        "window": window(),
        "implementation_plan": "Apply patch 42 to the primary, then the replica.",
        "backout_plan": "Restore the snapshot taken before the patch.",
        "test_evidence": "Applied in staging on Monday; smoke tests passed.",
        "implementers": ["dev.alice"],
        "questionnaire": questionnaire(LOW),
    }
    values.update(overrides)
    return ChangePlan(**values)


def new_change(
    change_type: ChangeType = ChangeType.NORMAL,
    requester: str = "dev.alice",
    facts: GateFacts | None = None,
    policy: ApprovalPolicy | None = None,
    bundle_id: str | None = None,
    template: TemplateTerms | None = None,
    **plan_overrides: Any,
) -> ProductionChange:
    return ProductionChange.raise_change(
        change_type=change_type,
        plan=plan(**plan_overrides),
        requester=requester,
        catalogue=DEFAULT_SUBSYSTEMS,
        policy=policy or ApprovalPolicy(),
        facts=facts or GateFacts(),
        bundle_id=bundle_id,
        template=template,
    )


def change_payload(**overrides: Any) -> dict[str, Any]:
    w = window()
    payload: dict[str, Any] = {
        "change_type": "normal",
        "title": "Patch the billing database",
        "subsystems": ["Billing"],
        "window_start": w.start_iso,
        "window_end": w.end_iso,
        "implementation_plan": "Apply patch 42 to the primary, then the replica.",
        "backout_plan": "Restore the snapshot taken before the patch.",
        "test_evidence": "Applied in staging on Monday.",
        "implementers": ["dev.alice"],
        "risk": LOW,
    }
    payload.update(overrides)
    return payload


def revision_payload(**overrides: Any) -> dict[str, Any]:
    payload = change_payload(**overrides)
    for key in ("change_type", "bundle_id", "template_id"):
        payload.pop(key, None)
    return payload


def raise_change(api: Any, as_: str = "dev.alice", **overrides: Any) -> str:
    response = api.post("/api/changes", as_, json=change_payload(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def approve(api: Any, change_id: str, *people: str) -> Any:
    response = None
    for person in people:
        response = api.post(f"/api/changes/{change_id}/approve", person, json={})
        assert response.status_code == 200, response.text
    return response


def add_cab_member(api: Any, username: str, team: str = "development") -> None:
    """Another CAB member with a token (the fixtures' board is three people)."""
    from shared.application import acting_as

    with acting_as("test-setup"):
        api.platform.identity.register(username, username, ["cab_member"], None, team)
        api.people.tokens[username] = api.platform.identity.issue_token(username, "test").token


@dataclass
class ForeignBundle:
    """A release bundle, as release would publish it to the log."""

    log: EventLog
    name: str = "2027.03"
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    version: int = 0
    requests: list[str] = field(default_factory=list)

    def _publish(self, contract: contracts.Published, **data: Any) -> None:
        self.version += 1
        publish(self.log, contract, self.id, self.version, actor="rm", **data)

    def planned(self, w: Window | None = None, scope_freeze_at: str | None = None) -> ForeignBundle:
        w = w or window()
        self._publish(
            contracts.BUNDLE_PLANNED,
            train_id=str(uuid.uuid4()),
            name=self.name,
            deploy_date=w.start.date().isoformat(),
            window_start=w.start_iso,
            window_end=w.end_iso,
            scope_freeze_at=scope_freeze_at,
            code_complete_at=None,
            qa_start_at=None,
            capacity_points=40,
            subsystem_capacity={},
        )
        return self

    def scheduled(
        self, *request_ids: str, subsystems: tuple[str, ...] = ("Billing",)
    ) -> ForeignBundle:
        for request_id in request_ids or (str(uuid.uuid4()),):
            self.requests.append(request_id)
            self._publish(
                contracts.REQUEST_SCHEDULED,
                request_id=request_id,
                size_points=3,
                subsystems=list(subsystems),
                after_freeze=False,
                reason="",
            )
        return self

    def frozen(self) -> ForeignBundle:
        self._publish(contracts.SCOPE_FROZEN)
        return self

    def moved(self, w: Window) -> ForeignBundle:
        self._publish(
            contracts.BUNDLE_MOVED,
            deploy_date=w.start.date().isoformat(),
            window_start=w.start_iso,
            window_end=w.end_iso,
            scope_freeze_at=None,
            code_complete_at=None,
            qa_start_at=None,
            reason="ops team away",
        )
        return self

    def signed_off(self) -> ForeignBundle:
        self._publish(contracts.QA_SIGNED_OFF, request_ids=list(self.requests))
        return self

    def rolled_back(self, change_id: str) -> ForeignBundle:
        self._publish(contracts.BUNDLE_ROLLED_BACK, change_id=change_id, reason="failed")
        return self

    def cancelled(self) -> ForeignBundle:
        self._publish(contracts.BUNDLE_CANCELLED, reason="business asked to wait")
        return self

    def ready(self) -> ForeignBundle:
        """Planned, scoped, frozen and signed off: every gate of a release deployment met."""
        return self.planned().scheduled().frozen().signed_off()
