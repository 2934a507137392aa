"""Release bundles: the accepted requests one scheduled release will ship, its capacity,
its milestones, its scope freeze, the progress of its items and its way to production.

Every rule lives in a public command method; the `@event` methods only assign state,
because they run again whenever history is replayed. "Now" is the command's business
time (`shared.domain.business_now`), falling back to the real clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import event

from shared.domain import (
    AuditedAggregate,
    InvalidCommand,
    NotPermitted,
    RuleViolation,
    business_now,
    current_attribution,
    name_based_id,
)

QA_TEAM = "qa"
MOVE_AHEAD_AT_MOST_DAYS = 2 * 366  # as far as a change window is planned (decision 119)
ACCEPTED = "accepted"
NOT_IN_BUNDLE = "that request is not in this bundle (taken out meanwhile? reload the page)"


def now() -> datetime:
    return business_now() or datetime.now(UTC)


class Phase(StrEnum):
    """What has been decided about the bundle; freeze and QA start also follow the clock."""

    PLANNING = "planning"
    QA_SIGNED_OFF = "qa_signed_off"
    APPROVED_FOR_DEPLOYMENT = "approved_for_deployment"
    DEPLOYED = "deployed"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"


class BundleStatus(StrEnum):
    PLANNING = "planning"
    SCOPE_FROZEN = "scope_frozen"
    IN_QA = "in_qa"
    QA_SIGNED_OFF = "qa_signed_off"
    APPROVED_FOR_DEPLOYMENT = "approved_for_deployment"
    DEPLOYED = "deployed"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"


class Stage(StrEnum):
    SCHEDULED = "scheduled"
    IN_DEVELOPMENT = "in_development"
    READY_FOR_QA = "ready_for_qa"
    QA_PASSED = "qa_passed"
    QA_FAILED = "qa_failed"


QA_VERDICTS = frozenset({Stage.QA_PASSED, Stage.QA_FAILED})
DEVELOPMENT_STAGES = frozenset({Stage.IN_DEVELOPMENT.value, Stage.READY_FOR_QA.value})
"""Stages whose author may not pass the item in QA."""
QA_ACTIVITY = frozenset({Stage.READY_FOR_QA, Stage.QA_PASSED, Stage.QA_FAILED})
# Where an item may go next: back to development from QA, a regression after a pass.
NEXT_STAGES: dict[Stage, frozenset[Stage]] = {
    Stage.SCHEDULED: frozenset({Stage.IN_DEVELOPMENT, Stage.READY_FOR_QA}),
    Stage.IN_DEVELOPMENT: frozenset({Stage.READY_FOR_QA}),
    Stage.READY_FOR_QA: frozenset({Stage.IN_DEVELOPMENT, Stage.QA_PASSED, Stage.QA_FAILED}),
    Stage.QA_FAILED: frozenset({Stage.IN_DEVELOPMENT, Stage.READY_FOR_QA}),
    Stage.QA_PASSED: frozenset({Stage.QA_FAILED}),
}
SCOPE_OPEN = frozenset({Phase.PLANNING, Phase.ROLLED_BACK})
CLOSED = frozenset({Phase.DEPLOYED, Phase.CANCELLED})


def bundle_status(phase: Phase, frozen: bool, qa_started: bool) -> BundleStatus:
    """The status people see: the decided phase, refined by the freeze and QA start."""
    if phase != Phase.PLANNING:
        return BundleStatus(phase.value)
    if frozen and qa_started:
        return BundleStatus.IN_QA
    return BundleStatus.SCOPE_FROZEN if frozen else BundleStatus.PLANNING


def over_capacity(
    capacity_points: int,
    subsystem_capacity: Mapping[str, int],
    loads: Iterable[tuple[int, Sequence[str]]],
) -> list[dict[str, Any]]:
    """Where a scope of (size, subsystems) items exceeds capacity. A request counts its
    whole size against each subsystem it touches: work is not split between them."""
    items = list(loads)
    warnings = []
    total = sum(size for size, _ in items)
    if total > capacity_points:
        warnings.append({"scope": "total", "load": total, "capacity": capacity_points})
    for subsystem, capacity in sorted(subsystem_capacity.items()):
        load = sum(size for size, touched in items if subsystem in touched)
        if load > capacity:
            warnings.append({"scope": subsystem, "load": load, "capacity": capacity})
    return warnings


def bundle_id(train_id: str, slot_date: str) -> UUID:
    return name_based_id("release-bundle", f"{train_id}:{slot_date}")


class Placement(Protocol):
    """Which bundle holds a request: at most one at a time (`placements.RequestPlacement`,
    saved with the bundle, so two bundles cannot take the same request at once)."""

    def place(self, bundle: str) -> None: ...

    def vacate(self, bundle: str) -> None: ...


class BundleDates(Protocol):
    """A deployment day and its milestone instants (`cadence.Milestones`)."""

    @property
    def deploy_date(self) -> date: ...

    def event_fields(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class RequestFacts:
    """What release knows about a change request, from intake's published events."""

    request_id: str
    status: str
    size_points: int | None
    subsystems: Sequence[str] = field(default_factory=tuple)
    fixed_date: str | None = None  # the date it was promised for, if any


