"""Production changes: raise, revise, withdraw, approve, reject, implement, review."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from uuid import UUID

from services.change_control.application import approval_policy, parse_id, reviewer
from services.change_control.domain import ChangePlan, ProductionChange
from services.change_control.domain.catalogue import StandardTemplate
from services.change_control.domain.gates import GateFacts
from services.change_control.domain.plans import TemplateTerms
from services.change_control.domain.risk import Questionnaire
from services.change_control.domain.values import ChangeType, Outcome, Window
from services.change_control.views import ChangeControlViews
from shared.application import Outcome as Decision
from shared.application import UseCases
from shared.domain import InvalidCommand, NotFound, RuleViolation, require_version
from shared.identity.domain import Principal, Role
from shared.identity.views import Directory
from shared.store.log import EventLog

KEEPABLE_TEXTS = frozenset({"implementation_plan", "backout_plan", "test_evidence"})
"""The plan's texts a revision may leave out to keep (besides "window")."""


@dataclass(frozen=True)
class ChangeDraft:
    """What the person raising or revising a change fills in."""

    title: str
    subsystems: Sequence[str]
    window_start: datetime | None
    window_end: datetime | None
    implementation_plan: str
    backout_plan: str
    test_evidence: str
    implementers: Sequence[str]
    questionnaire: Questionnaire | None


@dataclass(frozen=True)
class ChangeRef:
    id: str
    version: int
    status: str
    revision: int
    risk: str
    approved: bool


@dataclass(frozen=True)
class ApprovalRef(ChangeRef):
    counted_as: str
    approvals: list[str]
    approvals_needed: int


def _ref(change: ProductionChange) -> ChangeRef:
    return ChangeRef(
        str(change.id),
        change.version,
        change.status.value,
        change.revision,
        change.risk.value,
        change.approved,
    )


