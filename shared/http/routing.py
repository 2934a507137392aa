"""Routers that a request whose path none of their routes can match skips at once, and
whose plain function routes run in one cheap hand-off to a worker thread.

FastAPI matches a request against every route in turn, each included router's routes
included, until one matches: an approval was matched against 96 of the app's 172 routes,
about a tenth of the served process's CPU. Every route's path begins with the literal text
before its first parameter (`/api/changes/` for `/api/changes/{change_id}/approve`), so a
router none of whose routes' literal beginnings start the request's path cannot match it,
and says so without asking its routes (decision 95)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi import routing as fastapi_routing
from starlette.routing import Match
from starlette.types import Scope

from shared.http.threads import threaded

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key with the same body answers the first"
    " answer again (with `Idempotent-Replayed: true`) and writes nothing; the same key with"
    " another body is refused (422). Keys are per user; 1-255 printable ASCII characters.",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
}
"""Declared on every write in the OpenAPI document: every one honours it (shared.http.auth)."""

LOCATION = "railyard_location"
"""The attribute of a route that answers 201 with a `Location` header: the address of what
it made, a template filled from the answer's own fields (shared.http.middleware)."""


class CreatedAt(dict[int | str, dict[str, Any]]):
    """A creating route's `responses`: its 201 answer carries a `Location` header, the
    address `template` filled from the answer's fields (`/api/requests/{id}`), declared in
    the OpenAPI document. A replay of the write carries it too."""

    def __init__(self, template: str) -> None:
        header = {
            "description": f"Where what was made is read: `{template}`",
            "schema": {"type": "string"},
        }
        super().__init__({201: {"headers": {"Location": header}}})
        self.template = template


class ServiceRouter(APIRouter):
    """An `APIRouter` that answers "no match" at once for a path none of its routes begins
    like (after the prefix it was included with)."""

    _beginnings: tuple[str, ...] | None = None
    _counted = -1

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        """Every route added here, through the decorators too: a plain function route
        runs in one cheap hand-off to a worker thread (`threaded`, decision 0100). A write
        declares the Idempotency-Key header it honours; one whose `responses` are `CreatedAt`
        answers where to read what it made."""
        if WRITE_METHODS & set(options.get("methods") or ()):
            extra = dict(options.get("openapi_extra") or {})
            extra["parameters"] = [*extra.get("parameters", []), IDEMPOTENCY_KEY_PARAMETER]
            options["openapi_extra"] = extra
        responses = options.get("responses")
        super().add_api_route(path, threaded(endpoint), **options)
        if isinstance(responses, CreatedAt):
            setattr(self.routes[-1], LOCATION, responses.template)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        beginnings = self._beginnings_here(scope)
        if beginnings is not None:
            path = scope.get("path", "")
            if isinstance(path, str) and not path.startswith(beginnings):
                return Match.NONE, {}
        return super().matches(scope)

    def beginnings(self) -> tuple[str, ...] | None:
        """The literal beginning of every route's path, or None when some route's cannot
        be told (then every request is matched against the routes, as FastAPI does)."""
        if self._counted != len(self.routes):
            self._beginnings = _beginnings(self.routes)
            self._counted = len(self.routes)
        return self._beginnings

    def _beginnings_here(self, scope: Scope) -> tuple[str, ...] | None:
        """The beginnings after the prefix this router was included with, as FastAPI
        records the inclusion being matched; None (match as FastAPI does) when that is not
        known or the app is served under a root path."""
        own = self.beginnings()
        if own is None or _included_router is None or scope.get("root_path"):
            return None
        included = _included_router(scope)
        if getattr(included, "original_router", None) is not self:
            return None
        prefix = getattr(getattr(included, "include_context", None), "prefix", None)
        if not isinstance(prefix, str):
            return None
        return tuple(prefix + beginning for beginning in own) if prefix else own


# FastAPI's record of the included router being matched (the same lookup its own
# APIRouter.matches starts with); without it, routers match as FastAPI does.
_included_router: Callable[[Scope], Any] | None = getattr(
    fastapi_routing, "_get_scope_included_router", None
)


def _beginnings(routes: list[Any]) -> tuple[str, ...] | None:
    found: set[str] = set()
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            found.add(path.split("{", 1)[0])
            continue
        # A router included in this one: its routes' beginnings after the include's prefix.
        inner = getattr(route, "original_router", None)
        prefix = getattr(getattr(route, "include_context", None), "prefix", None)
        if not isinstance(inner, ServiceRouter) or not isinstance(prefix, str):
            return None
        nested = inner.beginnings()
        if nested is None:
            return None
        found.update(prefix + beginning for beginning in nested)
    return tuple(sorted(found))
