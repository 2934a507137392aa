"""A check schemathesis runs beside its own (pytest imports it; for `schemathesis run`
set SCHEMATHESIS_HOOKS=tests.railyard.fuzz_checks).

positive_data_acceptance is told that a 422 may be a rule of the domain; what it must
still catch is the server's schema refusing what its document allows."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.check
def schema_valid_requests_pass_the_schema(ctx: Any, response: Any, case: Any) -> None:
    """A request generated from the document is never refused as not matching it."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    try:
        rule = response.json().get("rule")
    except ValueError:
        return
    if rule == "invalid_request":
        raise AssertionError(
            "a request that matches the documented schema was refused as not matching it:"
            f" {response.text[:500]}"
        )
