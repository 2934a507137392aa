"""Mass assignment: a valid body with fields the caller may not set (status, approvals,
id, version, actor ...) is refused with 422 problem+json naming them, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.identity.domain import Role
from tests.security.calls import (
    Operation,
    call,
    expected,
    has_json_body,
    openapi,
    operations,
    scope,
)
from tests.security.conftest import written
from tests.security.world import ROLE_USERS, Served

SMUGGLED = {
    "status": "approved",
    "approvals": [{"by": "cab.carl"}],
    "approved_by": "cab.carl",
    "approved": True,
    "id": "00000000-0000-0000-0000-000000000001",
    "version": 99,
    "revision": 99,
    "actor": "admin",
    "requester": "vp.care",
    "owner": "dev.alice",
    "department": "Finance",
    "roles": ["admin"],
    "token_hash": "0" * 64,
    "created_at": "2020-01-01T00:00:00Z",
}

WITH_BODY = [op for op in operations() if has_json_body(op)]


def ids(operation: Operation) -> str:
    return f"{operation[0]} {operation[1]}"


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its $ref followed (and a nullable anyOf reduced to the object)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return resolve(openapi()["components"]["schemas"][name])
    for option in schema.get("anyOf", []):
        found = resolve(option)
        if found.get("type") == "object" or "properties" in found:
            return found
    return schema


def body_schema(operation: Operation) -> dict[str, Any]:
    method, path = operation
    content = openapi()["paths"][path][method.lower()]["requestBody"]["content"]
    return resolve(content["application/json"]["schema"])


def object_schemas(schema: dict[str, Any], seen: set[int]) -> Iterator[dict[str, Any]]:
    """Every object schema reachable from `schema` (properties, items, unions)."""
    schema = resolve(schema)
    if id(schema) in seen:
        return
    seen.add(id(schema))
    if schema.get("type") == "object" and "properties" in schema:
        yield schema
    for child in schema.get("properties", {}).values():
        yield from object_schemas(child, seen)
    for key in ("items",):
        if isinstance(schema.get(key), dict):
            yield from object_schemas(schema[key], seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for child in schema.get(key, []):
            yield from object_schemas(child, seen)


def allowed_caller(operation: Operation) -> str:
    access = expected(operation).access
    if isinstance(access, str):  # own account: the caller's own
        return ROLE_USERS[Role.REQUESTER]
    return next(user for role, user in ROLE_USERS.items() if role in access)


def assert_refused_naming(served: Served, operation: Operation, body: dict[str, Any],
                          fields: set[str]) -> None:  # fmt: skip
    caller = allowed_caller(operation)
    before = written(served.platform)
    answer = call(served.client, operation, served.world, caller, body=body)
    assert answer.status_code == 422, f"{ids(operation)} as {caller}: {answer.text}"
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["rule"] == "invalid_request"
    # A field inside a union is named with its variant's tag (cadence.monthly.status).
    refused = {
        e["field"].split(".")[0] + "." + e["field"].rsplit(".", 1)[-1]
        if "." in e["field"]
        else e["field"]
        for e in problem["errors"]
        if e["type"] == "extra_forbidden"
    }
    assert refused == fields, problem
    assert written(served.platform) == before, f"{ids(operation)} wrote something"


def test_every_request_body_refuses_unknown_fields() -> None:
    """The documented schema says so too: every object in every request body is closed."""
    open_objects = []
    for operation in WITH_BODY:
        for schema in object_schemas(body_schema(operation), set()):
            if schema.get("additionalProperties") is not False:
                open_objects.append(f"{ids(operation)}: {schema.get('title')}")
    assert open_objects == []


@pytest.mark.parametrize("operation", WITH_BODY, ids=ids)
def test_extra_fields_in_a_valid_body_are_refused_and_write_nothing(
    operation: Operation, shared: Served
) -> None:
    """The valid body of the design table, plus fields the schema does not have."""
    spec = expected(operation)
    valid = spec.body(shared.world.ids(scope(operation))) if spec.body else {}
    known = set(body_schema(operation).get("properties", {}))
    extras = {k: v for k, v in SMUGGLED.items() if k not in known}
    assert_refused_naming(shared, operation, {**valid, **extras}, set(extras))


class AnyIds(dict[str, str]):
    """Stands for the world's ids when only the shape of a body matters."""

    def __missing__(self, kind: str) -> str:
        return "00000000-0000-0000-0000-000000000000"


def nested_objects(operation: Operation) -> list[str]:
    """The body's fields that hold an object with fields of its own (not a map)."""
    spec = expected(operation)
    valid = spec.body(AnyIds()) if spec.body else {}
    properties = body_schema(operation).get("properties", {})
    return [
        k
        for k, v in valid.items()
        if isinstance(v, dict) and "properties" in resolve(properties.get(k, {}))
    ]


NESTED = [(op, field) for op in WITH_BODY for field in nested_objects(op)]


@pytest.mark.parametrize(("operation", "field"), NESTED, ids=[f"{ids(o)} {f}" for o, f in NESTED])
def test_extra_fields_inside_a_nested_object_are_refused_too(
    operation: Operation, field: str, shared: Served
) -> None:
    """A risk assessment or a cadence cannot carry a smuggled score or state."""
    spec = expected(operation)
    assert spec.body is not None
    valid = spec.body(shared.world.ids(scope(operation)))
    body = {**valid, field: {**valid[field], "score": 1, "status": "approved"}}
    assert_refused_naming(shared, operation, body, {f"{field}.score", f"{field}.status"})
