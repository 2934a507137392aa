"""A Hypothesis state machine over the production change lifecycle, against the domain.

Random sequences of raising, revising, approving, rejecting, withdrawing, starting,
completing and reviewing, by the right and the wrong people, with blackouts appearing
and lifting; after every step the invariants that make an approval a hard, immutable
precondition must hold."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from services.change_control.domain import BEFORE_START, ENDED, ProductionChange, Status
from services.change_control.domain.gates import Blackout, BundleState, GateFacts
from services.change_control.domain.plans import TemplateTerms
from services.change_control.domain.risk import ApprovalPolicy, Reviewer
from services.change_control.domain.values import ChangeType, Outcome
from shared.domain import DomainError, NotPermitted, attributed_to
from shared.settings import DEFAULT_SUBSYSTEMS
from shared.store.log import PlainJSONTranscoder, RailyardMapper
from tests.change_control.builders import HIGH, LOW, MEDIUM, plan, questionnaire, window

REQUESTER = "dev.alice"
PEOPLE = {
    "cab.carl": Reviewer("cab.carl", True, "development"),
    "cab.dora": Reviewer("cab.dora", True, "qa"),
    "cab.erin": Reviewer("cab.erin", True, "development"),
    "ops.olga": Reviewer("ops.olga", True, "operations"),
    "ops.otto": Reviewer("ops.otto", True, "operations"),
    "rm": Reviewer("rm", False, None),
    REQUESTER: Reviewer(REQUESTER, False, "development"),
}
IMPLEMENTER_SETS = [["qa.quinn"], ["ops.olga"], ["cab.carl", "qa.quinn"], [REQUESTER]]
RISKS = [LOW, MEDIUM, HIGH]
READY = BundleState("b-1", "2027.03", True, True, False, False)
TEMPLATE = TemplateTerms(
    "t-1", "Rotate certificates", ("CRM",), "Install the certificate.", "Reinstall the old one.",
    questionnaire(LOW), True,
)  # fmt: skip
POLICY = ApprovalPolicy()
MAPPER = RailyardMapper(transcoder=PlainJSONTranscoder())


class ChangeLifecycle(RuleBasedStateMachine):
    """One change of `change_type` (each type has its own machine, below)."""

    change: ProductionChange
    change_type: ChangeType = ChangeType.NORMAL

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Any] = []
        self.blackout = False
        self.started_in_blackout = False

    # -- helpers -------------------------------------------------------------------------

    def facts(self) -> GateFacts:
        blackouts = (Blackout("bo", "Freeze", window(), ()),) if self.blackout else ()
        bundle = READY if self.change_type == ChangeType.RELEASE_DEPLOYMENT else None
        return GateFacts(bundle, blackouts)

    def act(self, actor: str, command: Any) -> DomainError | None:
        try:
            with attributed_to(actor):
                command()
        except DomainError as exc:
            self.events.extend(self.change.collect_events())
            assert self.change.collect_events() == []
            return exc
        self.events.extend(self.change.collect_events())
        return None

    def plan_for(self, title: str, implementers: list[str], risk: dict[str, Any]) -> Any:
        if self.change_type == ChangeType.STANDARD:
            return plan(
                title=title, subsystems=["CRM"], implementers=implementers,
                implementation_plan="", backout_plan="", questionnaire=None,
            )  # fmt: skip
        return plan(title=title, implementers=implementers, questionnaire=questionnaire(risk))

    # -- rules ---------------------------------------------------------------------------

    @initialize(implementers=st.sampled_from(IMPLEMENTER_SETS), risk=st.sampled_from(RISKS))
    def raise_change(self, implementers: list[str], risk: dict[str, Any]) -> None:
        change_type = self.change_type
        with attributed_to(REQUESTER):
            self.change = ProductionChange.raise_change(
                change_type=change_type,
                plan=self.plan_for("Patch", implementers, risk),
                requester=REQUESTER,
                catalogue=DEFAULT_SUBSYSTEMS,
                policy=POLICY,
                facts=self.facts(),
                bundle_id="b-1" if change_type == ChangeType.RELEASE_DEPLOYMENT else None,
                template=TEMPLATE if change_type == ChangeType.STANDARD else None,
            )
        self.events.extend(self.change.collect_events())

    @rule(person=st.sampled_from(sorted(PEOPLE)))
    def approve(self, person: str) -> None:
        reviewer = PEOPLE[person]
        was_open = self.change.status not in ENDED
        conflicted = person == REQUESTER or person in self.change.implementers
        refused = self.act(person, lambda: self.change.approve(reviewer, self.facts()))
        breach = was_open and (conflicted or not reviewer.cab_member)
        assert isinstance(refused, NotPermitted) == breach, (person, refused)

    # Rejections and withdrawals end the story: drawn rarely, so most runs go further.
    @rule(person=st.sampled_from(sorted(PEOPLE)), rarely=st.integers(0, 5))
    def reject(self, person: str, rarely: int) -> None:
        if rarely:
            return
        refused = self.act(person, lambda: self.change.reject(PEOPLE[person], "no"))
        if refused is None:
            assert self.change.status == Status.REJECTED

    @rule(
        title=st.sampled_from(["Patch", "Patch v2", "Patch v3"]),
        implementers=st.sampled_from(IMPLEMENTER_SETS),
        risk=st.sampled_from(RISKS),
    )
    def revise(self, title: str, implementers: list[str], risk: dict[str, Any]) -> None:
        before = self.change.revision
        refused = self.act(
            REQUESTER,
            lambda: self.change.revise(
                editor=REQUESTER,
                manager=False,
                plan=self.plan_for(title, implementers, risk),
                catalogue=DEFAULT_SUBSYSTEMS,
                policy=POLICY,
                facts=self.facts(),
                template=TEMPLATE if self.change_type == ChangeType.STANDARD else None,
            ),
        )
        if refused is None and self.change.revision > before:
            # An edit voids every approval: back to review (a template re-approves).
            assert self.change.approvals == []
            if self.change_type == ChangeType.STANDARD:
                assert self.change.status in (Status.APPROVED, Status.IN_REVIEW)
            else:
                assert self.change.status == Status.IN_REVIEW
                assert not self.change.approved

    @rule(rarely=st.integers(0, 5))
    def withdraw(self, rarely: int) -> None:
        if rarely:
            return
        self.act(
            REQUESTER, lambda: self.change.withdraw(editor=REQUESTER, manager=False, reason="x")
        )

    @rule(data=st.data())
    def start(self, data: st.DataObject) -> None:
        who = data.draw(st.sampled_from([*self.change.implementers, "cab.dora"]))
        refused = self.act(who, lambda: self.change.start(who, self.facts()))
        if refused is None:
            assert who in self.change.implementers
            self.started_in_blackout = self.started_in_blackout or self.blackout

    # Completing and reviewing at the wrong moment are refused (the domain tests show it);
    # here they are drawn only when they can happen, so runs reach the end of the story.
    @precondition(lambda self: self.change.status == Status.IMPLEMENTING)
    @rule(outcome=st.sampled_from(list(Outcome)))
    def complete(self, outcome: Outcome) -> None:
        who = self.change.implementers[0]
        self.act(who, lambda: self.change.complete(who, outcome, "notes"))

    @precondition(lambda self: self.change.status == Status.COMPLETED)
    @rule(person=st.sampled_from(sorted(PEOPLE)))
    def review(self, person: str) -> None:
        self.act(person, lambda: self.change.record_review(PEOPLE[person], "findings", ""))

    @rule(rarely=st.integers(0, 3))
    def toggle_blackout(self, rarely: int) -> None:
        if not rarely:
            self.blackout = not self.blackout

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def implemented_implies_approved_unless_emergency(self) -> None:
        types = [type(e).__name__ for e in self.events]
        if "ImplementationStarted" not in types:
            return
        before = types[: types.index("ImplementationStarted")]
        assert "Approved" in before
        assert self.change.approved  # no revision is possible once work has started
        approved = [e for e in self.events if type(e).__name__ == "Approved"][-1]
        board = approved.board
        expected = {
            ChangeType.EMERGENCY: "emergency",
            ChangeType.STANDARD: "template",
        }.get(self.change_type, "cab")
        assert board == expected
        if board == "cab":
            approvals = [{"by": a, "team": PEOPLE[a].team} for a in approved.approvers]
            assert self.change.requirement.met_by(approvals)
        assert not (self.started_in_blackout and self.change_type != ChangeType.EMERGENCY)

    @invariant()
    def an_approval_never_counts_a_requester_or_implementer(self) -> None:
        if not hasattr(self, "change"):
            return
        conflicted = {REQUESTER, *self.change.implementers}
        for entry in [*self.change.approvals, *self.change.retrospective]:
            assert entry["by"] not in conflicted
            assert PEOPLE[entry["by"]].cab_member
        for e in self.events:
            if type(e).__name__ in ("ApprovalRecorded", "Rejected", "ReviewRecorded"):
                assert e.by != REQUESTER

    @invariant()
    def a_persons_approval_counts_once(self) -> None:
        if not hasattr(self, "change"):
            return
        current = [a["by"] for a in self.change.approvals]
        retro = [a["by"] for a in self.change.retrospective]
        assert len(set(current)) == len(current)
        assert len(set(retro)) == len(retro)
        assert not set(retro) & set(self.change.approvers)

    @invariant()
    def closed_changes_were_reviewed_when_they_had_to_be(self) -> None:
        if not hasattr(self, "change") or self.change.status != Status.CLOSED:
            return
        if self.change.emergency:
            assert self.change.retrospectively_approved
            assert self.change.reviewed
        if self.change.outcome != Outcome.SUCCEEDED:
            assert self.change.reviewed

    @invariant()
    def before_start_only_review_and_approval_states(self) -> None:
        if not hasattr(self, "change"):
            return
        types = {type(e).__name__ for e in self.events}
        if "ImplementationStarted" not in types and self.change.status not in ENDED:
            assert self.change.status in BEFORE_START

    @invariant()
    def history_replays_to_the_same_change(self) -> None:
        if not self.events:
            return
        replayed: Any = None
        for e in self.events:
            event: Any = MAPPER.to_domain_event(MAPPER.to_stored_event(e))
            replayed = event.mutate(replayed)
        assert isinstance(replayed, ProductionChange)
        assert (replayed.status, replayed.revision) == (self.change.status, self.change.revision)
        assert replayed.approvals == self.change.approvals
        assert replayed.retrospective == self.change.retrospective


MACHINE_SETTINGS = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def machine_for(change_type: ChangeType) -> Any:
    machine: Any = type(
        f"{change_type.value.title().replace('_', '')}Lifecycle",
        (ChangeLifecycle,),
        {"change_type": change_type},
    )
    machine.TestCase.settings = MACHINE_SETTINGS
    return machine.TestCase


test_normal_change_lifecycle_keeps_its_invariants = machine_for(ChangeType.NORMAL)
test_emergency_change_lifecycle_keeps_its_invariants = machine_for(ChangeType.EMERGENCY)
test_standard_change_lifecycle_keeps_its_invariants = machine_for(ChangeType.STANDARD)
test_release_deployment_lifecycle_keeps_its_invariants = machine_for(ChangeType.RELEASE_DEPLOYMENT)
