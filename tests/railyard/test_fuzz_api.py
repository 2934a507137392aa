"""Schemathesis generates requests from the OpenAPI document, for every operation, and
runs every check it has (schemathesis.toml): no answer is a 5xx, every answer matches
what the document promises (status, content type, schema, headers), invalid requests are
refused, valid ones are not refused by the schema, a missing or wrong token is refused,
an undeclared method is a 405 that says what is allowed.

The same fuzzing runs against a live server by hand (README "Fuzzing the API")."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

import tests.railyard.fuzz_checks  # noqa: F401  # registers the extra check
from railyard.app import build_app
from services.intake.application import Intake
from services.intake.views import IntakeViews
from shared.application import acting_as
from shared.identity.domain import Role
from shared.platform import Platform
from shared.settings import load_settings
from tests.builders import draft

FUZZ_EXAMPLES = 12
ROOT = Path(__file__).resolve().parents[2]


def build_target() -> tuple[Any, str]:
    """The app `railyard serve` builds, on a throwaway SQLite store, with data for the
    generated requests to hit and a token with every role.

    Built at import time: schemathesis' lazy fixture loader does not work on pytest 9."""
    data_dir = Path(tempfile.mkdtemp(prefix="railyard-fuzz-")) / "var"
    atexit.register(shutil.rmtree, data_dir.parent, True)
    # The fuzzer is one user sending many bad tokens on purpose (ignored_auth): no limit.
    settings = load_settings(
        database_url=None, data_dir=data_dir, token_failure_limit_per_address=100_000
    )
    app = build_app(settings, run_followers=False)
    platform: Platform = app.state.platform
    atexit.register(platform.close)
    with acting_as("fuzz-setup"):
        # One user with every role reaches every route past its role check.
        platform.identity.register(
            "fuzzer", "Fuzzer", [r.value for r in Role], "Sales", "operations"
        )
        platform.identity.register("dev.alice", "Alice", ["it_staff"], None, "development")
        platform.identity.register("fuzz.target", "Target", ["it_staff"], None, "qa")
        token = platform.identity.issue_token("fuzzer", "fuzz").token
    seeded = Intake(platform.log, IntakeViews(platform.log), platform.directory)
    principal = platform.directory.principal("fuzzer")
    assert principal is not None
    with acting_as("fuzzer"):
        seeded.submit(principal, draft())
    return app, token


def fuzz_config(token: str) -> SchemathesisConfig:
    """schemathesis.toml, as `schemathesis run` reads it, with the fuzzer's token."""
    document = tomllib.loads((ROOT / "schemathesis.toml").read_text())
    document["auth"]["openapi"]["HTTPBearer"]["bearer"] = token
    return SchemathesisConfig.from_dict(document)


APP, TOKEN = build_target()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=fuzz_config(TOKEN))


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_breaks_the_documented_contract(case: Any) -> None:
    """Every check schemathesis has, on every operation."""
    if case.path == "/api/events/stream":
        case.query = {**(case.query or {}), "max_events": 1}
    case.call_and_validate()
