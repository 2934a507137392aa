"""Every fault test gets a fresh schema of its own, migrated once (as `railyard migrate
--grant-to` does) with the test's people and their tokens in it, and the guarantee that
its processes are killed when it ends; when it fails, the end of every process's log is
printed with the failure."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.conftest import People, postgres_url
from tests.postgres import fresh_schema
from tests.processes import Deployment


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(FAILED, False)
    if report.failed:
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    url = postgres_url()
    with fresh_schema(url) as schema:
        deployed = Deployment(url, schema, tmp_path)
        try:
            yield deployed
        finally:
            deployed.close()
            if request.node.stash.get(FAILED, False):
                print(deployed.logs())  # shown in the report's captured teardown output


@pytest.fixture
def people(deployment: Deployment) -> People:
    deployment.migrate()
    return deployment.register_people()
