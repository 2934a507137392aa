"""Server-rendered pages: one Jinja2 environment per service, over its own templates
and the shared shell (`shared/web/templates/base.html`), with filters that say dates
and states the way people read them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from shared.identity.domain import Principal, Role
from shared.web.access import Viewer
from shared.web.charts import bar
from shared.web.history import linked
from shared.words import words

SHELL_TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class NavLink:
    """A page in the top navigation, shown to the roles that may use it (all when empty)."""

    label: str
    path: str
    roles: tuple[Role, ...] = ()
    blurb: str = ""

    def visible_to(self, principal: Principal) -> bool:
        return not self.roles or principal.has(*self.roles)


@cache
def static_version(name: str) -> str:
    """A content hash, so browsers cache static files until they change."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/static/{name}?v={static_version(name)}"


def label(value: object) -> str:
    """`info_requested` -> `Info requested`; `in_qa` -> `In QA`, `it_project` -> `IT project`."""
    text = words(value)
    return text[:1].upper() + text[1:]


def sentence(value: object) -> str:
    """A domain error's detail as a sentence: capital first letter, full stop."""
    text = str(value or "").strip()
    if not text:
        return ""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


EN_DASH = "\u2013"
INSTANT = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")
"""An ISO 8601 instant with its offset, as the domain writes one into an error."""


class Templates:
    """Renders a service's templates inside the shared shell."""

    def __init__(self, directory: Path | None, zone: tzinfo = UTC) -> None:
        loaders = [FileSystemLoader(directory)] if directory else []
        loaders.append(FileSystemLoader(SHELL_TEMPLATES))
        self.zone = zone
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(["html", "svg"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["static"] = static_url
        self.env.globals["bar"] = bar
        # The business time zone by name, beside the boxes where a time is typed in it.
        self.env.globals["time_zone"] = str(zone)
        self.env.filters.update(
            label=label,
            sentence=self.sentence,
            when=self.when,
            when_zoned=self.when_zoned,
            span=self.span,
            local_input=self.local_input,
            day=self.day,
            short_day=self.short_day,
            linked=linked,
        )

    def sentence(self, value: object) -> str:
        """A domain error's detail as a sentence, each instant in it (as the API writes
        them, "2026-01-02T00:00:00+00:00") said in the business time zone, named."""
        return INSTANT.sub(lambda m: self.when_zoned(m.group(0)), sentence(value))

    def when(self, value: str | None) -> str:
        if not value:
            return ""
        moment = datetime.fromisoformat(value).astimezone(self.zone)
        return moment.strftime("%d %b %Y %H:%M").lstrip("0")

    def when_zoned(self, value: str | None) -> str:
        """An instant with the time zone it is shown in: "15 Dec 2026 20:00 UTC"."""
        if not value:
            return ""
        zone = datetime.fromisoformat(value).astimezone(self.zone).strftime("%Z")
        return f"{self.when(value)} {zone}"

    def span(self, start: str | None, end: str | None) -> str:
        """A window, such as a change's or a blackout's, with the time zone its times are
        in: "15 Dec 2026 20:00 to 16 Dec 2026 02:00 GMT", "15 Dec 2026 20:00 to 23:00 GMT"
        within a day (with an en dash, as the pages write a range). A CAB member elsewhere
        reads it in the business time zone, named."""
        if not start or not end:
            return self.when(start) or self.when(end)
        first = datetime.fromisoformat(start).astimezone(self.zone)
        last = datetime.fromisoformat(end).astimezone(self.zone)
        until = last.strftime("%H:%M") if first.date() == last.date() else self.when(end)
        return f"{self.when(start)} {EN_DASH} {until} {last.strftime('%Z')}"

    def local_input(self, value: str | None) -> str:
        """An instant as a `datetime-local` field shows it: in the business time zone."""
        if not value:
            return ""
        return datetime.fromisoformat(value).astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

    @staticmethod
    def day(value: str | date | None) -> str:
        if not value:
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return value.strftime("%a %d %b %Y").replace(" 0", " ")

    @staticmethod
    def short_day(value: str | date | None) -> str:
        if not value:
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return value.strftime("%d %b").lstrip("0")

    def render(
        self,
        request: Request,
        name: str,
        viewer: Viewer | None = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        nav: list[NavLink] = list(getattr(request.app.state, "nav", []))
        csrf = str(context.pop("csrf", ""))
        path = request.url.path
        here = max(
            (n.path for n in nav if path == n.path or path.startswith(n.path.rstrip("/") + "/")),
            key=len,
            default=None,
        )
        body = self.env.get_template(name).render(
            request=request,
            viewer=viewer,
            csrf=viewer.csrf if viewer else csrf,
            nav=[n for n in nav if viewer and n.visible_to(viewer.principal)],
            path=path,
            here=here,
            htmx=request.headers.get("hx-request") == "true",
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=headers)

    def missing(
        self, request: Request, viewer: Viewer | None, heading: str, message: str
    ) -> HTMLResponse:
        """A page saying what is not there (404), with the navigation to go on from."""
        return self.render(
            request, "message.html", viewer, status=404, heading=heading, message=message
        )
