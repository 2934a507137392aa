"""Adds the browser edge to an application: sessions, static files, sign-in, the start
page, and HTML answers where a person (not an API client) asked."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
import inspect
from collections.abc import Sequence
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match

from shared.http.routing import ServiceRouter
from shared.http.session import SessionCodec, SessionMiddleware, session_secret
from shared.identity.pages import TEMPLATES as IDENTITY_TEMPLATES
from shared.identity.pages import signin_router
from shared.identity.people import NAV as PEOPLE_NAV
from shared.identity.people import PeoplePages, people_router
from shared.platform import Component, Finder, Platform, Waiting, WaitingFor
from shared.store.errors import StoreUnavailable
from shared.web.access import PageAccess, PageForbidden, SignInRequired, Viewer
from shared.web.rendering import STATIC, NavLink, Templates

log = structlog.get_logger(__name__)


def wants_html(request: Request) -> bool:
    """A person's browser, not an API client: not under /api and accepting HTML."""
    path = request.url.path
    if path.startswith(("/api/", "/docs", "/openapi", "/healthz", "/readyz", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _posted_form(request: Request) -> bool:
    """A form a page posted (whatever it accepts back), not an API call."""
    kind = request.headers.get("content-type", "")
    form = kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
    return form and not request.url.path.startswith("/api/")


def install_web(app: FastAPI, platform: Platform, components: Sequence[Component]) -> None:
    settings = platform.settings
    codec = SessionCodec(session_secret(platform.log), settings.session_max_age_s)
    templates = Templates(None, settings.zone)
    access = PageAccess(platform.directory)
    nav: list[NavLink] = [link for c in components for link in c.nav] + PEOPLE_NAV
    app.state.nav = nav
    app.add_middleware(SessionMiddleware, codec=codec)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(
        signin_router(
            platform.identity,
            platform.directory,
            access,
            codec,
            settings,
            platform.limits,
        )
    )
    app.include_router(
        people_router(
            PeoplePages(
                platform.identity,
                platform.directory,
                access,
                Templates(IDENTITY_TEMPLATES, settings.zone),
            )
        )
    )
    finders = [finder for c in components for finder in c.finders]
    waiting = [w for c in components for w in c.waiting]
    app.include_router(home_router(access, templates, finders, waiting))

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": exc.next_path})
        return RedirectResponse(exc.next_path, status_code=303)

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, exc: PageForbidden) -> Response:
        log.warning(
            "page_refused",
            path=request.url.path,
            method=request.method,
            username=exc.viewer.username if exc.viewer else None,
            detail=exc.detail,
        )
        return templates.render(
            request,
            "message.html",
            exc.viewer,
            status=403,
            heading="Not for your role",
            message=exc.detail,
        )

    api_errors = app.exception_handlers[StarletteHTTPException]
    api_invalid = app.exception_handlers[RequestValidationError]
    api_unavailable = app.exception_handlers[StoreUnavailable]

    @app.exception_handler(StoreUnavailable)
    async def unavailable(request: Request, exc: StoreUnavailable) -> Response:
        if wants_html(request) or _posted_form(request):
            # A page, or a form posted from one: said as a page (the person's session
            # cannot be read without the store: shown without the navigation).
            log.warning("store_unavailable", path=request.url.path, error=str(exc))
            page = templates.render(
                request,
                "message.html",
                None,
                status=503,
                heading="Railyard cannot reach its database",
                message=(
                    "Nothing was saved. Try again in a moment: your browser's Back button"
                    " returns to the form with what you typed."
                    if request.method == "POST"
                    else "Try again in a moment: reload this page."
                ),
            )
            page.headers["Retry-After"] = str(StoreUnavailable.retry_after_s)
            return page
        answer = api_unavailable(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if wants_html(request):  # a hand-edited address: say so, as a page
            viewer = await access.signed_in(request)  # with the navigation, to go on from
            unread = _unread_query(exc)
            if unread:  # the page is there; what the address asks of it is not
                return templates.render(
                    request,
                    "message.html",
                    viewer,
                    status=400,
                    heading="This address asks for what the page cannot show",
                    message="; ".join(unread) + ".",
                    then={"href": request.url.path, "label": "The page without them"},
                )
            return templates.render(
                request,
                "message.html",
                viewer,
                status=404,
                heading="Not found",
                message="This address does not name anything Railyard knows.",
            )
        answer = api_invalid(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request) and exc.status_code == 405 and request.method == "GET":
            # A form's address (left in the address bar by a refusal, or bookmarked):
            # on to the page it was sent from, not a dead end.
            above = page_above(app, request)
            if above is not None:
                return RedirectResponse(above, status_code=303)
        if wants_html(request) and exc.status_code in (404, 405):
            return templates.render(
                request,
                "message.html",
                await access.signed_in(request),
                status=exc.status_code,
                heading="Not found" if exc.status_code == 404 else "Not here",
                message="There is no page at this address.",
            )
        answer = api_errors(request, exc)
        return await answer if inspect.isawaitable(answer) else answer


def _unread_query(exc: RequestValidationError) -> list[str]:
    """What each query parameter the page could not read was, and what it takes
    (`unit: "year" is not one it takes: Input should be 'week', 'month' or 'quarter'`);
    empty when the address's path itself names nothing."""
    said: list[str] = []
    for error in exc.errors():
        where = tuple(error.get("loc", ()))
        if len(where) < 2 or where[0] != "query":
            return []
        given = error.get("input")
        shown = f'"{given[:60]}"' if isinstance(given, str) else "that"
        said.append(f"{where[1]}: {shown} is not one it takes ({error.get('msg', '')})")
    return said


def page_above(app: FastAPI, request: Request) -> str | None:
    """The nearest page above the request's address (`/changes/{id}` above
    `/changes/{id}/reject`), or None."""
    path = request.url.path.rstrip("/")
    while path.count("/") > 1:
        path = path.rsplit("/", 1)[0]
        scope = {**request.scope, "path": path, "method": "GET"}
        for route in app.router.routes:
            if route.matches(scope)[0] == Match.FULL:
                return None if path.startswith("/api/") else path
    return None


FIND_AT_LEAST = 2
"""Characters the box needs before it looks for words (one letter is in nearly every title)."""
FOUND_SHOWN = 20
"""Records of each kind the box lists for words, newest first."""


def home_router(
    access: PageAccess,
    templates: Templates,
    finders: Sequence[Finder] = (),
    waiting: Sequence[WaitingFor] = (),
) -> APIRouter:
    router = ServiceRouter(include_in_schema=False)
    anyone = access.require()

    @router.get("/")
    def home(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        """The start page: what waits for this person (each service says, for the roles
        they hold; none counted is not shown), then the pages their roles use."""
        waits: list[Waiting] = []
        uncounted = False
        for ask in waiting:
            try:
                waits += [w for w in ask(viewer.principal) if w.count]
            except Exception:  # one service's queue unreadable: the rest still shown, said
                log.exception("waiting_not_counted", username=viewer.username)
                uncounted = True
        return templates.render(
            request, "home.html", viewer, waits=waits, asked=bool(waiting), uncounted=uncounted
        )

    @router.get("/find")
    def find(
        request: Request,
        viewer: Annotated[Viewer, Depends(anyone)],
        q: Annotated[str, Query(max_length=100)] = "",
    ) -> Response:
        """The header's box: a reference (REQ-12, CHG-7) opens that record's page; words
        list the records that contain them, newest first."""
        text = q.strip()
        numbered = [(f, n) for f in finders if (n := f.references.number(text)) is not None]
        for finder, number in numbered:
            path = finder.address(number)
            if path is not None:
                return RedirectResponse(path, status_code=303)
        found = []
        if len(text) >= FIND_AT_LEAST and not numbered:
            found = [(f.kind, *f.matching(text, FOUND_SHOWN)) for f in finders]
        return templates.render(
            request,
            "find.html",
            viewer,
            status=404 if numbered else 200,
            q=text,
            unknown=text if numbered else "",
            found=found,
            too_short=0 < len(text) < FIND_AT_LEAST,
        )

    return router
