"""Given events, when a command, then new events or a domain error: raising changes,
their risk, their gates, standard templates and blackouts. No database, no web."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from services.change_control.domain import ProductionChange, Status
from services.change_control.domain.catalogue import BlackoutWindow, StandardTemplate
from services.change_control.domain.gates import Blackout, BundleState, GateFacts
from services.change_control.domain.risk import ApprovalPolicy, Risk
from services.change_control.domain.values import ChangeType
from shared.domain import InvalidCommand, RuleViolation, attributed_to
from shared.settings import DEFAULT_SUBSYSTEMS
from shared.store.log import PlainJSONTranscoder, RailyardMapper
from tests.change_control.builders import (
    CARL,
    HIGH,
    LOW,
    MEDIUM,
    new_change,
    plan,
    questionnaire,
    window,
)


@pytest.fixture(autouse=True)
def acting() -> Iterator[None]:
    with attributed_to("dev.alice", "corr-1"):
        yield


def types(change: ProductionChange | StandardTemplate | BlackoutWindow) -> list[str]:
    return [type(e).__name__ for e in change.collect_events()]


def bundle(
    scope_frozen: bool = True,
    qa_signed_off: bool = True,
    cancelled: bool = False,
    deployed: bool = False,
) -> BundleState:
    return BundleState("b-1", "2027.03", scope_frozen, qa_signed_off, cancelled, deployed)


def blackout(subsystems: tuple[str, ...] = (), **shift: timedelta) -> Blackout:
    return Blackout("bo-1", "Year-end freeze", window(**shift), subsystems)


def template(**overrides: object) -> StandardTemplate:
    values: dict[str, object] = {
        "name": "Rotate TLS certificates",
        "description": "Yearly certificate rotation",
        "subsystems": ["Customer Portal", "CRM"],
        "implementation_plan": "Install the new certificate, reload the proxy.",
        "backout_plan": "Reinstall the previous certificate.",
        "questionnaire": questionnaire(LOW),
        "catalogue": DEFAULT_SUBSYSTEMS,
    }
    values.update(overrides)
    return StandardTemplate.publish(**values)  # type: ignore[arg-type]


# -- raising and risk ----------------------------------------------------------------------


def test_raised_change_records_what_the_contract_promises() -> None:
    """Raised carries type, scope, window, plans, implementers and the assessed risk."""
    change = new_change(subsystems=["billing", "CRM"], implementers=["qa.quinn", "dev.alice"])
    (raised,) = change.collect_events()
    assert type(raised).__qualname__ == "ProductionChange.Raised"
    assert raised.change_type == "normal"  # type: ignore[attr-defined]
    assert raised.subsystems == ["Billing", "CRM"]  # type: ignore[attr-defined]
    assert raised.implementers == ["dev.alice", "qa.quinn"]  # type: ignore[attr-defined]
    assert raised.requester == "dev.alice"  # type: ignore[attr-defined]
    assert raised.risk == "low"  # type: ignore[attr-defined]
    assert raised.window_start.endswith("+00:00")  # type: ignore[attr-defined]
    assert change.status == Status.IN_REVIEW


@pytest.mark.parametrize(
    ("answers", "score", "risk"),
    [
        (LOW, 1, Risk.LOW),
        (MEDIUM, 5, Risk.MEDIUM),
        (HIGH, 14, Risk.HIGH),
        ({**LOW, "affected_users": "all"}, 4, Risk.LOW),
        ({**LOW, "impact": "major", "likelihood": "possible"}, 6, Risk.MEDIUM),
        ({**LOW, "impact": "major", "likelihood": "likely"}, 9, Risk.HIGH),
    ],
)
def test_risk_questionnaire_scores_to_low_medium_or_high(
    answers: dict[str, Any], score: int, risk: Risk
) -> None:
    """impact x likelihood + affected users (+2 untested backout): <=4 low, <=8 medium."""
    assessed = questionnaire(answers)
    assert (assessed.score(), assessed.risk()) == (score, risk)


def test_an_untested_backout_is_never_low_risk() -> None:
    assert questionnaire({**LOW, "backout_tested": False}).risk() == Risk.MEDIUM


def test_approvals_needed_follow_the_configured_policy() -> None:
    """Defaults low 1, medium 2, high 3 with an operations approver; all configurable."""
    assert new_change(questionnaire=questionnaire(MEDIUM)).requirement.approvals == 2
    high = new_change(questionnaire=questionnaire(HIGH)).requirement
    assert (high.approvals, high.operations_approver) == (3, True)
    strict = ApprovalPolicy(low=2, operations_approver_for=frozenset({Risk.LOW}))
    low = new_change(policy=strict).requirement
    assert (low.approvals, low.operations_approver) == (2, True)


def test_unknown_subsystem_is_refused() -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_change(subsystems=["Mainframe"])
    assert refused.value.rule == "unknown_subsystem"


def test_a_window_that_has_already_ended_is_refused() -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_change(window=window(starts_in=timedelta(hours=-5)))
    assert refused.value.rule == "window_in_past"


def test_a_window_years_ahead_is_refused_as_a_slip_of_the_year() -> None:
    """A window in 9999 would sit in the CAB's queue for ever; a year ahead is a plan."""
    with pytest.raises(InvalidCommand) as refused:
        new_change(window=window(starts_in=timedelta(days=3 * 365)))
    assert refused.value.rule == "window_too_far"
    assert "check the year" in refused.value.detail
    assert new_change(window=window(starts_in=timedelta(days=365))) is not None


