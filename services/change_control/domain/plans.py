"""What a change says it will do, checked into the fields its events record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.change_control.domain.gates import GateFacts, GateSubject, evaluate_gates, require
from services.change_control.domain.risk import ApprovalPolicy, Questionnaire
from services.change_control.domain.values import ChangeType, Window, catalogued, now, text
from shared.domain import InvalidCommand

# The fields a plan records, in Raised and Revised alike.
PLANNED_AHEAD_AT_MOST = timedelta(days=2 * 365)
"""How far ahead a change's window may start: a window in 9999 is a slip of the year, and
would sit in the CAB's queue for ever (decision 119)."""
PLAN_FIELDS = (
    "title", "subsystems", "window_start", "window_end", "implementation_plan", "backout_plan",
    "test_evidence", "implementers", "impact", "likelihood", "affected_users", "backout_tested",
    "risk", "required_approvals", "operations_approver_required",
)  # fmt: skip
LONG_FIELDS = frozenset({"implementation_plan", "backout_plan", "test_evidence"})
"""Plan fields a revision names as changed without what they were: the text is long, and
the events before it hold it."""


@dataclass(frozen=True)
class ChangePlan:
    """What the person raising a change writes; a revision replaces it as a whole."""

    title: str
    subsystems: Sequence[str]
    window: Window | None
    implementation_plan: str
    backout_plan: str
    test_evidence: str
    implementers: Sequence[str]
    questionnaire: Questionnaire | None = None  # a standard change takes its template's


@dataclass(frozen=True)
class TemplateTerms:
    """A standard change template, as a change raised from it sees it."""

    template_id: str
    name: str
    subsystems: tuple[str, ...]
    implementation_plan: str
    backout_plan: str
    questionnaire: Questionnaire
    active: bool


def plan_fields(
    change_type: ChangeType,
    plan: ChangePlan,
    catalogue: Sequence[str],
    policy: ApprovalPolicy,
    facts: GateFacts,
    template: TemplateTerms | None,
) -> dict[str, Any]:
    """The checked, JSON-native fields of a plan. A window overlapping a blackout is
    refused here already (emergencies excepted), not only at approval."""
    subsystems = catalogued(plan.subsystems, catalogue)
    if plan.window is not None and plan.window.end <= now():
        raise InvalidCommand("window_in_past", "the planned window has already ended")
    if plan.window is not None and plan.window.start > now() + PLANNED_AHEAD_AT_MOST:
        raise InvalidCommand(
            "window_too_far",
            f"the window starts more than {PLANNED_AHEAD_AT_MOST.days // 365} years from now"
            f" ({plan.window.start.date().isoformat()}): check the year",
        )
    implementers = sorted({text(i, "implementer", 64) for i in plan.implementers})
    if not implementers:
        raise InvalidCommand("implementer_required", "name at least one implementer")
    questionnaire = plan.questionnaire
    implementation_plan, backout_plan = plan.implementation_plan, plan.backout_plan
    if change_type == ChangeType.STANDARD:
        if template is None:
            raise InvalidCommand("template_required", "a standard change names its template")
        if questionnaire is not None or implementation_plan.strip() or backout_plan.strip():
            raise InvalidCommand(
                "template_defines_plan",
                "a standard change takes its plans and risk from its template, as published:"
                " to plan it otherwise, raise a normal change",
            )
        outside = [s for s in subsystems if s not in template.subsystems]
        if outside:
            raise InvalidCommand(
                "subsystem_not_in_template",
                f"template {template.name!r} does not cover {', '.join(outside)}",
            )
        questionnaire = template.questionnaire
        implementation_plan, backout_plan = template.implementation_plan, template.backout_plan
    if questionnaire is None:
        raise InvalidCommand("risk_assessment_required", "answer the risk questionnaire")
    if change_type != ChangeType.EMERGENCY:
        subject = GateSubject(change_type, plan.window, backout_plan, subsystems)
        require([g for g in evaluate_gates(subject, facts) if g.name == "blackout"])
    risk = questionnaire.risk()
    requirement = policy.required(risk)
    return {
        "title": text(plan.title, "title", 200),
        "subsystems": subsystems,
        "window_start": plan.window.start_iso if plan.window else None,
        "window_end": plan.window.end_iso if plan.window else None,
        "implementation_plan": text(implementation_plan, "implementation_plan", 20_000),
        "backout_plan": text(backout_plan, "backout_plan", 20_000, required=False),
        "test_evidence": text(plan.test_evidence, "test_evidence", 20_000, required=False),
        "implementers": implementers,
        **questionnaire.as_event(),
        "risk": risk.value,
        "required_approvals": requirement.approvals,
        "operations_approver_required": requirement.operations_approver,
    }


def revision_of(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What a revision changes, for the CAB to re-approve knowing it: the plan fields it
    changes (`changed`, in the plan's order) and what the short ones were (`previous`)."""
    changed = [k for k in PLAN_FIELDS if k in after and before.get(k) != after[k]]
    return {
        "changed": changed,
        "previous": {k: before.get(k) for k in changed if k not in LONG_FIELDS},
    }