def _reason(value: str | None, what: str = "reason", required: bool = False) -> str:
    text = (value or "").strip()
    if len(text) > 2_000:
        raise InvalidCommand(f"{what}_too_long", f"a {what} is at most 2,000 characters")
    if required and not text:
        raise InvalidCommand(f"{what}_required", f"give a {what}")
    return text


class ReleaseBundle(AuditedAggregate):
    """One scheduled release of a train: its scope, capacity, milestones and state."""

    class Event(AuditedAggregate.Event):
        def mutate(self, aggregate: Any) -> Any:
            # An event body cannot see its actor: who took an item into development or
            # handed it to QA is remembered here, so that they cannot pass it themselves.
            bundle = super().mutate(aggregate)
            if type(self).__name__ == "ItemProgressed" and isinstance(bundle, ReleaseBundle):
                item = bundle.items.get(getattr(self, "request_id", ""))
                if item is not None and getattr(self, "stage", None) in DEVELOPMENT_STAGES:
                    item["developed_by"] = sorted({*item.get("developed_by", ()), self.actor})
            return bundle

    @staticmethod
    def create_id(train_id: str, slot_date: str) -> UUID:
        return bundle_id(train_id, slot_date)

    @classmethod
    def plan(
        cls,
        *,
        train: UUID,
        name: str,
        slot_date: date,
        milestones: BundleDates,
        capacity_points: int,
        subsystem_capacity: Mapping[str, int],
    ) -> ReleaseBundle:
        return cls(
            train_id=str(train),
            name=name,
            slot_date=slot_date.isoformat(),
            capacity_points=capacity_points,
            subsystem_capacity=dict(subsystem_capacity),
            **milestones.event_fields(),
        )

    @event("Planned")
    def __init__(
        self,
        train_id: str,
        name: str,
        slot_date: str,
        deploy_date: str,
        window_start: str,
        window_end: str,
        scope_freeze_at: str,
        code_complete_at: str,
        qa_start_at: str,
        capacity_points: int,
        subsystem_capacity: dict[str, int],
    ) -> None:
        self.train_id = train_id
        self.name = name
        self.slot_date = slot_date
        self._set_dates(
            deploy_date, window_start, window_end, scope_freeze_at, code_complete_at, qa_start_at
        )
        self.capacity_points = capacity_points
        self.subsystem_capacity = subsystem_capacity
        self.phase = Phase.PLANNING
        self.frozen_explicitly = False
        self.items: dict[str, dict[str, Any]] = {}
        self.change_id: str | None = None

    def _set_dates(
        self,
        deploy_date: str,
        window_start: str,
        window_end: str,
        scope_freeze_at: str,
        code_complete_at: str,
        qa_start_at: str,
    ) -> None:
        self.deploy_date = deploy_date
        self.window_start = window_start
        self.window_end = window_end
        self.scope_freeze_at = scope_freeze_at
        self.code_complete_at = code_complete_at
        self.qa_start_at = qa_start_at

    # -- what the bundle looks like now ---------------------------------------------

    def is_frozen(self, at: datetime | None = None) -> bool:
        moment = at or now()
        return self.frozen_explicitly or moment >= datetime.fromisoformat(self.scope_freeze_at)

    def status(self, at: datetime | None = None) -> BundleStatus:
        moment = at or now()
        qa_started = moment >= datetime.fromisoformat(self.qa_start_at) or any(
            item["stage"] in QA_ACTIVITY for item in self.items.values()
        )
        return bundle_status(self.phase, self.is_frozen(moment), qa_started)

    def load(self, subsystem: str | None = None) -> int:
        return sum(
            item["size_points"]
            for item in self.items.values()
            if subsystem is None or subsystem in item["subsystems"]
        )

    def capacity_warnings(self, extra: RequestFacts | None = None) -> list[dict[str, Any]]:
        """Where the scope, with `extra` added, would exceed capacity."""
        loads = [(item["size_points"], item["subsystems"]) for item in self.items.values()]
        if extra is not None:
            loads.append((extra.size_points or 0, list(extra.subsystems)))
        return over_capacity(self.capacity_points, self.subsystem_capacity, loads)

    # -- the release manager: dates, capacity, freeze -------------------------------

    def move(self, milestones: BundleDates, reason: str) -> None:
        """Move to another deployment date; the milestones follow, the reason is kept."""
        self._require_not_closed("move")
        if self.phase == Phase.APPROVED_FOR_DEPLOYMENT:
            raise RuleViolation(
                "deployment_approved",
                "the deployment change is approved for this window; it cannot move",
            )
        if milestones.deploy_date.isoformat() == self.deploy_date:
            raise RuleViolation(
                "date_unchanged", f"the bundle already deploys on {self.deploy_date}"
            )
        if milestones.deploy_date < now().date():
            raise InvalidCommand("date_in_past", "a bundle cannot move into the past")
        if (milestones.deploy_date - now().date()).days > MOVE_AHEAD_AT_MOST_DAYS:
            later = milestones.deploy_date.isoformat()
            raise InvalidCommand("date_too_far", f"{later} is over two years away: check the year")
        self._moved(
            reason=_reason(reason, required=True),
            previous_deploy_date=self.deploy_date,
            **milestones.event_fields(),
        )

    @event("Moved")
    def _moved(
        self,
        deploy_date: str,
        window_start: str,
        window_end: str,
        scope_freeze_at: str,
        code_complete_at: str,
        qa_start_at: str,
        reason: str,
        previous_deploy_date: str,
    ) -> None:
        self._set_dates(
            deploy_date, window_start, window_end, scope_freeze_at, code_complete_at, qa_start_at
        )

    def cancel(self, reason: str, placements: Sequence[Placement]) -> None:
        """Cancelling frees every scheduled request to be planned elsewhere."""
        self._require_not_closed("cancel")
        if self.phase == Phase.APPROVED_FOR_DEPLOYMENT:
            raise RuleViolation(
                "deployment_approved", "the deployment change is approved; it cannot be cancelled"
            )
        self._cancelled(reason=_reason(reason, required=True), request_ids=list(self.items))
        for placement in placements:
            placement.vacate(str(self.id))

    @event("Cancelled")
    def _cancelled(self, reason: str, request_ids: list[str]) -> None:
        self.phase = Phase.CANCELLED

    def change_capacity(
        self, capacity_points: int, subsystem_capacity: Mapping[str, int], reason: str
    ) -> None:
        self._require_not_closed("change the capacity of")
        self._capacity_changed(
            capacity_points=capacity_points,
            subsystem_capacity=dict(subsystem_capacity),
            reason=_reason(reason),
        )

    @event("CapacityChanged")
    def _capacity_changed(
        self, capacity_points: int, subsystem_capacity: dict[str, int], reason: str
    ) -> None:
        self.capacity_points = capacity_points
        self.subsystem_capacity = subsystem_capacity

    def freeze(self, note: str) -> None:
        """Freeze the scope before its date; from then on changes are exceptions."""
        self._require_scope_open("freeze")
        if self.is_frozen():
            raise RuleViolation("already_frozen", "the scope is already frozen")
        self._scope_frozen(note=_reason(note, "note"))

    @event("ScopeFrozen")
    def _scope_frozen(self, note: str) -> None:
        self.frozen_explicitly = True

    # -- scope ----------------------------------------------------------------------

    def schedule(
        self, request: RequestFacts, placement: Placement, reason: str | None
    ) -> list[dict[str, Any]]:
        """Schedule an accepted request that is in no other bundle. After the freeze this is
        an exception that needs a reason. Over capacity is a warning, not a refusal: the
        warnings are returned and recorded, with the reason as the override."""
        self._require_scope_open("add to")
        if request.status != ACCEPTED or request.size_points is None:
            raise RuleViolation(
                "request_not_accepted",
                f"only accepted requests are scheduled; {request.request_id} is {request.status}",
                state=request.status,
            )
        if request.request_id in self.items:
            raise RuleViolation("already_in_bundle", "the request is already in this bundle")
        frozen = self._require_exception_reason(reason, "adding")
        mine = {"total", *request.subsystems}  # where it adds load: others' is not its doing
        warnings = [w for w in self.capacity_warnings(request) if w["scope"] in mine]
        placement.place(str(self.id))
        self._request_scheduled(
            request_id=request.request_id,
            size_points=request.size_points,
            subsystems=list(request.subsystems),
            after_freeze=frozen,
            reason=_reason(reason),
            over_capacity=bool(warnings),
        )
        return warnings

    @event("RequestScheduled")
    def _request_scheduled(
        self,
        request_id: str,
        size_points: int,
        subsystems: list[str],
        after_freeze: bool,
        reason: str,
        over_capacity: bool,
    ) -> None:
        self.items[request_id] = {
            "size_points": size_points,
            "subsystems": subsystems,
            "stage": Stage.SCHEDULED,
            "after_freeze": after_freeze,
        }

    def unschedule(self, request_id: str, placement: Placement, reason: str | None) -> None:
        """Take a request out; after the freeze this is an exception that needs a reason."""
        self._require_scope_open("remove from")
        self._require_item(request_id)
        frozen = self._require_exception_reason(reason, "removing")
        self._remove(request_id, placement, frozen, _reason(reason), pulled=False)

    def pull(self, request_id: str, placement: Placement, reason: str) -> None:
        """Pull an item that failed QA, so the rest of the bundle can still ship."""
        self._require_scope_open("pull from")
        item = self._require_item(request_id)
        if item["stage"] != Stage.QA_FAILED:
            raise RuleViolation(
                "item_not_failed",
                f"only an item that failed QA is pulled; this one is {item['stage']}",
                stage=str(item["stage"]),
            )
        self._remove(
            request_id, placement, self.is_frozen(), _reason(reason, required=True), pulled=True
        )

    def _remove(
        self, request_id: str, placement: Placement, frozen: bool, reason: str, pulled: bool
    ) -> None:
        placement.vacate(str(self.id))
        self._request_unscheduled(
            request_id=request_id, after_freeze=frozen, reason=reason, pulled=pulled
        )

    @event("RequestUnscheduled")
    def _request_unscheduled(
        self, request_id: str, after_freeze: bool, reason: str, pulled: bool
    ) -> None:
        del self.items[request_id]

    # -- IT staff: progress and QA --------------------------------------------------

    def record_progress(self, request_id: str, stage: Stage, note: str, team: str | None) -> None:
        """IT staff move an item through development and QA; QA's verdicts are the QA
        team's to give, and nobody passes an item they developed or handed to QA."""
        if stage in QA_VERDICTS and team != QA_TEAM:
            raise NotPermitted("qa_team_only", "only the QA team records QA verdicts")
        self._require_not_closed("record progress in")
        if self.phase in (Phase.QA_SIGNED_OFF, Phase.APPROVED_FOR_DEPLOYMENT):
            raise RuleViolation("bundle_signed_off", "QA has signed off this bundle")
        item = self._require_item(request_id)
        by = current_attribution().actor
        if stage == Stage.QA_PASSED and by in item.get("developed_by", ()):
            raise NotPermitted(
                "own_work",
                f"{by} worked on this item (in development or ready for QA);"
                " another member of QA must pass it",
            )
        if stage == Stage.QA_FAILED and not note.strip():
            raise InvalidCommand("note_required", "say what failed: whoever fixes it reads it")
        current = Stage(item["stage"])
        if stage == Stage.SCHEDULED or stage not in NEXT_STAGES[current]:
            raise RuleViolation(
                "stage_not_allowed",
                f"an item that is {current} cannot become {stage}",
                stage=current.value,
            )
        self._item_progressed(
            request_id=request_id,
            stage=stage.value,
            note=_reason(note, "note"),
            previous=current.value,
        )

    @event("ItemProgressed")
    def _item_progressed(self, request_id: str, stage: str, note: str, previous: str) -> None:
        self.items[request_id]["stage"] = Stage(stage)

    def sign_off(self, note: str, team: str | None) -> None:
        """QA signs off a frozen bundle once every item in it passed."""
        if team != QA_TEAM:
            raise NotPermitted("qa_team_only", "only the QA team signs off a bundle")
        self._require_scope_open("sign off")
        if not self.is_frozen():
            raise RuleViolation("scope_not_frozen", "freeze the scope before QA signs it off")
        if not self.items:
            raise RuleViolation("bundle_empty", "there is nothing in the bundle to sign off")
        waiting = [r for r, item in self.items.items() if item["stage"] != Stage.QA_PASSED]
        if waiting:
            raise RuleViolation(
                "items_not_passed",
                f"{len(waiting)} item{' has' if len(waiting) == 1 else 's have'} not passed QA",
                request_ids=waiting,
            )
        self._qa_signed_off(request_ids=list(self.items), note=_reason(note, "note"))

    @event("QASignedOff")
    def _qa_signed_off(self, request_ids: list[str], note: str) -> None:
        self.phase = Phase.QA_SIGNED_OFF

    # -- change control's decisions (reactions) --------------------------------------

    def approve_for_deployment(self, change_id: str) -> bool:
        """The production change for this bundle was approved; False if already recorded."""
        if self.phase == Phase.APPROVED_FOR_DEPLOYMENT and self.change_id == change_id:
            return False
        if self.phase not in (Phase.QA_SIGNED_OFF, Phase.APPROVED_FOR_DEPLOYMENT):
            raise RuleViolation(
                "qa_not_signed_off",
                f"a bundle is approved for deployment only after QA sign-off; it is {self.phase}",
                state=self.phase.value,
            )
        self._approved_for_deployment(change_id=change_id)
        return True

    @event("ApprovedForDeployment")
    def _approved_for_deployment(self, change_id: str) -> None:
        self.phase = Phase.APPROVED_FOR_DEPLOYMENT
        self.change_id = change_id

    def withdraw_deployment_approval(self, change_id: str, reason: str) -> bool:
        """The approving change was edited, withdrawn or rejected: the bundle waits for a
        new approval again. False (nothing recorded) if that change had not approved it."""
        if self.phase != Phase.APPROVED_FOR_DEPLOYMENT or self.change_id != change_id:
            return False
        self._deployment_approval_withdrawn(change_id=change_id, reason=_reason(reason))
        return True

    @event("DeploymentApprovalWithdrawn")
    def _deployment_approval_withdrawn(self, change_id: str, reason: str) -> None:
        self.phase = Phase.QA_SIGNED_OFF
        self.change_id = None

    def deploy(self, change_id: str) -> bool:
        """The approved change succeeded: the bundle's requests are in production."""
        if self.phase == Phase.DEPLOYED and self.change_id == change_id:
            return False
        self._require_approved(change_id)
        self._deployed(change_id=change_id, request_ids=list(self.items))
        return True

    @event("Deployed")
    def _deployed(self, change_id: str, request_ids: list[str]) -> None:
        self.phase = Phase.DEPLOYED

    def roll_back(self, change_id: str, outcome: str, reason: str) -> bool:
        """The approved change failed or was rolled back: QA must sign off again."""
        if self.phase == Phase.ROLLED_BACK and self.change_id == change_id:
            return False
        self._require_approved(change_id)
        self._rolled_back(change_id=change_id, reason=_reason(reason), outcome=outcome)
        return True

    @event("RolledBack")
    def _rolled_back(self, change_id: str, reason: str, outcome: str) -> None:
        self.phase = Phase.ROLLED_BACK

    # -- helpers --------------------------------------------------------------------

    def _require_not_closed(self, action: str) -> None:
        if self.phase in CLOSED:
            raise RuleViolation(
                "bundle_closed",
                f"cannot {action} a bundle that is {self.phase}",
                state=self.phase.value,
            )

    def scope_open(self) -> bool:
        """Whether requests may still be added or removed (not signed off, approved or
        closed)."""
        return self.phase in SCOPE_OPEN

    def _require_scope_open(self, action: str) -> None:
        self._require_not_closed(action)
        if self.phase not in SCOPE_OPEN:
            raise RuleViolation(
                "scope_locked",
                f"cannot {action} a bundle that is {self.phase}",
                state=self.phase.value,
            )

    def _require_item(self, request_id: str) -> dict[str, Any]:
        item = self.items.get(request_id)
        if item is None:
            raise RuleViolation("not_in_bundle", NOT_IN_BUNDLE, request_id=request_id)
        return item

    def _require_exception_reason(self, reason: str | None, action: str) -> bool:
        frozen = self.is_frozen()
        if frozen and not (reason or "").strip():
            raise RuleViolation(
                "scope_frozen",
                f"the scope is frozen: {action} a request now is an exception that needs a reason",
            )
        return frozen

    def _require_approved(self, change_id: str) -> None:
        if self.phase != Phase.APPROVED_FOR_DEPLOYMENT:
            raise RuleViolation(
                "not_approved_for_deployment",
                f"the bundle is {self.phase}, not approved for deployment",
                state=self.phase.value,
            )
        if self.change_id != change_id:
            raise RuleViolation(
                "change_mismatch",
                f"the bundle was approved under change {self.change_id}, not {change_id}",
            )
