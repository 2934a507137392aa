"""What every request body and parameter is checked against, so that the OpenAPI
document says exactly what the server accepts (schemathesis holds both to it).

- A request body refuses unknown fields (422): nobody can smuggle in `status`,
  `approvals`, `id` or `actor` (mass assignment). Text is stripped of surrounding
  whitespace, so a required text must contain something besides whitespace; the
  documented schema says so with the pattern `\\S`.
- Dates and instants are accepted only as ISO 8601 text (`2027-03-01`,
  `2027-03-01T20:00:00Z`), never as a number of seconds that pydantic would otherwise
  turn into a day in 1970.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import Header, Response
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from shared.domain import InvalidCommand

T = TypeVar("T")
NOT_BLANK = r"[^\s\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""A character that stripping leaves (str.strip takes the separators \x1c-\x1f too, which
a generator's `\\S` offers as text)."""
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})?"
)


def _say_not_blank(schema: dict[str, Any]) -> None:
    """Mark every text that must be non-empty after stripping as `pattern: \\S`."""
    if schema.get("type") == "string" and schema.get("minLength", 0) >= 1:
        schema.setdefault("pattern", NOT_BLANK)
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(schema.get(key), dict):
            _say_not_blank(schema[key])
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            _say_not_blank(option)


def _document(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        _say_not_blank(prop)


def nul_in(value: object, at: str = "") -> str | None:
    """Where in `value` (a field path such as `cadence.start_date` or `subsystems[2]`) a
    text holds the NUL character, or None: PostgreSQL's text cannot hold one, so no event
    may carry one into the views."""
    if isinstance(value, str):
        return at or "the text" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = nul_in(str(key), f"{at}.{key}".lstrip(".")) or nul_in(
                item, f"{at}.{key}".lstrip(".")
            )
            if found:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if found := nul_in(item, f"{at}[{i}]"):
                return found
    return None


class RequestBody(BaseModel):
    """A request body: unknown fields are refused (422), text is stripped, and no text
    may hold the NUL character (U+0000)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_document
    )

    @model_validator(mode="before")
    @classmethod
    def _exact_scalars(cls, data: object) -> object:
        """A whole number is a JSON number without a fraction, a flag true or false, as the
        document says: pydantic would read `true` as 1, "3" as 3 and "yes" as true (a
        rating of `true` was stored as 1, a backout "yes" counted as tested). A value of
        another type is handed on wrapped, for the field's own check to refuse where it
        stands (a model's check would name no field)."""
        if not isinstance(data, dict):
            return data
        wrong = {}
        for name, value in data.items():
            kind = _scalar(cls, name) if value is not None else None
            if kind is not None and not _exactly(value, kind):
                wrong[name] = _OfAnotherType(value)
        return {**data, **wrong} if wrong else data

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: object) -> object:
        if found := nul_in(data):
            raise PydanticCustomError(
                "nul_character",
                "{field} holds the NUL character (U+0000), which no text may",
                {"field": found},
            )
        return data


class _OfAnotherType:
    """A body's value of another JSON type than its field's: no number or flag reads it."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def _exactly(value: object, kind: type) -> bool:
    """`value` is a `kind` as JSON writes one (true is no number, 1 no flag). 10.0 is
    the whole number 10, as JSON Schema's `integer` (which the document publishes) takes
    it: a client writing every number with a point must not be refused for it."""
    if kind is bool:
        return isinstance(value, bool)
    return type(value) is int or (type(value) is float and value.is_integer())


_SCALARS: dict[tuple[type, str], type | None] = {}


def _scalar(model: type[BaseModel], name: str) -> type | None:
    """`int` or `bool` when the field `name` of `model` is one (or one or None)."""
    key = (model, name)
    if key not in _SCALARS:
        field = model.model_fields.get(name)
        kind = field.annotation if field else None
        optional = get_origin(kind) in (Union, UnionType)  # `int | None`, not `list[int]`
        found = [k for k in (get_args(kind) if optional else (kind,)) if k is not type(None)]
        _SCALARS[key] = found[0] if len(found) == 1 and found[0] in (int, bool) else None
    return _SCALARS[key]


def _iso_date(value: object) -> object:
    if isinstance(value, date) or (isinstance(value, str) and ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("a date is written YYYY-MM-DD")


def _iso_instant(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and ISO_INSTANT.fullmatch(value)):
        return value
    raise ValueError("an instant is written YYYY-MM-DDTHH:MM:SS with Z or an offset")


Day = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar day, as `YYYY-MM-DD` only."""


def refuse_reversed_days(*ranges: tuple[date | None, date | None, str]) -> None:
    """Each `(low, high, what)` of a list's `<what>_from`/`<what>_to` pair, refused with
    422 `invalid_range` when given the wrong way round: no day is both, and the empty list
    it would find reads as "nothing happened then" (every list route asks this one rule)."""
    for low, high, what in ranges:
        if low is not None and high is not None and low > high:
            raise InvalidCommand(
                "invalid_range",
                f"{what}_from {low} is after {what}_to {high}: no day is both (swap them)",
            )


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]
"""An instant with its offset, as ISO 8601 text only."""

LocalInstant = Annotated[datetime, BeforeValidator(_iso_instant)]
"""An instant that may leave out its offset (then read in the business time zone)."""


ETAG = re.compile(r'^(?:W/)?"([0-9]{1,18})"$')
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The record\'s `ETag` as read (`"7"`): the change is made only if the'
        " record is still at that version, else 412 `stale_version` (no change of another"
        " is lost). Without it the change is made to the latest version.",
    ),
]


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header names (`"7"` or `W/"7"`), None for none or `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    found = ETAG.fullmatch(if_match.strip())
    if found is None:
        raise InvalidCommand(
            "invalid_if_match",
            f'If-Match names a version as the ETag gives it, such as "7"; not {if_match!r}',
        )
    return int(found[1])


def tagged(response: Response, version: int, answer: T) -> T:
    """`answer`, its record's version set as the response's `ETag`."""
    response.headers["ETag"] = f'"{version}"'  # what If-Match names (`expected_version`)
    return answer