def test_a_change_needs_an_implementation_plan_an_implementer_and_a_risk_assessment() -> None:
    for overrides, rule in (
        ({"implementation_plan": "  "}, "implementation_plan_required"),
        ({"implementers": []}, "implementer_required"),
        ({"questionnaire": None}, "risk_assessment_required"),
    ):
        with pytest.raises(InvalidCommand) as refused:
            new_change(**overrides)
        assert refused.value.rule == rule


def test_only_a_release_deployment_names_a_bundle() -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_change(ChangeType.RELEASE_DEPLOYMENT)
    assert refused.value.rule == "bundle_only_for_release_deployment"
    with pytest.raises(InvalidCommand):
        new_change(ChangeType.NORMAL, bundle_id="b-1")


# -- gates -------------------------------------------------------------------------------


def test_a_window_overlapping_a_blackout_is_refused() -> None:
    """Refused when raised already, not only at approval."""
    with pytest.raises(RuleViolation) as refused:
        new_change(facts=GateFacts(blackouts=(blackout(),)))
    assert refused.value.rule == "window_in_blackout"


def test_a_blackout_of_other_subsystems_does_not_refuse() -> None:
    change = new_change(facts=GateFacts(blackouts=(blackout(("CRM",)),)))
    assert change.status == Status.IN_REVIEW


def test_a_blackout_declared_after_raising_blocks_approval() -> None:
    change = new_change()
    with pytest.raises(RuleViolation) as refused:
        change.approve(CARL, GateFacts(blackouts=(blackout(),)))
    assert refused.value.rule == "window_in_blackout"
    assert types(change) == ["Raised"]


def test_an_emergency_change_is_not_refused_by_a_blackout_but_shows_it() -> None:
    """Not refused, and not ticked as outside blackouts either (the page showed "✓ Outside
    blackouts" above "Inside blackout Year-end freeze"): a warning the CAB reads."""
    facts = GateFacts(blackouts=(blackout(),))
    change = new_change(ChangeType.EMERGENCY, facts=facts)
    (gate,) = [g for g in change.gates(facts) if g.name == "blackout"]
    assert (gate.met, gate.advisory, gate.holds) == (False, True, True)
    assert gate.detail == (
        "the window overlaps Year-end freeze: an emergency change may go ahead in a blackout"
    )


def test_a_change_without_window_or_backout_plan_cannot_be_approved() -> None:
    """Every change needs a backout plan and a window before approval."""
    for overrides, rule in (
        ({"window": None}, "window_required"),
        ({"backout_plan": ""}, "backout_plan_required"),
    ):
        change = new_change(**overrides)
        with pytest.raises(RuleViolation) as refused:
            change.approve(CARL, GateFacts())
        assert refused.value.rule == rule
        assert change.approvals == []


@pytest.mark.parametrize(
    ("state", "rule"),
    [
        ({"scope_frozen": False}, "bundle_scope_not_frozen"),
        ({"qa_signed_off": False}, "bundle_not_qa_signed_off"),
        ({"cancelled": True}, "bundle_closed"),
        ({"deployed": True}, "bundle_closed"),
    ],
)
def test_release_deployment_with_gates_unmet_is_refused(state: dict[str, bool], rule: str) -> None:
    """A release deployment needs its bundle QA-signed-off and its scope frozen."""
    change = new_change(ChangeType.RELEASE_DEPLOYMENT, bundle_id="b-1")
    with pytest.raises(RuleViolation) as refused:
        change.approve(CARL, GateFacts(bundle=bundle(**state)))
    assert refused.value.rule == rule
    assert types(change) == ["Raised"]
    change.approve(CARL, GateFacts(bundle=bundle()))
    assert change.status == Status.APPROVED


def test_release_deployment_of_an_unknown_bundle_cannot_be_approved() -> None:
    change = new_change(ChangeType.RELEASE_DEPLOYMENT, bundle_id="b-404")
    with pytest.raises(RuleViolation) as refused:
        change.approve(CARL, GateFacts())
    assert refused.value.rule == "bundle_not_found"


