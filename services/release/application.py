"""Release use cases: each loads a train or bundle, makes one decision, saves it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from services.release.cadence import Cadence, MilestoneOffsets
from services.release.domain import ReleaseBundle, RequestFacts, Stage, bundle_id, now
from services.release.placements import RequestPlacement, placement_id
from services.release.queries import ReleaseViews
from services.release.trains import ReleaseTrain, check_capacity, train_id
from shared.application import Outcome, UseCases
from shared.domain import DomainError, NotFound, RuleViolation
from shared.identity.domain import Principal
from shared.store.log import EventLog


@dataclass(frozen=True)
class TrainDraft:
    """What a release manager fills in to define a train."""

    name: str
    cadence: Cadence
    offsets: MilestoneOffsets
    capacity_points: int
    subsystem_capacity: Mapping[str, int] = field(default_factory=dict)
    timezone: str | None = None


@dataclass(frozen=True)
class BundleRef:
    id: str
    version: int
    status: str


@dataclass(frozen=True)
class MovedBundle:
    id: str
    version: int
    status: str
    warnings: list[str]
    """What the move leaves to be done (a release change to revise, a freeze passed)."""


@dataclass(frozen=True)
class TrainRef:
    id: str
    name: str
    version: int
    bundle_ids: list[str]
    """The bundles this call planned (none when every date asked for had one)."""
    next_bundle_ids: list[str] = field(default_factory=list)
    """The bundles of the train's next deployments asked for, planned before or now."""


@dataclass(frozen=True)
class StaysInBundle:
    """A withdrawn request left in the bundle that holds it: that bundle's scope is
    locked (`phase`: signed off, approved for deployment or closed)."""

    bundle_id: str
    phase: str


@dataclass(frozen=True)
class ScopeChange:
    bundle_id: str
    request_id: str
    version: int
    status: str
    after_freeze: bool
    warnings: list[dict[str, Any]] = field(default_factory=list)
    misses_fixed_date: str | None = None
    """The request's fixed date, when this bundle deploys after it: a promise broken."""
    ahead_of_rank: list[str] = field(default_factory=list)
    """The department's requests ranked above it that no bundle holds (REQ-n), when it
    was scheduled past them."""


@dataclass(frozen=True)
class AppliedPlan:
    scheduled: list[ScopeChange]