class ChangeControl(UseCases):
    """The only path to production: gated, independently approved, implemented in window."""

    # Approvals by several CAB members at once all land: each retry re-reads the change
    # and still counts (approvals commute), so allow as many retries as a board is large.
    max_attempts = 12

    def __init__(self, log: EventLog, views: ChangeControlViews, directory: Directory) -> None:
        super().__init__(log)
        self.views = views
        self.directory = directory
        self.catalogue = log.settings.subsystems
        self.policy = approval_policy(log.settings)

    # -- raising and revising ------------------------------------------------------------

    def raise_change(
        self,
        caller: Principal,
        change_type: ChangeType,
        draft: ChangeDraft,
        bundle_id: str | None = None,
        template_id: str | None = None,
    ) -> ChangeRef:
        """IT staff and release managers raise changes; a release deployment names a known
        bundle (its window is the bundle's unless given), a standard change a template."""
        self._require_implementers(draft.implementers)
        template = self._template_terms(template_id) if template_id else None
        window = Window.of(draft.window_start, draft.window_end)
        if bundle_id is not None:
            bundle = self.views.bundle_state(bundle_id)
            if bundle is None:
                raise InvalidCommand("unknown_bundle", f"no release bundle {bundle_id} is known")
            window = window or bundle.window
            open_change = self.views.open_release_change(bundle_id)
            if open_change is not None:
                change_id, title = open_change
                raise RuleViolation(
                    "bundle_has_open_change",
                    f"bundle {bundle.name} already has its release deployment change,"
                    f" “{title}”: revise that one, or withdraw it first",
                    change_id=change_id,
                )
        plan = _plan(draft, window)

        def command() -> Decision[ChangeRef]:
            change = ProductionChange.raise_change(
                change_type=change_type,
                plan=plan,
                requester=caller.username,
                catalogue=self.catalogue,
                policy=self.policy,
                facts=self.views.facts(bundle_id, window),
                bundle_id=bundle_id,
                template=template,
            )
            return Decision([change], _ref(change))

        return self.run(command)

    def revise(
        self,
        caller: Principal,
        change_id: UUID,
        draft: ChangeDraft,
        kept: frozenset[str] = frozenset(),
        expected_version: int | None = None,
    ) -> ChangeRef:
        """Any edit voids the change's approvals and sends it back to review. A release
        deployment given no window keeps to its bundle's, as when it was raised. The plan's
        texts and window named in `kept` (left out of the revision) keep their values.
        With `expected_version`, only if nobody changed it since it was read then."""
        self._require_implementers(draft.implementers)

        def revise(change: ProductionChange) -> None:
            require_version("change", change.version, expected_version)
            template = self._template_terms(change.template_id) if change.template_id else None

            def text(name: str, given: str) -> str:
                return str(change.plan.get(name) or "") if name in kept else given

            revised = replace(
                draft,
                implementation_plan=text("implementation_plan", draft.implementation_plan),
                backout_plan=text("backout_plan", draft.backout_plan),
                test_evidence=text("test_evidence", draft.test_evidence),
            )
            given = Window.of(revised.window_start, revised.window_end)
            if given is None and "window" in kept and change.bundle_id is None:
                given = change.window
            window = given or self._bundle_window(change.bundle_id)
            change.revise(
                editor=caller.username,
                manager=caller.has(Role.RELEASE_MANAGER),
                plan=_plan(revised, window),
                catalogue=self.catalogue,
                policy=self.policy,
                facts=self.views.facts(change.bundle_id, window),
                template=template,
            )

        return self._change(change_id, revise)

    def withdraw(self, caller: Principal, change_id: UUID, reason: str) -> ChangeRef:
        return self._change(
            change_id,
            lambda c: c.withdraw(
                editor=caller.username, manager=caller.has(Role.RELEASE_MANAGER), reason=reason
            ),
        )

    # -- the board -------------------------------------------------------------------------

    def approve(
        self, caller: Principal, change_id: UUID, revision: int | None, comment: str = ""
    ) -> ApprovalRef:
        """One CAB member's approval; the change is approved once its policy is met."""
        who = reviewer(caller)

        def command() -> Decision[ApprovalRef]:
            change = self._load(change_id)
            counted_as = change.approve(who, self._facts(change), revision, comment)

            so_far = change.retrospective if counted_as == "retrospective" else change.approvals
            needed = change.emergency_approvals if counted_as == "emergency" else (
                change.requirement.approvals
            )  # fmt: skip
            ref = _ref(change)
            return Decision(
                [change],
                ApprovalRef(
                    **asdict(ref),
                    counted_as=counted_as,
                    approvals=[a["by"] for a in so_far],
                    approvals_needed=needed,
                ),
            )

        return self.run(command)

    def reject(self, caller: Principal, change_id: UUID, reason: str) -> ChangeRef:
        return self._change(change_id, lambda c: c.reject(reviewer(caller), reason))

    def review(self, caller: Principal, change_id: UUID, findings: str, actions: str) -> ChangeRef:
        """The post-implementation review of a failed, rolled back or emergency change."""
        return self._change(
            change_id, lambda c: c.record_review(reviewer(caller), findings, actions)
        )

    def comment(self, change_id: UUID, remark: str) -> ChangeRef:
        """IT (the implementers, the release manager, the CAB) talk on a change."""
        return self._change(change_id, lambda c: c.comment(remark))

    # -- implementation --------------------------------------------------------------------

    def start(self, caller: Principal, change_id: UUID) -> ChangeRef:
        return self._change(change_id, lambda c: c.start(caller.username, self._facts(c)))

    def complete(
        self, caller: Principal, change_id: UUID, outcome: Outcome, notes: str
    ) -> ChangeRef:
        return self._change(change_id, lambda c: c.complete(caller.username, outcome, notes))

    # -- helpers ---------------------------------------------------------------------------

    def _change(self, change_id: UUID, decide: Callable[[ProductionChange], object]) -> ChangeRef:
        def command() -> Decision[ChangeRef]:
            change = self._load(change_id)
            decide(change)
            return Decision([change], _ref(change))

        return self.run(command)

    def _load(self, change_id: UUID) -> ProductionChange:
        return self.log.get(change_id, ProductionChange, "production change")

    def _bundle_window(self, bundle_id: str | None) -> Window | None:
        bundle = self.views.bundle_state(bundle_id) if bundle_id else None
        return bundle.window if bundle else None

    def _facts(self, change: ProductionChange) -> GateFacts:
        return self.views.facts(
            change.bundle_id, change.window, str(change.id), change.implementers
        )

    def _template_terms(self, template_id: str) -> TemplateTerms:
        try:
            template = self.log.get(
                parse_id(template_id, "standard template"), StandardTemplate, "standard template"
            )
        except NotFound:
            raise InvalidCommand(
                "unknown_template", f"no standard template {template_id} is known"
            ) from None
        return template.terms()

    def _require_implementers(self, implementers: Sequence[str]) -> None:
        for username in implementers:
            principal = self.directory.principal(username.strip())
            if principal is None or not principal.has(Role.IT_STAFF):
                raise InvalidCommand(
                    "implementer_not_it_staff",
                    f"implementers are active IT staff; {username!r} is not",
                )


def _plan(draft: ChangeDraft, window: Window | None) -> ChangePlan:
    return ChangePlan(
        title=draft.title,
        subsystems=draft.subsystems,
        window=window,
        implementation_plan=draft.implementation_plan,
        backout_plan=draft.backout_plan,
        test_evidence=draft.test_evidence,
        implementers=draft.implementers,
        questionnaire=draft.questionnaire,
    )
