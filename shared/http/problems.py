"""Every failure leaves as RFC 9457 problem+json, mapped in this one place."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from shared.application import ConflictPersisted
from shared.domain import DomainError, NotPermitted
from shared.store.errors import StoreUnavailable, WriteConflict
from shared.store.log import ClaimTaken

log = structlog.get_logger(__name__)

PROBLEM_BASE = "https://railyard.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details; `rule` names what refused the request."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    rule: str
    instance: str | None = None


def _documented(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "model": Problem,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# Every route may answer these; documenting them lets clients (and schemathesis) rely on it.
STANDARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("Malformed request"),
    401: _documented("No token, or an unknown, revoked or expired one"),
    403: _documented("The caller's role or identity does not allow this"),
    404: _documented("No such item"),
    409: _documented("A rule of the domain refused the command in the item's current state"),
    413: _documented("The request body is too large"),
    415: _documented("A write's body says it is not JSON (Content-Type)"),
    422: _documented("The request does not match the schema, or breaks a rule of its values"),
    429: _documented("Too many requests; retry after the Retry-After header"),
    503: _documented("The store did not answer in time; retry after the Retry-After header"),
}

IF_MATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: _documented("If-Match named a version the record has moved past (stale_version)")
}
"""For the routes that honour If-Match, besides the standard ones."""


class ProblemResponse(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem(
    status: int,
    rule: str,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    **more: Any,
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + rule.replace("_", "-"),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "rule": rule,
    }
    if instance:
        body["instance"] = instance
    for key, value in {**(extra or {}), **more}.items():
        if value is not None and key not in body:
            body[key] = value
    return ProblemResponse(body, status_code=status, headers=headers)


class NotAuthenticated(Exception):
    """No token, or one that is unknown, revoked or expired (401)."""

    def __init__(self, detail: str, *, token_given: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.token_given = token_given


class IdempotentReplay(Exception):
    """The request repeats an earlier one with the same key: answer as then."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__("replay")
        self.status = status
        self.body = body


class TooManyRequests(Exception):
    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_s = retry_after_s


def _either(methods: list[str]) -> str:
    if len(methods) < 2:
        return "".join(methods) or "another address"
    return ", ".join(methods[:-1]) + " or " + methods[-1]


def _unreadable_body(cause: BaseException | None) -> str | None:
    """What is wrong with a body that could not be read as JSON at all, or None."""
    if isinstance(cause, RecursionError):
        return "the body's JSON is nested too deeply to read: send a flatter JSON object"
    if isinstance(cause, UnicodeDecodeError):
        return f"the body is not valid UTF-8 (at byte {cause.start}): send JSON encoded as UTF-8"
    return None


def _what_is_wrong(request: Request, exc: RequestValidationError) -> str:
    """The detail of a 422: what to do when the body itself is the problem (not JSON, not
    sent as JSON, missing), else the schema's field errors listed under `errors`."""
    errors = exc.errors()
    broken = [e for e in errors if e.get("type") == "json_invalid"]
    if broken:  # its location is ("body", <the character where the JSON broke off>)
        at = [p for p in broken[0].get("loc", ()) if isinstance(p, int)]
        where = f" (at character {at[0]})" if at else ""
        return f"the body is not valid JSON{where}: send a JSON object"
    whole_body = [e for e in errors if tuple(e.get("loc", ())) in (("body",), ("body", 0))]
    if whole_body:
        kind = whole_body[0].get("type", "")
        sent_as = request.headers.get("content-type", "").split(";")[0].strip() or "nothing"
        if kind == "missing":
            return "this request needs a JSON body: send {} when every field is optional"
        if sent_as != "application/json":
            return (
                f"the body was sent as {sent_as}: send a JSON object with"
                " Content-Type: application/json"
            )
        return "the body must be a JSON object"
    return "the request does not match the documented schema: see `errors`"


BEYOND_THE_SCHEMA = {"nul_character": "nul_character", "value_error": "invalid_value"}
"""Validation errors that our own validators raise for values the documented schema allows
(a text holding NUL; "name exactly one of ..."), by the rule they are answered with:
`invalid_request` is kept for requests the document itself does not allow."""


