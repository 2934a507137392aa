"""Request id, access log, Prometheus timings and the body size limit, as one ASGI layer."""

from __future__ import annotations

import re
import time
import uuid
from html import escape
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import orjson
import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.routing import LOCATION

log = structlog.get_logger("railyard.http")

REQUESTS = Counter(
    "railyard_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "railyard_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


SAFETY_HEADERS = [
    # No page may be framed by another site (a CAB approval clicked through a decoy),
    # nor a form sent, nor a base or plugin set, anywhere but here. Scripts and styles
    # stay unrestricted: htmx's hx-on and the pages' style attributes need inline ones.
    (
        b"content-security-policy",
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def _with_safety_headers(
    headers: list[tuple[bytes, bytes]], request_id: str
) -> list[tuple[bytes, bytes]]:
    """The request id, the headers every answer carries, and `no-store` on pages and
    JSON: a page shows one person's work as it was, and Back after a form sent must ask
    again rather than show the page from before it (a resent form is refused, not
    repeated); an API answer is one caller's, and some carry a secret shown once (a new
    token, a webhook's signing secret, a calendar link) that no cache may keep."""
    names = {name.lower() for name, _ in headers}
    added = [(b"x-request-id", request_id.encode())]
    added += [(name, value) for name, value in SAFETY_HEADERS if name not in names]
    is_page = any(
        name.lower() == b"content-type"
        and value.startswith((b"text/html", b"application/json", b"application/problem+json"))
        for name, value in headers
    )
    if is_page and b"cache-control" not in names:
        added.append((b"cache-control", b"no-store"))
    return [*headers, *added]


class RequestContext:
    """Binds a request id to every log line, answers 413 for oversized bodies before
    the application reads them, and times each request."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            # HEAD is GET without the body (RFC 9110): FastAPI's routes answered it 405.
            as_get = dict(scope, method="GET", state={**scope.get("state", {}), "head": True})
            await self(as_get, receive, _without_body(send))
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        supplied = headers.get("x-request-id", "")
        request_id = supplied if REQUEST_ID.match(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": 0}
        held: list[Message] = []  # a 201 answer, until its body says where it made what

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = 1
                message["headers"] = _with_safety_headers(
                    list(message.get("headers", [])), request_id
                )
                if message["status"] == 201 and _location_template(scope) is not None:
                    held.append(message)
                    return
            elif held:
                held.append(message)
                if message.get("more_body"):
                    return
                await _send_located(scope, _location_template(scope) or "", held, send)
                held.clear()
                return
            await send(message)

        try:
            if _nul_in_address(scope):
                said = "the address holds the NUL character (%00), which no parameter may"
                title = HTTPStatus(422).phrase  # as every other 422 is titled
                await _refuse(scope, send_with_id, 422, title, "nul_in_address", said)
                return
            body_receive = await self._bounded_body(scope, receive, headers, send_with_id)
            if body_receive is not None:
                await self.app(scope, body_receive, send_with_id)
        except Exception:
            # Answered here, inside the request's context: the answer carries its id (in
            # the body and the header) for the person to quote, and the error is logged
            # once, with that id (Starlette's outer handler would answer without it, and
            # uvicorn log the traceback a second time, as plain text).
            if status_holder["started"]:
                raise
            log.exception("unhandled_error", path=scope["path"])
            await _internal_error(scope, headers, request_id, send_with_id)
        finally:
            _answered(scope, status_holder["status"], time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()

    async def _bounded_body(
        self, scope: Scope, receive: Receive, headers: dict[str, str], send: Send
    ) -> Receive | None:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, send)
            return None
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return receive
        if _not_json(scope, headers):
            kind = headers["content-type"].split(";")[0].strip()[:80]
            detail = (
                f"the API reads a body as JSON, and this one says it is {kind!r}: send it"
                " with Content-Type: application/json"
            )
            await _refuse(
                scope, send, 415, "Unsupported Media Type", "unsupported_media_type", detail
            )
            return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, send)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _too_large(self, scope: Scope, send: Send) -> None:
        detail = f"the request body exceeds {self.max_body_bytes} bytes"
        await _refuse(scope, send, 413, "Content Too Large", "body_too_large", detail)


def _answered(scope: Scope, status: int, elapsed: float) -> None:
    """The answer logged and counted, by its route's template (a HEAD as HEAD)."""
    template = getattr(scope.get("route"), "path", None) or "unmatched"
    method = "HEAD" if scope["state"].get("head") else scope["method"]
    REQUESTS.labels(method, template, str(status)).inc()
    LATENCY.labels(method, template).observe(elapsed)
    log.info(
        "http_request_answered",
        method=method,
        path=scope["path"],
        status=status,
        duration_ms=round(elapsed * 1000, 2),
    )


def _without_body(send: Send) -> Send:
    """`send`, the answer's headers as they are (its Content-Length too), its body not."""

    async def headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return headers_only


def _not_json(scope: Scope, headers: dict[str, str]) -> bool:
    """An API write whose body says it is something else than JSON (`curl -d` sends a
    form's type): 415 says so, where the document's schema would refuse it as a 422
    naming no field. Without a Content-Type the body is read as JSON, as before."""
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind or not scope["path"].startswith("/api/"):
        return False
    if headers.get("content-length", "") == "0":
        return False  # no body: nothing to read as anything
    return not (kind == "application/json" or kind.endswith("+json"))


def _page(heading: str, message: str) -> bytes:
    """A page for a person's browser, answered before the application is reached."""
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>"
        f"{escape(heading)} · Railyard</title><body style='font-family:system-ui;"
        f"max-width:40rem;margin:3rem auto'><h1>{escape(heading)}</h1><p>{message}</p>"
        "<p><a href='/'>Home</a></p></body></html>"
    ).encode()


def _browser(scope: Scope) -> bool:
    """A person's browser asking for a page (not the API, which answers problem details)."""
    accept = dict(scope.get("headers", [])).get(b"accept", b"")
    return b"text/html" in accept and not scope["path"].startswith("/api/")


async def _refuse(
    scope: Scope, send: Send, status: int, title: str, rule: str, detail: str
) -> None:
    """Problem details, before the application has read the request (a page, saying the
    same, for a browser)."""
    if _browser(scope):
        page = _page(title, escape(detail[:1].upper() + detail[1:]) + ".")
        await _send_whole(send, status, b"text/html; charset=utf-8", page)
        return
    body: dict[str, Any] = {
        "type": f"https://railyard.dev/problems/{rule.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "rule": rule,
        "instance": scope["path"].replace("\x00", "\ufffd"),
    }
    await _send_whole(send, status, b"application/problem+json", orjson.dumps(body))


async def _send_whole(send: Send, status: int, kind: bytes, payload: bytes) -> None:
    """An answer of one body, sent by this layer itself."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", kind), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _location_template(scope: Scope) -> str | None:
    template = getattr(scope.get("route"), LOCATION, None)
    return template if isinstance(template, str) else None


async def _send_located(scope: Scope, template: str, held: list[Message], send: Send) -> None:
    """A 201 answer, with the address of what it made filled from its body's fields."""
    start, *body = held
    made: str | None = None
    try:
        fields = orjson.loads(b"".join(m.get("body", b"") for m in body))
        if isinstance(fields, dict):
            made = template.format_map({k: quote(str(v), safe="") for k, v in fields.items()})
    except (orjson.JSONDecodeError, KeyError, IndexError, ValueError):
        pass  # not the answer its route declares: sent as it is, without the header
    if made is not None:
        location = (scope.get("root_path", "") + made).encode("latin-1", "replace")
        start["headers"] = [*start["headers"], (b"location", location)]
    for message in held:
        await send(message)


def _nul_in_address(scope: Scope) -> bool:
    """Whether the path or the query holds the NUL character, which no search, filter or
    id may (PostgreSQL's text cannot hold one)."""
    return "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")


async def _internal_error(
    scope: Scope, headers: dict[str, str], request_id: str, send: Send
) -> None:
    """500, as a page for a browser and as problem details for the API, with the id."""
    said = "an unexpected error occurred; nothing more was saved than a reload shows"
    if "text/html" in headers.get("accept", ""):
        payload = _page(
            "Something went wrong",
            "Railyard could not answer this, and nothing more was saved than a reload shows."
            " It has been logged: if it happens again, give your administrator this id:"
            f" <code>{escape(request_id)}</code>",
        )
        kind = b"text/html; charset=utf-8"
    else:
        payload = orjson.dumps(
            {
                "type": "https://railyard.dev/problems/internal-error",
                "title": "Internal Server Error",
                "status": 500,
                "detail": f"{said}; it has been logged with the request id {request_id}",
                "rule": "internal_error",
                "instance": scope["path"],
                "request_id": request_id,
            }
        )
        kind = b"application/problem+json"
    await _send_whole(send, 500, kind, payload)
