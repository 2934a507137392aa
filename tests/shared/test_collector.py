"""The cyclic collector while a process serves: what it built before it served stays out
of full collections until the last app in the process stops (decision 0108)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from shared.http.app import create_app
from shared.platform import Platform


def test_what_a_serving_process_built_at_start_stays_out_of_full_collections(
    sqlite_platform: Platform,
) -> None:
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(sqlite_platform, [], run_followers=False)) as client:
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the modules, the app and its routes, at least
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() >= frozen  # requests do not thaw it
    assert gc.get_freeze_count() == 0  # stopped: collected as usual again


def test_a_second_app_stopping_leaves_the_first_frozen(sqlite_platform: Platform) -> None:
    with TestClient(create_app(sqlite_platform, [], run_followers=False)):
        frozen = gc.get_freeze_count()
        with TestClient(create_app(sqlite_platform, [], run_followers=False)):
            assert gc.get_freeze_count() >= frozen
        assert gc.get_freeze_count() >= frozen
    assert gc.get_freeze_count() == 0
