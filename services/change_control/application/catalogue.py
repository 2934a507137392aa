"""The release manager's side of change control: blackout windows and the catalogue of
standard change templates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.change_control.domain.catalogue import BlackoutWindow, StandardTemplate
from services.change_control.domain.risk import Questionnaire
from services.change_control.domain.values import Window
from services.change_control.views import ChangeControlViews
from shared.application import Outcome, UseCases
from shared.domain import InvalidCommand, RuleViolation, require_version
from shared.identity.domain import Role
from shared.store.log import EventLog


@dataclass(frozen=True)
class BlackoutDraft:
    name: str
    start: datetime
    end: datetime
    subsystems: Sequence[str]
    reason: str


@dataclass(frozen=True)
class TemplateDraft:
    name: str
    description: str
    subsystems: Sequence[str]
    implementation_plan: str
    backout_plan: str
    questionnaire: Questionnaire


@dataclass(frozen=True)
class CatalogueRef:
    id: str
    version: int
    active: bool


def _window(draft: BlackoutDraft) -> Window:
    window = Window.of(draft.start, draft.end)
    if window is None:  # both ends are required by the API; kept honest here too
        raise InvalidCommand("window_required", "a blackout has a start and an end")
    return window


class Blackouts(UseCases):
    """Release managers declare, move and lift blackout windows."""

    def declare(self, draft: BlackoutDraft) -> CatalogueRef:
        window = _window(draft)

        def command() -> Outcome[CatalogueRef]:
            blackout = BlackoutWindow.declare(
                name=draft.name,
                window=window,
                subsystems=draft.subsystems,
                reason=draft.reason,
                catalogue=self.log.settings.subsystems,
            )
            return Outcome([blackout], CatalogueRef(str(blackout.id), blackout.version, True))

        return self.run(command)

    def change(
        self, blackout_id: UUID, draft: BlackoutDraft, expected_version: int | None = None
    ) -> CatalogueRef:
        """Moved or rescoped; with `expected_version` (If-Match), only if nobody changed it
        since it was read at that version."""
        window = _window(draft)

        def decide(b: BlackoutWindow) -> None:
            require_version("blackout window", b.version, expected_version)
            b.change(
                name=draft.name,
                window=window,
                subsystems=draft.subsystems,
                reason=draft.reason,
                catalogue=self.log.settings.subsystems,
            )

        return self._decide(blackout_id, decide)

    def lift(self, blackout_id: UUID, reason: str) -> CatalogueRef:
        return self._decide(blackout_id, lambda b: b.lift(reason))

    def _decide(
        self, blackout_id: UUID, decide: Callable[[BlackoutWindow], object]
    ) -> CatalogueRef:
        def command() -> Outcome[CatalogueRef]:
            blackout = self.log.get(blackout_id, BlackoutWindow, "blackout window")
            decide(blackout)
            return Outcome(
                [blackout], CatalogueRef(str(blackout.id), blackout.version, not blackout.lifted)
            )

        return self.run(command)


TEMPLATE_KEEPERS = (Role.RELEASE_MANAGER, Role.ADMIN)
"""Who publishes, revises and retires standard templates (the API's routes and the
pages' forms alike)."""


class StandardTemplates(UseCases):
    """Release managers and admins keep the catalogue of pre-approved, low-risk changes;
    no two templates in use share a name (in any case): a change is raised from one by it."""

    def __init__(self, log: EventLog, views: ChangeControlViews) -> None:
        super().__init__(log)
        self.views = views

    def publish(self, draft: TemplateDraft) -> CatalogueRef:
        def command() -> Outcome[CatalogueRef]:
            template = StandardTemplate.publish(
                name=draft.name,
                description=draft.description,
                subsystems=draft.subsystems,
                implementation_plan=draft.implementation_plan,
                backout_plan=draft.backout_plan,
                questionnaire=draft.questionnaire,
                catalogue=self.log.settings.subsystems,
            )
            self._require_name_free(draft.name)  # once the draft itself is sound
            return Outcome([template], CatalogueRef(str(template.id), template.version, True))

        return self.run(command)

    def revise(
        self, template_id: UUID, draft: TemplateDraft, expected_version: int | None = None
    ) -> CatalogueRef:
        """Revised; with `expected_version` (If-Match), only if nobody changed it since it
        was read at that version."""

        def decide(t: StandardTemplate) -> None:
            require_version("standard template", t.version, expected_version)
            t.revise(
                name=draft.name,
                description=draft.description,
                subsystems=draft.subsystems,
                implementation_plan=draft.implementation_plan,
                backout_plan=draft.backout_plan,
                questionnaire=draft.questionnaire,
                catalogue=self.log.settings.subsystems,
            )
            # After the template's own checks (retired, sound): nothing is saved if refused.
            self._require_name_free(draft.name, str(t.id))

        return self._decide(template_id, decide)

    def retire(self, template_id: UUID, reason: str) -> CatalogueRef:
        return self._decide(template_id, lambda t: t.retire(reason))

    def _require_name_free(self, name: str, template_id: str | None = None) -> None:
        """Refused (409) when another template in use has this name, in any case."""
        wanted = name.strip().casefold()
        for other in self.views.templates():
            if wanted and other["name"].casefold() == wanted and other["id"] != template_id:
                raise RuleViolation(
                    "standard_template_exists",
                    f"a standard template named {other['name']!r} is in use: choose another"
                    " name, or retire or rename that one first",
                )

    def _decide(
        self, template_id: UUID, decide: Callable[[StandardTemplate], object]
    ) -> CatalogueRef:
        def command() -> Outcome[CatalogueRef]:
            template = self.log.get(template_id, StandardTemplate, "standard template")
            decide(template)
            return Outcome(
                [template], CatalogueRef(str(template.id), template.version, not template.retired)
            )

        return self.run(command)
