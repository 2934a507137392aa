"""Fixtures for the security checks: the seeded world, served in-process."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator

import pytest

from shared.platform import Platform
from shared.store.recorders import IDEMPOTENCY_TABLE, SECRETS_TABLE
from tests.security import calls
from tests.security.design import OPERATIONS
from tests.security.world import Served, seeded_world

# What a request could write besides the log: idempotency claims, the notification
# outbox and its attempts (not events), server secrets.
SIDE_TABLES = (IDEMPOTENCY_TABLE, "notify_outbox", "notify_attempts", SECRETS_TABLE)


def written(platform: Platform) -> tuple[int, str]:
    """The log's head and a digest of every table a request may write outside the log."""
    log = platform.log
    digest = hashlib.sha256()
    for table in SIDE_TABLES:
        try:
            with log.db.transaction() as cur:
                cur.execute(f"SELECT * FROM {log.table(table)}")
                digest.update(repr(sorted(map(repr, cur.fetchall()))).encode())
        except sqlite3.OperationalError:  # a service not served here: it wrote nothing
            digest.update(f"no {table}".encode())
    return log.head(), digest.hexdigest()


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The world every operation of the design table needs, served once per process."""
    uses = [calls.uses(op) for op in calls.operations() if op in OPERATIONS]
    with seeded_world(tmp_path_factory.mktemp("world") / "var", uses) as served:
        yield served
