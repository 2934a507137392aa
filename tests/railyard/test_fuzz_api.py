"""Schemathesis generates requests from the OpenAPI document: none may cause a 5xx, and
every answer must match what the document promises."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from railyard.app import all_components
from services.intake.application import Intake
from services.intake.views import IntakeViews
from shared.application import acting_as
from shared.http.app import create_app
from shared.identity.domain import Role
from shared.platform import Platform
from shared.settings import load_settings
from tests.builders import draft

FUZZ_EXAMPLES = 12


def build_target() -> tuple[Any, str]:
    """An app on a throwaway SQLite store, with data for the generated requests to hit.

    Built at import time: schemathesis' lazy fixture loader does not work on pytest 9."""
    data_dir = Path(tempfile.mkdtemp(prefix="railyard-fuzz-")) / "var"
    atexit.register(shutil.rmtree, data_dir.parent, True)
    platform = Platform.build(load_settings(database_url=None, data_dir=data_dir))
    atexit.register(platform.close)
    with acting_as("fuzz-setup"):
        # One user with every role reaches every route past its role check.
        platform.identity.register(
            "fuzzer", "Fuzzer", [r.value for r in Role], "Sales", "operations"
        )
        platform.identity.register("dev.alice", "Alice", ["it_staff"], None, "development")
        token = platform.identity.issue_token("fuzzer", "fuzz").token
    components = all_components(platform)
    app = create_app(platform, components, run_followers=False)
    seeded = Intake(platform.log, IntakeViews(platform.log), platform.directory)
    principal = platform.directory.principal("fuzzer")
    assert principal is not None
    with acting_as("fuzzer"):
        seeded.submit(principal, draft())
    return app, token


APP, TOKEN = build_target()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_causes_a_server_error(case: Any) -> None:
    if case.path == "/api/events/stream":
        case.query = {**(case.query or {}), "max_events": 1, "after": 0}
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[
            checks.not_a_server_error,
            checks.response_schema_conformance,
            checks.status_code_conformance,
            checks.content_type_conformance,
        ],
    )