def _beyond_the_schema(exc: RequestValidationError) -> tuple[str, str] | None:
    errors = exc.errors()
    kinds = {str(e.get("type", "")) for e in errors}
    if not errors or not kinds <= BEYOND_THE_SCHEMA.keys():
        return None
    rule = "nul_character" if "nul_character" in kinds else "invalid_value"
    said = [str(e.get("msg", "")).removeprefix("Value error, ") for e in errors]
    return rule, "; ".join(dict.fromkeys(said))


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for error in exc.errors():
        kind = error.get("type", "")
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        if kind == "json_invalid":  # its location is the character it broke at, no field
            at = f" at character {loc[0]}" if loc else ""
            reason = (error.get("ctx") or {}).get("error", "")
            said = f"the body is not valid JSON{at}" + (f": {reason}" if reason else "")
            errors.append({"message": said, "type": kind})
            continue
        if kind == "nul_character":  # a model's own check: the field is in what it says
            loc.append(str((error.get("ctx") or {}).get("field", "")))
        field = ".".join(p for p in loc if p)
        errors.append({"field": field, "message": error.get("msg", ""), "type": kind})
    return errors


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, NotPermitted):
            log.warning(
                "security_rule_refused",
                rule=exc.rule,
                path=request.url.path,
                detail=exc.detail,
                user=structlog.contextvars.get_contextvars().get("user"),
            )
        return problem(exc.status, exc.rule, exc.detail, instance=request.url.path, extra=exc.extra)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        beyond = _beyond_the_schema(exc)
        if beyond is not None:  # values the schema allows, that a rule of ours refuses
            rule, detail = beyond
            return problem(
                422, rule, detail, instance=request.url.path, errors=_validation_errors(exc)
            )
        return problem(
            422,
            "invalid_request",
            _what_is_wrong(request, exc),
            instance=request.url.path,
            errors=_validation_errors(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        rule = {
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
            415: "unsupported_media_type",
            400: "malformed_request",
        }.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":  # no route: say what to check
            detail = (
                f"there is nothing at {request.url.path}: check the address (an id in it is a"
                " UUID, as the API returns them)"
            )
        if exc.status_code == 400 and (unreadable := _unreadable_body(exc.__cause__)):
            # FastAPI answers 400 for a body json could not even read; it is a bad body
            # like any other JSON that does not parse, so it is answered as they are.
            return problem(422, "invalid_request", unreadable, instance=request.url.path)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            detail = (
                f"{request.method} is not allowed at {request.url.path}: use {_either(allowed)}"
            )
        return problem(exc.status_code, rule, detail, instance=request.url.path, headers=headers)

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        return problem(
            401,
            "authentication_required",
            exc.detail,
            instance=request.url.path,
            # RFC 6750: a token given and refused is `invalid_token`; none, no error code.
            headers={
                "WWW-Authenticate": 'Bearer realm="railyard"'
                + (', error="invalid_token"' if exc.token_given else "")
            },
        )

    @app.exception_handler(StoreUnavailable)
    async def unavailable(request: Request, exc: StoreUnavailable) -> Response:
        log.warning("store_unavailable", path=request.url.path, error=str(exc))
        return problem(
            503,
            "store_unavailable",
            "the event store did not answer in time; nothing was written by this"
            " request unless a retry with the same Idempotency-Key says so",
            instance=request.url.path,
            headers={"Retry-After": str(StoreUnavailable.retry_after_s)},
        )

    @app.exception_handler(ConflictPersisted)
    async def conflict(request: Request, exc: ConflictPersisted) -> Response:
        return _write_conflict(request, exc.conflict)

    @app.exception_handler(WriteConflict)
    async def write_conflict(request: Request, exc: WriteConflict) -> Response:
        return _write_conflict(request, exc)

    @app.exception_handler(ClaimTaken)
    async def claim_taken(request: Request, exc: ClaimTaken) -> Response:
        fingerprint = getattr(request.state, "idempotency_fingerprint", None)
        if fingerprint == exc.claim.fingerprint:
            return replay(exc.claim.status, exc.claim.response)
        return reused_key(request)

    @app.exception_handler(IdempotentReplay)
    async def idempotent_replay(request: Request, exc: IdempotentReplay) -> Response:
        return replay(exc.status, exc.body)

    @app.exception_handler(TooManyRequests)
    async def too_many(request: Request, exc: TooManyRequests) -> Response:
        return problem(
            429,
            "rate_limited",
            exc.detail,
            instance=request.url.path,
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return problem(
            500,
            "internal_error",
            "an unexpected error occurred; it has been logged with the request id",
            instance=request.url.path,
        )


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (Starlette's own 405 names only the
    first route that matched the path, not all of them)."""
    router = request.app.router
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in router.routes
        )
    ]


def _write_conflict(request: Request, conflict: WriteConflict) -> Response:
    return problem(
        409,
        "concurrent_modification",
        "another change to the same item was saved first; reload and try again",
        instance=request.url.path,
        aggregate_id=str(conflict.aggregate_id),
        current_version=conflict.current_version,
    )


def replay(status: int, body: str) -> Response:
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def reused_key(request: Request) -> Response:
    return problem(
        422,
        "idempotency_key_reused",
        "this Idempotency-Key was already used for a different request",
        instance=request.url.path,
    )
