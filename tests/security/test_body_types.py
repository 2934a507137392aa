"""A whole number or a flag in a request body is one, as the document says: `true`, "3"
and 3.0 for a number, "yes" or 1 for a flag, are refused with 422 naming the field, and
write nothing (a rating of `true` was stored as 1, a backout "yes" counted as tested)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.calls import Operation, call, expected, scope
from tests.security.conftest import written
from tests.security.test_mass_assignment import (
    WITH_BODY,
    allowed_caller,
    body_schema,
    ids,
    resolve,
)
from tests.security.world import Served

WRONG = {"integer": [True, "3", 3.5], "boolean": ["yes", 1]}


def scalar_fields(operation: Operation) -> dict[str, str]:
    """The body's top-level whole-number and flag fields, by their JSON type."""
    found = {}
    for name, schema in body_schema(operation).get("properties", {}).items():
        kinds = [resolve(s).get("type") for s in schema.get("anyOf", [schema])]
        typed = [k for k in kinds if k != "null"]
        if typed in (["integer"], ["boolean"]):
            found[name] = typed[0]
    return found


TYPED = [op for op in WITH_BODY if expected(op).body and scalar_fields(op)]


def test_there_are_bodies_with_numbers_and_flags_to_check() -> None:
    assert len(TYPED) >= 5


@pytest.mark.parametrize("operation", TYPED, ids=ids)
def test_a_number_or_flag_of_another_type_is_refused_and_writes_nothing(
    operation: Operation, shared: Served
) -> None:
    spec = expected(operation)
    assert spec.body is not None
    valid: dict[str, Any] = spec.body(shared.world.ids(scope(operation)))
    caller = allowed_caller(operation)
    for name, kind in scalar_fields(operation).items():
        for wrong in WRONG[kind]:
            before = written(shared.platform)
            answer = call(
                shared.client, operation, shared.world, caller, body={**valid, name: wrong}
            )
            said = f"{ids(operation)} {name}={wrong!r}: {answer.text}"
            assert answer.status_code == 422, said
            problem = answer.json()
            assert problem["rule"] == "invalid_request", said
            assert [e["field"] for e in problem["errors"]] == [name], said
            assert written(shared.platform) == before, said
