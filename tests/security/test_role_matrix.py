"""Every API operation called as every role and without a token: each answer is the one
the design table (tests/security/design.py) says, and a refusal writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared.identity.domain import Role
from tests.security.calls import Operation, call, expected, has_json_body, operations
from tests.security.conftest import written
from tests.security.design import FEED_SECRET, OPERATIONS, OWN, PUBLIC
from tests.security.world import ROLE_USERS, Served

PROBLEM = "application/problem+json"
ALLOWED_ANSWERS = {200, 201, 204, 404, 409, 422}

OPERATIONS_IN_DOCUMENT = operations()


def ids(operation: Operation) -> str:
    return f"{operation[0]} {operation[1]}"


def assert_refused(served: Served, operation: Operation, caller: str | None, status: int,
                   *, other: bool = False) -> None:  # fmt: skip
    before = written(served.platform)
    answer = call(served.client, operation, served.world, caller, other=other)
    who = caller or "no token"
    assert answer.status_code == status, f"{ids(operation)} as {who}: {answer.text}"
    assert answer.headers["content-type"].startswith(PROBLEM)
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert written(served.platform) == before, f"{ids(operation)} as {who} wrote something"


def assert_admitted(served: Served, operation: Operation, caller: str,
                    *, other: bool = False) -> Any:  # fmt: skip
    answer = call(served.client, operation, served.world, caller, other=other)
    assert answer.status_code in ALLOWED_ANSWERS, f"{ids(operation)} as {caller}: {answer.text}"
    if answer.status_code == 422:
        # The table's body is valid: a 422 must be a rule of the domain, not the schema.
        assert answer.json()["rule"] != "invalid_request", answer.text
    return answer


def test_every_operation_is_in_the_design_table() -> None:
    """A new endpoint cannot ship without saying who may call it."""
    unclassified = [ids(op) for op in OPERATIONS_IN_DOCUMENT if op not in OPERATIONS]
    assert unclassified == [], "add these to tests/security/design.py"
    assert set(OPERATIONS) <= set(OPERATIONS_IN_DOCUMENT), "the table names a missing route"


@pytest.mark.parametrize("operation", OPERATIONS_IN_DOCUMENT, ids=ids)
def test_each_role_gets_the_answer_the_design_gives(operation: Operation, shared: Served) -> None:
    """401 without a token, 403 for a role that may not (writing nothing), and for a
    role that may an answer that is never 401/403 - for real, a 2xx from the seeded world."""
    spec = expected(operation)
    served = shared
    successes: list[str] = []

    if spec.access == PUBLIC:
        for caller in [None, *ROLE_USERS.values()]:
            answer = call(served.client, operation, served.world, caller)
            assert answer.status_code == 200, f"{ids(operation)} as {caller}: {answer.text}"
        return
    if spec.access == FEED_SECRET:
        assert_calendar_feed_takes_only_its_secret(served, operation)
        return

    assert_refused(served, operation, None, 401)
    if spec.access == OWN:
        for role, caller in ROLE_USERS.items():
            if role != Role.ADMIN:
                assert_refused(served, operation, caller, 403, other=True)
        for caller in ROLE_USERS.values():
            if assert_admitted(served, operation, caller).is_success:
                successes.append(caller)
        assert_admitted(served, operation, ROLE_USERS[Role.ADMIN], other=True)
    else:
        assert not isinstance(spec.access, str)
        for role, caller in ROLE_USERS.items():
            if role not in spec.access:
                assert_refused(served, operation, caller, 403)
        for role, caller in ROLE_USERS.items():
            if role in spec.access and assert_admitted(served, operation, caller).is_success:
                successes.append(caller)

    if spec.no_success:
        assert successes == [], f"{ids(operation)} now succeeds: drop its no_success note"
    else:
        assert successes, f"no allowed caller got a 2xx from {ids(operation)}: fix the seed"


def assert_calendar_feed_takes_only_its_secret(served: Served, operation: Operation) -> None:
    client, world = served.client, served.world
    for caller in [None, *ROLE_USERS.values()]:
        answer = call(client, operation, world, caller)  # a bearer token is not the secret
        assert answer.status_code == 401, answer.text
    for caller in ROLE_USERS.values():
        answer = client.get(operation[1], params={"token": world.feed_secrets[caller]})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/calendar")


def refused_roles(operation: Operation) -> list[Role]:
    access = OPERATIONS[operation].access if operation in OPERATIONS else "public"
    return [] if isinstance(access, str) else [r for r in ROLE_USERS if r not in access]


ROLE_LIMITED = [op for op in OPERATIONS_IN_DOCUMENT if has_json_body(op) and refused_roles(op)]


@pytest.mark.parametrize("operation", ROLE_LIMITED, ids=ids)
def test_a_refused_role_is_refused_before_its_body_is_read(
    operation: Operation, shared: Served
) -> None:
    """Without the role, even a wrong body is a 403: no hint of the schema, nothing written."""
    caller = ROLE_USERS[refused_roles(operation)[0]]
    before = written(shared.platform)
    answer = call(shared.client, operation, shared.world, caller, body={"status": "bogus"})
    assert answer.status_code == 403, answer.text
    assert written(shared.platform) == before


def test_the_api_documentation_is_public(shared: Served) -> None:
    """The OpenAPI document and its page need no token (README: API docs at /docs)."""
    assert shared.client.get("/openapi.json").status_code == 200
    docs = shared.client.get("/docs")
    assert docs.status_code == 200
    assert "openapi.json" in docs.text
