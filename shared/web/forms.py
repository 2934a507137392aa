"""Reading what a person typed, and running their command so that any refusal comes
back as a message for the page (with nothing written), never as a crash."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

import structlog
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shared.application import ClaimTaken, ConflictPersisted, IdempotencyRequest
from shared.domain import DomainError, NotPermitted
from shared.store.errors import StoreUnavailable
from shared.web.access import Viewer

log = structlog.get_logger(__name__)

R = TypeVar("R")


class BadInput(Exception):
    """A field could not be read (not a number, not a date); 422, nothing written."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Refusal:
    """Why a command wrote nothing, as the page shows it."""

    status: int
    rule: str
    detail: str


class Form:
    """A submitted form, read field by field, keeping exactly what was typed."""

    def __init__(self, data: FormData) -> None:
        self.data = data

    def text(self, name: str) -> str:
        value = self.data.get(name)
        return _checked(name, value.strip()) if isinstance(value, str) else ""

    def texts(self, name: str) -> list[str]:
        return [
            _checked(name, v.strip())
            for v in self.data.getlist(name)
            if isinstance(v, str) and v.strip()
        ]

    def date(self, name: str, label: str) -> date | None:
        value = self.text(name)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadInput(f"{label} is not a date (YYYY-MM-DD): {value!r}") from None

    def integer(self, name: str, label: str, low: int, high: int) -> int:
        value = self.text(name)
        try:
            number = int(value)
        except ValueError:
            raise BadInput(f"{label} must be a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise BadInput(f"{label} must be a whole number from {low} to {high}")
        return number

    def require(self, fields: Mapping[str, str]) -> None:
        """Every field of `fields` (name: what a person calls it) that was left empty, named
        in one message: a form refused for its first gap only, then for the next, costs a
        round trip for each."""
        missing = [label for name, label in fields.items() if not self.texts(name)]
        if missing:
            listed = ", ".join(missing[:-1]) + (" and " if len(missing) > 1 else "") + missing[-1]
            raise BadInput(f"fill in {listed}")

    def kept(self) -> dict[str, str | list[str]]:
        """What was typed, to fill the form again after a refusal."""
        kept: dict[str, str | list[str]] = {}
        for key in self.data:
            values = [v for v in self.data.getlist(key) if isinstance(v, str)]
            kept[key] = values if len(values) > 1 else (values[0] if values else "")
        return kept


def _checked(name: str, text: str) -> str:
    """The text, unless it holds the NUL character, which no event may carry."""
    if "\x00" in text:
        raise BadInput(
            f"{name.replace('_', ' ')} holds the NUL character (U+0000), which no text may"
        )
    return text


async def read_form(request: Request) -> Form:
    return Form(await request.form())


def attempt(
    viewer: Viewer, command: Callable[[], R], once: IdempotencyRequest | None = None
) -> R | Refusal:
    """Run `command` as the viewer; a refusal of any kind becomes a `Refusal`. `once`:
    the form's own key, so that the same form sent twice writes once."""
    caller = viewer.caller if once is None else replace(viewer.caller, idempotency=once)
    try:
        with caller.acting():
            return command()
    except ClaimTaken:
        return Refusal(
            409,
            "form_already_sent",
            "this form was sent before (the page reloaded?) and did its work then; nothing"
            " was done again",
        )
    except BadInput as exc:
        return Refusal(422, "invalid_input", exc.detail)
    except DomainError as exc:
        if isinstance(exc, NotPermitted):  # as the API logs a breach of a security rule
            log.warning("security_rule_refused", rule=exc.rule, detail=exc.detail,
                        user=viewer.username, via="page")  # fmt: skip
        return Refusal(exc.status, exc.rule, exc.detail)
    except ConflictPersisted:
        return Refusal(
            409,
            "concurrent_modification",
            "someone else changed this at the same moment; reload the page and try again",
        )
    except StoreUnavailable:
        return Refusal(
            503,
            "store_unavailable",
            "the event store did not answer in time and nothing was saved; try again shortly",
        )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def see_other(url: str) -> RedirectResponse:
    """Post/Redirect/Get: a reload never posts the form twice."""
    return RedirectResponse(url, status_code=303)


async def handle_form(
    request: Request,
    viewer: Viewer,
    run: Callable[[Form], object],
    refused: Callable[[Refusal, Form], Response],
    done: str | Callable[[Form], str],
) -> Response:
    """A page's form run as the viewer: on to `done` (303; or where `done` says, given
    the form), or, refused, `refused` with the refusal and the form (its page again,
    with the reason and what was typed)."""
    form = await read_form(request)
    result = attempt(viewer, lambda: run(form))
    if isinstance(result, Refusal):
        return refused(result, form)
    return see_other(done(form) if callable(done) else done)
