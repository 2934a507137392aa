"""The cyclic collector while a process serves: what it held when its first app started
stays out of full collections until the last app in the process stops (decision 0108).

Run in a fresh interpreter: in the test process, other tests' apps may be serving."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SERVE = """
import gc, json, sys
from fastapi.testclient import TestClient
from shared.http.app import create_app
from shared.platform import Platform
from shared.settings import load_settings

platform = Platform.build(load_settings(database_url=None, data_dir=sys.argv[1]))
seen = {"before": gc.get_freeze_count()}
with TestClient(create_app(platform, [], run_followers=False)) as client:
    seen["serving"] = gc.get_freeze_count()
    client.get("/healthz")
    seen["after_a_request"] = gc.get_freeze_count()
    with TestClient(create_app(platform, [], run_followers=False)):
        seen["second_serving"] = gc.get_freeze_count()
    seen["second_stopped"] = gc.get_freeze_count()
seen["stopped"] = gc.get_freeze_count()
platform.close()
print(json.dumps(seen))
"""


def test_what_a_serving_process_held_at_start_stays_out_of_full_collections(
    tmp_path: Path,
) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SERVE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    seen = json.loads(ran.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0
    assert seen["serving"] > 10_000  # the modules, the app and its routes, at least
    # Serving and a second app starting beside it freeze nothing more (frozen objects
    # freed by reference counting leave the count), and its stopping thaws nothing...
    assert seen["serving"] >= seen["after_a_request"] >= seen["second_serving"] > 10_000
    assert seen["second_stopped"] > 10_000
    assert seen["stopped"] == 0  # ...until the last app stops: collected as usual again
