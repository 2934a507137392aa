"""Every operation of the served API (from its OpenAPI document), and how to call one
as a given person with the seeded world's ids."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from railyard.app import build_app
from tests.security.design import OPERATIONS, Expected
from tests.security.world import KINDS, OTHER, SHARED, Items, World, settings_for

Operation = tuple[str, str]
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@cache
def openapi() -> dict[str, Any]:
    """The OpenAPI document of a process serving every service, as `railyard serve` does."""
    data_dir = Path(tempfile.mkdtemp(prefix="railyard-openapi-")) / "var"
    atexit.register(shutil.rmtree, data_dir.parent, True)
    app = build_app(settings_for(data_dir), run_followers=False)
    try:
        return app.openapi()
    finally:
        app.state.platform.close()


def operations() -> list[Operation]:
    return [
        (method.upper(), path)
        for path, methods in openapi()["paths"].items()
        for method in methods
        if method in ("get", "post", "put", "patch", "delete")
    ]


def has_json_body(operation: Operation) -> bool:
    method, path = operation
    spec = openapi()["paths"][path][method.lower()]
    return "application/json" in spec.get("requestBody", {}).get("content", {})


def expected(operation: Operation) -> Expected:
    found = OPERATIONS.get(operation)
    if found is None:
        raise AssertionError(
            f"{operation[0]} {operation[1]} is not in the design table: add who may call it"
            " to tests/security/design.py"
        )
    return found


def scope(operation: Operation) -> str:
    """Reads share items; each operation that writes has its own."""
    return SHARED if operation[0] == "GET" else f"{operation[0]} {operation[1]}"


def uses(operation: Operation) -> tuple[str, Callable[[Items], object]]:
    """What to seed for the operation: the items its path and body name."""
    spec = expected(operation)

    def use(items: Items) -> None:
        for value in spec.params.values():
            if value in KINDS:
                items[value]  # made on first use
        if spec.body is not None:
            spec.body(items)

    return scope(operation), use


def path_for(operation: Operation, world: World, caller: str | None, *, other: bool = False) -> str:
    """The operation's path with its parameters naming its items; `other` names another
    person's account, token or feed instead of the caller's own."""
    _, template = operation
    spec = expected(operation)
    items = world.ids(scope(operation))
    me = caller or OTHER
    values: dict[str, str] = {}
    for name, value in spec.params.items():
        if value == "self":
            values[name] = OTHER if other else me
        elif value == "spare_token":
            values[name] = world.spare_tokens[OTHER if other else me]
        elif value == "feed":
            values[name] = world.feeds[OTHER if other else me]
        elif value in KINDS:
            values[name] = items[value]
        else:
            values[name] = value
    return template.format(**values)


def call(
    client: TestClient,
    operation: Operation,
    world: World,
    caller: str | None,
    *,
    other: bool = False,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:  # the test client's response
    """Call the operation as `caller` (None: without a token) with its valid body."""
    method, _ = operation
    spec = expected(operation)
    sent = dict(world.headers(caller))
    if method in WRITE_METHODS:
        # A refused write must not even keep its idempotency key.
        sent["Idempotency-Key"] = uuid.uuid4().hex
    sent.update(headers or {})
    if body is None and spec.body is not None:
        body = spec.body(world.ids(scope(operation)))
    return client.request(
        method,
        path_for(operation, world, caller, other=other),
        params=spec.query,
        json=body,
        headers=sent,
    )
