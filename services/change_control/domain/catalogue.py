"""What the release manager keeps for change control: blackout windows, in which no
change may be implemented, and the catalogue of standard change templates, which
pre-approve the changes raised from them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.domain import event

from services.change_control.domain.gates import Blackout
from services.change_control.domain.plans import PLANNED_AHEAD_AT_MOST, TemplateTerms
from services.change_control.domain.risk import Questionnaire, Risk
from services.change_control.domain.values import Window, catalogued, now, text
from shared.domain import AuditedAggregate, InvalidCommand, RuleViolation


def _blackout_fields(
    name: str, window: Window, subsystems: Sequence[str], reason: str, catalogue: Sequence[str]
) -> dict[str, Any]:
    if window.end <= now():  # as a change's window: nothing is held back by one gone
        raise InvalidCommand(
            "window_in_past",
            f"the blackout would have ended already ({window.end_iso}): it could hold nothing back",
        )
    if window.start > now() + PLANNED_AHEAD_AT_MOST:
        raise InvalidCommand(
            "window_too_far",
            f"the blackout starts more than {PLANNED_AHEAD_AT_MOST.days // 365} years from now"
            f" ({window.start.date().isoformat()}): check the year",
        )
    return {
        "name": text(name, "name", 200),
        "start": window.start_iso,
        "end": window.end_iso,
        # None of them named means every subsystem.
        "subsystems": catalogued(subsystems, catalogue) if subsystems else [],
        "reason": text(reason, "reason", 2_000, required=False),
    }


class BlackoutWindow(AuditedAggregate):
    """A period (for every subsystem, or some) in which no change may be implemented.

    Changes whose windows overlap it are refused approval; the calendar view re-evaluates
    them whenever a blackout is declared, moved or lifted."""

    @classmethod
    def declare(
        cls,
        *,
        name: str,
        window: Window,
        subsystems: Sequence[str],
        reason: str,
        catalogue: Sequence[str],
    ) -> BlackoutWindow:
        return cls(**_blackout_fields(name, window, subsystems, reason, catalogue))

    @event("Declared")
    def __init__(self, name: str, start: str, end: str, subsystems: list[str], reason: str) -> None:
        self._assign(name, start, end, subsystems, reason)
        self.lifted = False

    def _assign(self, name: str, start: str, end: str, subsystems: list[str], reason: str) -> None:
        self.name = name
        self.window = Window.parse(start, end)
        self.subsystems = subsystems
        self.reason = reason

    def change(
        self,
        *,
        name: str,
        window: Window,
        subsystems: Sequence[str],
        reason: str,
        catalogue: Sequence[str],
    ) -> None:
        self._require_in_force()
        self._changed(**_blackout_fields(name, window, subsystems, reason, catalogue))

    @event("Changed")
    def _changed(self, name: str, start: str, end: str, subsystems: list[str], reason: str) -> None:
        self._assign(name, start, end, subsystems, reason)

    def lift(self, reason: str) -> None:
        self._require_in_force()
        self._lifted(reason=text(reason, "reason", 2_000))

    @event("Lifted")
    def _lifted(self, reason: str) -> None:
        self.lifted = True

    def as_blackout(self) -> Blackout:
        assert self.window is not None
        return Blackout(str(self.id), self.name, self.window, tuple(self.subsystems))

    def _require_in_force(self) -> None:
        if self.lifted:
            raise RuleViolation("blackout_lifted", f"blackout {self.name!r} was lifted")


def _template_fields(
    name: str,
    description: str,
    subsystems: Sequence[str],
    implementation_plan: str,
    backout_plan: str,
    questionnaire: Questionnaire,
    catalogue: Sequence[str],
) -> dict[str, Any]:
    if questionnaire.risk() != Risk.LOW:
        raise InvalidCommand(
            "template_not_low_risk",
            f"a standard change is low risk; this assessment is {questionnaire.risk()}"
            f" (score {questionnaire.score()})",
        )
    return {
        "name": text(name, "name", 200),
        "description": text(description, "description", 5_000, required=False),
        "subsystems": catalogued(subsystems, catalogue),
        "implementation_plan": text(implementation_plan, "implementation_plan", 20_000),
        "backout_plan": text(backout_plan, "backout_plan", 20_000),
        **questionnaire.as_event(),
        "risk": questionnaire.risk().value,
    }


class StandardTemplate(AuditedAggregate):
    """A pre-approved, low-risk, repeatable change: the changes raised from it are
    approved by it, once their window and blackout gates are met."""

    @classmethod
    def publish(
        cls,
        *,
        name: str,
        description: str,
        subsystems: Sequence[str],
        implementation_plan: str,
        backout_plan: str,
        questionnaire: Questionnaire,
        catalogue: Sequence[str],
    ) -> StandardTemplate:
        return cls(
            **_template_fields(
                name,
                description,
                subsystems,
                implementation_plan,
                backout_plan,
                questionnaire,
                catalogue,
            )
        )

    @event("Published")
    def __init__(
        self,
        name: str,
        description: str,
        subsystems: list[str],
        implementation_plan: str,
        backout_plan: str,
        impact: str,
        likelihood: str,
        affected_users: str,
        backout_tested: bool,
        risk: str,
    ) -> None:
        self.fields = {k: v for k, v in locals().items() if k != "self"}
        self.retired = False

    def revise(
        self,
        *,
        name: str,
        description: str,
        subsystems: Sequence[str],
        implementation_plan: str,
        backout_plan: str,
        questionnaire: Questionnaire,
        catalogue: Sequence[str],
    ) -> bool:
        """Changes raised from it afterwards follow the new terms; earlier ones keep theirs.
        Returns False (and records nothing) when nothing changed."""
        self._require_active()
        fields = _template_fields(
            name, description, subsystems, implementation_plan, backout_plan, questionnaire,
            catalogue,
        )  # fmt: skip
        if fields == self.fields:
            return False
        self._revised(**fields)
        return True

    @event("Revised")
    def _revised(
        self,
        name: str,
        description: str,
        subsystems: list[str],
        implementation_plan: str,
        backout_plan: str,
        impact: str,
        likelihood: str,
        affected_users: str,
        backout_tested: bool,
        risk: str,
    ) -> None:
        self.fields = {k: v for k, v in locals().items() if k != "self"}

    def retire(self, reason: str) -> None:
        self._require_active()
        self._retired(reason=text(reason, "reason", 2_000))

    @event("Retired")
    def _retired(self, reason: str) -> None:
        self.retired = True

    def terms(self) -> TemplateTerms:
        f = self.fields
        return TemplateTerms(
            template_id=str(self.id),
            name=f["name"],
            subsystems=tuple(f["subsystems"]),
            implementation_plan=f["implementation_plan"],
            backout_plan=f["backout_plan"],
            questionnaire=Questionnaire.from_event(f),
            active=not self.retired,
        )

    def _require_active(self) -> None:
        if self.retired:
            raise RuleViolation("template_retired", f"template {self.fields['name']!r} is retired")
