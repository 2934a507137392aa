"""A process starting while the database is slow to hand out its first connection waits
for it (up to RAILYARD_STARTUP_WAIT_S) instead of exiting; past that it says the store is
unavailable."""

from __future__ import annotations

import pytest
from eventsourcing import persistence

from shared.settings import load_settings
from shared.store.errors import StoreUnavailable
from shared.store.log import EventLog
from shared.store.recorders import RailyardPostgresDatastore
from tests.conftest import postgres_url
from tests.postgres import fresh_schema


def pool_timeout_first(times: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pool times out `times` times before it hands out a first connection."""
    attempts: list[int] = []
    real = RailyardPostgresDatastore.register_type_adapters  # the recorder's first query

    def slow_pool(datastore: RailyardPostgresDatastore) -> None:
        attempts.append(1)
        if len(attempts) <= times:
            raise persistence.OperationalError("couldn't get a connection after 5.00 sec")
        real(datastore)

    monkeypatch.setattr(RailyardPostgresDatastore, "register_type_adapters", slow_pool)
    return attempts


@pytest.mark.postgres
def test_a_process_waits_for_the_databases_first_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts = pool_timeout_first(2, monkeypatch)
    url = postgres_url()
    with fresh_schema(url) as schema:
        log = EventLog(load_settings(database_url=url, db_schema=schema, pool_size=1))
        try:
            assert log.head() == 0
        finally:
            log.close()
    assert len(attempts) >= 3  # two timeouts, then the connection (and later uses)


def test_past_the_start_up_wait_the_store_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    pool_timeout_first(10**6, monkeypatch)
    settings = load_settings(
        database_url="postgresql://postgres@127.0.0.1:5432/test",
        startup_wait_s=0,
        create_schema=False,
    )
    with pytest.raises(StoreUnavailable):
        EventLog(settings)