# -- standard changes --------------------------------------------------------------------


def test_a_standard_change_is_pre_approved_by_its_template() -> None:
    terms = template().terms()
    change = new_change(
        ChangeType.STANDARD,
        template=terms,
        subsystems=["CRM"],
        implementation_plan="",
        backout_plan="",
        questionnaire=None,
    )
    assert types(change) == ["Raised", "Approved"]
    assert change.approved
    assert change.backout_plan == terms.backout_plan
    with pytest.raises(RuleViolation) as refused:
        change.approve(CARL, GateFacts())
    assert refused.value.rule == "standard_change_pre_approved"


def test_a_standard_change_takes_its_plans_from_its_template_only() -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_change(ChangeType.STANDARD, template=template().terms(), subsystems=["CRM"])
    assert refused.value.rule == "template_defines_plan"


def test_a_standard_change_stays_within_its_templates_subsystems() -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_change(
            ChangeType.STANDARD,
            template=template().terms(),
            subsystems=["Billing"],
            implementation_plan="",
            backout_plan="",
            questionnaire=None,
        )
    assert refused.value.rule == "subsystem_not_in_template"


def test_a_retired_template_approves_nothing_new() -> None:
    retired = template()
    retired.retire("replaced by automation")
    with pytest.raises(RuleViolation) as refused:
        new_change(
            ChangeType.STANDARD,
            template=retired.terms(),
            subsystems=["CRM"],
            implementation_plan="",
            backout_plan="",
            questionnaire=None,
        )
    assert refused.value.rule == "template_retired"


def test_a_standard_change_is_not_approved_again_by_a_template_retired_since() -> None:
    """Raised under a template that is then retired, a standard change cannot be revised
    into a new pre-approval: the revision is refused and the change stays as it was."""
    standard = template()
    change = new_change(
        ChangeType.STANDARD,
        template=standard.terms(),
        subsystems=["CRM"],
        implementation_plan="",
        backout_plan="",
        questionnaire=None,
    )
    standard.retire("replaced by automation")
    change.collect_events()
    with pytest.raises(RuleViolation) as refused:
        change.revise(
            editor="dev.alice",
            manager=False,
            plan=plan(title="Rotate the CRM certificate again", subsystems=["CRM"]),
            catalogue=DEFAULT_SUBSYSTEMS,
            policy=ApprovalPolicy(),
            facts=GateFacts(),
            template=standard.terms(),
        )
    assert refused.value.rule == "template_retired"
    assert change.collect_events() == []


def test_a_template_must_be_low_risk() -> None:
    with pytest.raises(InvalidCommand) as refused:
        template(questionnaire=questionnaire(MEDIUM))
    assert refused.value.rule == "template_not_low_risk"


def test_a_lifted_blackout_cannot_be_changed_or_lifted_again() -> None:
    declared = BlackoutWindow.declare(
        name="Freeze", window=window(), subsystems=[], reason="", catalogue=DEFAULT_SUBSYSTEMS
    )
    declared.lift("over")
    with pytest.raises(RuleViolation) as refused:
        declared.lift("again")
    assert refused.value.rule == "blackout_lifted"
    assert types(declared) == ["Declared", "Lifted"]


def test_replaying_a_changes_events_rebuilds_the_same_change() -> None:
    """Event bodies only assign state, so history replays to what the commands decided."""
    change = new_change(questionnaire=questionnaire(HIGH))
    change.approve(CARL, GateFacts())
    change.revise(
        editor="dev.alice",
        manager=False,
        plan=plan(title="Patch v2"),
        catalogue=DEFAULT_SUBSYSTEMS,
        policy=ApprovalPolicy(),
        facts=GateFacts(),
    )
    mapper = RailyardMapper(transcoder=PlainJSONTranscoder())
    replayed: Any = None
    for stored in [mapper.to_stored_event(e) for e in change.collect_events()]:
        event: Any = mapper.to_domain_event(stored)
        replayed = event.mutate(replayed)
    assert isinstance(replayed, ProductionChange)
    assert (replayed.title, replayed.revision, replayed.approvals) == ("Patch v2", 2, [])
    assert replayed.plan == change.plan


def test_a_comment_on_a_change_moves_nothing_and_must_say_something() -> None:
    change = new_change()
    change.comment("  Restore timed at 12 minutes.\n  ")
    assert (change.status, change.revision) == (Status.IN_REVIEW, 1)
    assert types(change)[-1] == "Commented"
    with pytest.raises(InvalidCommand) as empty:
        change.comment(" \n ")
    assert empty.value.rule == "comment_required"
    with pytest.raises(InvalidCommand) as long:
        change.comment("x" * 5_001)
    assert long.value.rule == "comment_too_long"
