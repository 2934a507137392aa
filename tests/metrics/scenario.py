"""A small history written through intake's real commands (with business times) and
release / change-control facts appended by their contract topics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID

from services.intake.application import Intake
from services.intake.domain import ClassOfService
from services.intake.views import IntakeViews
from shared import contracts as c
from shared.application import acting_as
from shared.platform import Platform
from tests.builders import draft
from tests.foreign import publish


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Office:
    """Drives intake as its people would, on dates of our choosing."""

    platform: Platform
    intake: Intake = field(init=False)

    def __post_init__(self) -> None:
        log = self.platform.log
        self.intake = Intake(log, IntakeViews(log), self.platform.directory)

    def submit(self, when: str, as_: str = "vp.sales", **overrides: object) -> str:
        principal = self.platform.directory.principal(as_)
        assert principal is not None
        with acting_as(as_, at=t(when)):
            return self.intake.submit(principal, draft(**overrides)).id

    def accept(self, rid: str, when: str) -> None:
        with acting_as("rm", at=t(when)):
            self.intake.accept(UUID(rid), "dev.alice", 5, ClassOfService.STANDARD, None)

    def deliver(self, rid: str, when: str, bundle_id: str | None = None) -> None:
        with acting_as("railyard", at=t(when)):
            self.intake.deliver(UUID(rid), bundle_id, None)

    def rate(self, rid: str, when: str, score: int, as_: str = "vp.sales") -> None:
        principal = self.platform.directory.principal(as_)
        assert principal is not None
        with acting_as(as_, at=t(when)):
            self.intake.rate(principal, UUID(rid), score, "")


def march_history(platform: Platform) -> dict[str, str]:
    """Sales: two requests delivered in March 2026 by bundle 2026.03 (on time), rated 4
    and 2; one accepted and still open. Care: one delivered 20 March. One failed
    operations change and one unauthorised deployment."""
    office = Office(platform)
    a = office.submit("2026-02-20 09:00", title="Alpha")
    b = office.submit("2026-03-01 09:00", title="Bravo")
    open_one = office.submit("2026-03-02 09:00", title="Charlie")
    care = office.submit("2026-03-05 09:00", as_="vp.care", title="Delta")
    for rid in (a, b, open_one, care):
        office.accept(rid, "2026-03-02 10:00" if rid != care else "2026-03-06 10:00")
    bundle = uuid.uuid4()
    log = platform.log
    publish(
        log,
        c.BUNDLE_PLANNED,
        bundle,
        1,
        at=t("2026-02-25 09:00"),
        train_id="monthly",
        name="2026.03",
        deploy_date="2026-03-10",
        window_start="2026-03-10T18:00:00+00:00",
        window_end="2026-03-10T23:00:00+00:00",
        scope_freeze_at=None,
        code_complete_at=None,
        qa_start_at=None,
        capacity_points=40,
        subsystem_capacity={},
    )
    for version, rid in enumerate((a, b), start=2):
        publish(
            log,
            c.REQUEST_SCHEDULED,
            bundle,
            version,
            at=t("2026-03-03 09:00"),
            request_id=rid,
            size_points=5,
            subsystems=["Billing"],
            after_freeze=False,
            reason="",
        )
    publish(
        log,
        c.BUNDLE_DEPLOYED,
        bundle,
        4,
        at=t("2026-03-10 19:00"),
        change_id=None,
        request_ids=[a, b],
    )
    office.deliver(a, "2026-03-10 19:05", str(bundle))
    office.deliver(b, "2026-03-10 19:05", str(bundle))
    office.deliver(care, "2026-03-20 12:00")
    office.rate(a, "2026-03-12 09:00", 4)
    office.rate(b, "2026-03-12 09:00", 2)
    change = uuid.uuid4()
    publish(
        log,
        c.CHANGE_RAISED,
        change,
        1,
        at=t("2026-03-04 09:00"),
        change_type="normal",
        title="Patch CRM",
        bundle_id=None,
        subsystems=["CRM"],
        window_start=None,
        window_end=None,
        requester="ops.olga",
        implementers=["ops.olga"],
        risk="low",
    )
    publish(log, c.CHANGE_APPROVED, change, 2, at=t("2026-03-05 09:00"), approvers=["cab.carl"])
    publish(
        log,
        c.CHANGE_COMPLETED,
        change,
        3,
        at=t("2026-03-06 09:00"),
        outcome="failed",
        change_type="normal",
        bundle_id=None,
        notes="",
    )
    publish(
        log,
        c.DEPLOYMENT_REPORTED,
        uuid.uuid4(),
        1,
        at=t("2026-03-07 09:00"),
        pipeline="jenkins",
        subsystem="CRM",
        version="9.1",
        deployed_at="2026-03-07T08:00:00Z",
        claimed_change_id=None,
        change_id=None,
        unauthorised=True,
        reason="no_approved_change",
    )
    return {"alpha": a, "bravo": b, "charlie": open_one, "delta": care, "bundle": str(bundle)}


AS_OF = date(2026, 3, 31)
