"""What every change-control page handler needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.change_control.application.catalogue import Blackouts, StandardTemplates
from services.change_control.application.changes import ChangeControl
from services.change_control.views import ChangeControlViews
from shared.identity.views import Directory
from shared.web.access import PageAccess, Viewer
from shared.web.forms import BadInput, Form, Refusal, handle_form
from shared.web.rendering import Templates

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass
class ChangePages:
    changes: ChangeControl
    blackouts: Blackouts
    standard: StandardTemplates
    views: ChangeControlViews
    directory: Directory
    access: PageAccess
    templates: Templates
    zone: tzinfo

    def it_staff(self) -> list[dict[str, str]]:
        return [
            {"username": u.username, "name": u.display_name, "team": u.team or ""}
            for u in self.directory.users("it_staff")
            if u.active
        ]

    def moment(self, form: Form, name: str, label: str) -> datetime | None:
        """A `datetime-local` field, read in the business time zone."""
        value = form.text(name)
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise BadInput(f"{label} is not a date and time: {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.zone)

    async def posted(
        self,
        request: Request,
        viewer: Viewer,
        run: Callable[[Form], object],
        page: Callable[[Request, Viewer, Refusal, dict[str, Any], str], Response],
        done: str | Callable[[Form], str],
        failed: str,
    ) -> Response:
        """A catalogue form (a blackout, a standard template) run as the viewer: on to
        `done` (303), or its `page` again with the refusal, what was typed (each ticked
        subsystem too) and which form failed."""

        def refused(refusal: Refusal, form: Form) -> Response:
            kept = {**form.kept(), "subsystems": form.texts("subsystems")}
            return page(request, viewer, refusal, kept, failed)

        return await handle_form(request, viewer, run, refused, done)
