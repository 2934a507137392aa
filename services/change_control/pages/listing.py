"""Every production change, as a list to filter: what is open, what a person raised or
implements, what touched a subsystem, what failed; newest first, a page at a time."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.change_control.domain import ENDED, Status
from services.change_control.domain.values import ChangeType
from services.change_control.pages.base import ChangePages
from services.change_control.views import ChangeFilter
from shared.http.routing import ServiceRouter
from shared.web.access import Viewer
from shared.web.rendering import label

PAGE_SIZE = 50
OPEN = tuple(s.value for s in Status if s not in ENDED)
"""A change is open until it is closed, rejected or withdrawn (a completed one waits
for its review, or an emergency's retrospective approval)."""
SHOWN = {"open": OPEN, "ended": tuple(s.value for s in Status if s in ENDED), "all": ()}
CHOICES = (
    ("open", "Open"),
    ("ended", "Ended"),
    ("all", "Every status"),
    *((s.value, label(s.value)) for s in Status),
)


@dataclass
class Listing:
    """The page's question, read from its address; what could not be read is named in
    `errors` and left out (the page still answers the rest)."""

    show: str = "open"
    change_type: str = ""
    subsystem: str = ""
    person: str = ""
    words: str = ""
    page: int = 1
    errors: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, params: Any, catalogue: tuple[str, ...]) -> "Listing":
        found = cls()
        show = params.get("status", "open").strip() or "open"
        if show in SHOWN or show in {s.value for s in Status}:
            found.show = show
        else:
            found.errors.append(f"There is no status “{show}”: showing open changes.")
        change_type = params.get("type", "").strip()
        if change_type in {t.value for t in ChangeType}:
            found.change_type = change_type
        elif change_type:
            found.errors.append(f"There is no change type “{change_type}”: showing every type.")
        subsystem = params.get("subsystem", "").strip()
        known = {s.casefold(): s for s in catalogue}
        if subsystem.casefold() in known:
            found.subsystem = known[subsystem.casefold()]
        elif subsystem:
            found.errors.append(f"There is no subsystem “{subsystem[:100]}”: showing every one.")
        found.person = params.get("person", "").strip()[:64]
        found.words = params.get("q", "").strip()[:200]
        page = params.get("page", "1").strip()
        if page.isdigit() and 1 <= int(page) <= 100_000:
            found.page = int(page)
        else:
            found.errors.append(f"“{page[:20]}” is not a page number: showing the first page.")
        return found

    def filter(self) -> ChangeFilter:
        statuses = SHOWN.get(self.show, (self.show,))
        return ChangeFilter(
            status=statuses,
            change_type=self.change_type or None,
            subsystem=self.subsystem or None,
            person=self.person or None,
            text=self.words or None,
        )

    def address(self, **changed: Any) -> str:
        """This list's address with some of its parts changed (a page, a person)."""
        parts = {
            "status": self.show,
            "type": self.change_type,
            "subsystem": self.subsystem,
            "person": self.person,
            "q": self.words,
            "page": self.page,
            **changed,
        }
        kept = {
            k: v for k, v in parts.items() if v and (k, v) not in {("status", "open"), ("page", 1)}
        }
        return "/changes" + (f"?{urlencode(kept)}" if kept else "")


def listing_routes(p: ChangePages) -> APIRouter:
    router = ServiceRouter()
    anyone = p.access.require()

    @router.get("/changes")
    def changes(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        asked = Listing.read(request.query_params, p.changes.catalogue)
        items, total = p.views.find(
            asked.filter(), limit=PAGE_SIZE, offset=(asked.page - 1) * PAGE_SIZE
        )
        pages = max(1, -(-total // PAGE_SIZE))
        return p.templates.render(
            request,
            "changes.html",
            viewer,
            asked=asked,
            items=items,
            total=total,
            first=(asked.page - 1) * PAGE_SIZE + 1,
            pages=pages,
            choices=CHOICES,
            types=[t.value for t in ChangeType],
            catalogue=p.changes.catalogue,
            mine=asked.address(person=viewer.username, page=1),
        )

    return router