class Releases(UseCases):
    """Release trains and bundles: planning, scope, freeze, progress, QA and deployment."""

    def __init__(self, log: EventLog, views: ReleaseViews) -> None:
        super().__init__(log)
        self.views = views
        self.catalogue = log.settings.subsystems
        self.zone = log.settings.timezone

    # -- trains ---------------------------------------------------------------------

    def define_train(self, draft: TrainDraft, generate: int = 0) -> TrainRef:
        """Define a named cadence and, optionally, plan its next `generate` bundles."""

        def command() -> Outcome[TrainRef]:
            if self.log.exists(train_id(draft.name)):
                raise RuleViolation("train_exists", f"a train named {draft.name!r} exists")
            train = ReleaseTrain.define(
                name=draft.name,
                cadence=draft.cadence,
                offsets=draft.offsets,
                capacity_points=draft.capacity_points,
                subsystem_capacity=draft.subsystem_capacity,
                timezone=draft.timezone or self.zone,
                catalogue=self.catalogue,
            )
            bundles = self._due_bundles(train, generate) if generate else []
            planned = [str(b.id) for b in bundles]
            ref = TrainRef(str(train.id), train.name, train.version, planned, planned)
            return Outcome([train, *bundles], ref)

        return self.run(command)

    def generate_bundles(self, train: UUID, count: int) -> TrainRef:
        """Make sure the train's next `count` deployments each have a bundle: those that
        have none yet are planned (asking twice plans nothing more)."""

        def command() -> Outcome[TrainRef]:
            loaded = self.log.get(train, ReleaseTrain, "release train")
            bundles = self._due_bundles(loaded, count)
            today = now().astimezone(ZoneInfo(loaded.timezone)).date()
            slots = loaded.upcoming(today, count)
            every = [str(bundle_id(str(loaded.id), s.slot_date.isoformat())) for s in slots]
            planned = [str(b.id) for b in bundles]
            return Outcome(
                bundles, TrainRef(str(loaded.id), loaded.name, loaded.version, planned, every)
            )

        return self.run(command)

    def _due_bundles(self, train: ReleaseTrain, count: int) -> list[ReleaseBundle]:
        today = now().astimezone(ZoneInfo(train.timezone)).date()
        return [
            ReleaseBundle.plan(
                train=train.id,
                name=slot.name,
                slot_date=slot.slot_date,
                milestones=slot.milestones,
                capacity_points=train.capacity_points,
                subsystem_capacity=train.subsystem_capacity,
            )
            for slot in train.upcoming(today, count)
            if not self.log.exists(bundle_id(str(train.id), slot.slot_date.isoformat()))
        ]

    # -- bundles: dates, capacity, freeze -------------------------------------------

    def move(self, bundle: UUID, deploy_date: date, reason: str) -> MovedBundle:
        """Move to another date; the answer warns of what the move leaves to be done."""
        self.views.group.catch_up()

        def command() -> Outcome[MovedBundle]:
            b = self._bundle(bundle)
            before = b.status().value
            train = self.log.get(UUID(b.train_id), ReleaseTrain, "release train")
            b.move(train.milestones_for(deploy_date), reason)
            after = b.status().value
            warnings = self.left_by_move(str(b.id), deploy_date, before, after)
            return Outcome([b], MovedBundle(str(b.id), b.version, after, warnings))

        return self.run(command)

    def left_by_move(self, bundle: str, deploy_date: date, before: str, after: str) -> list[str]:
        """What a move of `bundle` to `deploy_date` leaves to be done or known: its release
        change to revise, the milestones it passed (`before` and `after`: its status),
        other bundles deploying that day. Said with the move's answer and, from what is
        recorded, on the page the move leads to."""
        warnings = []
        change = self.views.open_change(bundle)
        if change is not None:
            warnings.append(
                f"its release deployment change “{change['title']}” was planned for the"
                " old date: revise its window to the new one, which the CAB will check"
            )
        if after != before:
            warnings.append(
                f"its milestones (scope freeze, QA start) moved with it: it is"
                f" {_said(after)} now, no longer {_said(before)}"
            )
        same_day = [
            other["name"]
            for other in self.views.bundles(from_date=deploy_date)
            if other["deploy_date"] == deploy_date.isoformat()
            and other["id"] != bundle
            and other["status"] != "cancelled"
        ]
        if same_day:
            warnings.append(f"{', '.join(same_day)} deploys on {deploy_date} too")
        if overtaken := self._overtaken(bundle, deploy_date):
            one = len(overtaken) == 1
            warnings.append(
                f"it now deploys before {', '.join(overtaken)}, which"
                f" {'was' if one else 'were'} to deploy ahead of it: the work the departments"
                f" ranked first, planned into {'that bundle' if one else 'those'}, now ships"
                " after this one's"
            )
        return warnings

    def _overtaken(self, bundle: str, deploy_date: date) -> list[str]:
        """The open bundles that deployed before `bundle` did before its last move and
        now deploy after it (moved earlier past them)."""
        dates = [h["data"]["deploy_date"] for h in self.views.history(bundle)
                 if h["data"].get("deploy_date")]  # fmt: skip
        # The date before this move: the history holds the move already (the page asks
        # after it) or not yet (the move's own answer).
        while dates and dates[-1] == deploy_date.isoformat():
            dates.pop()
        if not dates:
            return []
        was = date.fromisoformat(dates[-1])
        return [
            other["name"]
            if other["deploy_date"] in other["name"]
            else f"{other['name']} ({other['deploy_date']})"
            for other in self.views.bundles(from_date=deploy_date + timedelta(days=1))
            if other["id"] != bundle
            and other["status"] not in ("cancelled", "deployed")
            and date.fromisoformat(other["deploy_date"]) < was
        ]

    def cancel(self, bundle: UUID, reason: str) -> BundleRef:
        def command() -> Outcome[BundleRef]:
            b = self._bundle(bundle)
            placements = [self._placement(r) for r in b.items]
            b.cancel(reason, placements)
            return Outcome([b, *placements], _ref(b))

        return self.run(command)

    def change_capacity(
        self, bundle: UUID, capacity_points: int, subsystem_capacity: Mapping[str, int], reason: str
    ) -> BundleRef:
        checked = check_capacity(capacity_points, subsystem_capacity, self.catalogue)
        return self._change(bundle, lambda b: b.change_capacity(capacity_points, checked, reason))

    def freeze(self, bundle: UUID, note: str) -> BundleRef:
        return self._change(bundle, lambda b: b.freeze(note))

    # -- scope ----------------------------------------------------------------------

    def schedule(self, bundle: UUID, request_id: UUID, reason: str | None) -> ScopeChange:
        """Schedule a request that intake accepted and no other bundle holds."""
        self.views.group.catch_up()

        def command() -> Outcome[ScopeChange]:
            b = self._bundle(bundle)
            facts = self._facts(request_id)
            placement = self._placement(facts.request_id)
            warnings = b.schedule(facts, placement, reason)
            change = _scope_change(b, facts.request_id, warnings)
            if facts.fixed_date and facts.fixed_date < b.deploy_date:
                change = replace(change, misses_fixed_date=facts.fixed_date)
            return Outcome([b, placement], change)

        done = self.run(command)  # then what it went ahead of: said, not decided by it
        return replace(done, ahead_of_rank=self.views.ahead_of_rank(done.request_id))

    def unschedule(self, bundle: UUID, request_id: UUID, reason: str | None) -> ScopeChange:
        return self._remove(
            bundle, request_id, lambda b, p: b.unschedule(str(request_id), p, reason)
        )

    def release_withdrawn(
        self, request_id: UUID, reason: str
    ) -> ScopeChange | StaysInBundle | None:
        """A request its requester withdrew leaves the bundle it is scheduled in (after the
        freeze, as an exception with the withdrawal's reason). None when it is in no
        bundle; StaysInBundle when its bundle's scope is locked (signed off or approved
        for deployment), where it stays for the release manager to deal with."""

        def command() -> Outcome[ScopeChange | StaysInBundle | None]:
            placement = self._placement(str(request_id))
            if placement.bundle_id is None:
                return Outcome([], None)
            b = self._bundle(UUID(placement.bundle_id))
            if str(request_id) not in b.items:
                return Outcome([], None)
            if not b.scope_open():
                return Outcome([], StaysInBundle(placement.bundle_id, b.phase.value))
            why = (
                f"withdrawn by its requester: {reason}" if reason else "withdrawn by its requester"
            )
            b.unschedule(str(request_id), placement, why[:2_000])
            return Outcome([b, placement], _scope_change(b, str(request_id), []))

        return self.run(command)

    def pull(self, bundle: UUID, request_id: UUID, reason: str) -> ScopeChange:
        return self._remove(bundle, request_id, lambda b, p: b.pull(str(request_id), p, reason))

    def _remove(
        self,
        bundle: UUID,
        request_id: UUID,
        decide: Callable[[ReleaseBundle, RequestPlacement], None],
    ) -> ScopeChange:
        def command() -> Outcome[ScopeChange]:
            b = self._bundle(bundle)
            placement = self._placement(str(request_id))
            decide(b, placement)
            return Outcome([b, placement], _scope_change(b, str(request_id), []))

        return self.run(command)

    def apply_plan(self, items: Sequence[tuple[UUID, UUID]]) -> AppliedPlan:
        """Schedule the chosen (request, bundle) pairs of a suggested plan, all or nothing."""
        self.views.group.catch_up()

        def command() -> Outcome[AppliedPlan]:
            bundles: dict[UUID, ReleaseBundle] = {}
            placements: dict[str, RequestPlacement] = {}
            done = []
            for request_id, target in items:
                try:
                    b = bundles.get(target) or bundles.setdefault(target, self._bundle(target))
                    facts = self._facts(request_id)
                    placement = placements.get(facts.request_id) or placements.setdefault(
                        facts.request_id, self._placement(facts.request_id)
                    )
                    warnings = b.schedule(facts, placement, None)
                except DomainError as refused:
                    # Named as the plan page names them; the ids stay in the problem.
                    titles, _ = self.views.titles([str(request_id)], [])
                    what = f"“{titles[str(request_id)]}”" if titles else f"request {request_id}"
                    where = bundles[target].name if target in bundles else f"bundle {target}"
                    raise type(refused)(
                        refused.rule,
                        f"{what} into {where}: {refused.detail}",
                        **{**refused.extra, "request_id": str(request_id)},
                    ) from None
                done.append(_scope_change(b, facts.request_id, warnings))
            return Outcome([*bundles.values(), *placements.values()], AppliedPlan(done))

        applied = self.run(command)
        # Read once all are scheduled: a request applied with those ranked above it did
        # not go past them.
        skipped = self.views.ahead_of_ranks([d.request_id for d in applied.scheduled])
        return AppliedPlan(
            [replace(d, ahead_of_rank=skipped.get(d.request_id, [])) for d in applied.scheduled]
        )

    # -- progress and QA ------------------------------------------------------------

    def record_progress(
        self, caller: Principal, bundle: UUID, request_id: UUID, stage: Stage, note: str
    ) -> BundleRef:
        team = caller.team.value if caller.team else None
        return self._change(bundle, lambda b: b.record_progress(str(request_id), stage, note, team))

    def sign_off(self, caller: Principal, bundle: UUID, note: str) -> BundleRef:
        team = caller.team.value if caller.team else None
        return self._change(bundle, lambda b: b.sign_off(note, team))

    # -- change control's outcomes (reactions) --------------------------------------

    def approve_for_deployment(self, bundle: UUID, change_id: str) -> BundleRef:
        return self._change(bundle, lambda b: b.approve_for_deployment(change_id))

    def withdraw_deployment_approval(self, bundle: UUID, change_id: str, reason: str) -> BundleRef:
        return self._change(bundle, lambda b: b.withdraw_deployment_approval(change_id, reason))

    def deploy(self, bundle: UUID, change_id: str) -> BundleRef:

        return self._change(bundle, lambda b: b.deploy(change_id))

    def roll_back(self, bundle: UUID, change_id: str, outcome: str, reason: str) -> BundleRef:
        return self._change(bundle, lambda b: b.roll_back(change_id, outcome, reason))

    # -- helpers --------------------------------------------------------------------

    def _change(self, bundle: UUID, decide: Callable[[ReleaseBundle], object]) -> BundleRef:
        def command() -> Outcome[BundleRef]:
            b = self._bundle(bundle)
            decide(b)
            return Outcome([b], _ref(b))

        return self.run(command)

    def _bundle(self, bundle: UUID) -> ReleaseBundle:
        return self.log.get(bundle, ReleaseBundle, "release bundle")

    def _placement(self, request_id: str) -> RequestPlacement:
        pid = placement_id(request_id)
        if self.log.exists(pid):
            return self.log.get(pid, RequestPlacement)
        return RequestPlacement(request_id=request_id)

    def _facts(self, request_id: UUID) -> RequestFacts:
        facts = self.views.request_facts(str(request_id))
        if facts is None:
            raise NotFound("change_request_not_found", f"no change request with id {request_id}")
        return facts


def _ref(b: ReleaseBundle) -> BundleRef:
    return BundleRef(str(b.id), b.version, b.status().value)


def _scope_change(b: ReleaseBundle, request_id: str, warnings: list[dict[str, Any]]) -> ScopeChange:
    pending = b.items.get(request_id)
    after_freeze = bool(pending["after_freeze"]) if pending else b.is_frozen()
    return ScopeChange(str(b.id), request_id, b.version, b.status().value, after_freeze, warnings)


def _said(status: str) -> str:
    """A bundle's status in a sentence: 'in QA', 'scope frozen'."""
    return status.replace("_", " ").replace("qa", "QA")
