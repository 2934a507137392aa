"""The log's promises: order, concurrency, append-only, and lost acknowledgements."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from services.intake.domain import ChangeRequest, ClassOfService, Status
from shared.application import acting_as
from shared.domain import attributed_to
from shared.platform import Platform
from shared.store.errors import WriteConflict
from shared.store.migrate import grant_service_role
from shared.store.recorders import EVENTS_TABLE, RailyardPostgresRecorder
from tests.builders import new_request
from tests.postgres import SERVICE_ROLE, as_role, ensure_login_role


def saved_request(platform: Platform) -> ChangeRequest:
    with attributed_to("vp.sales"):
        request = new_request()
    platform.log.save(request)
    return request


def test_positions_increase_in_commit_order(platform: Platform) -> None:
    for _ in range(5):
        saved_request(platform)
    positions = [e.position for e in platform.log.entries(0, 100)]
    assert positions == sorted(positions)
    assert len(positions) == 5


def test_every_entry_names_aggregate_version_type_time_actor_and_correlation(
    platform: Platform,
) -> None:
    with attributed_to("vp.sales", "corr-42"):
        request = new_request()
    platform.log.save(request)
    (entry,) = platform.log.entries(0, 10)
    assert entry.aggregate_id == str(request.id)
    assert entry.aggregate_type == "ChangeRequest"
    assert entry.version == 1
    assert entry.type == "ChangeRequest.Submitted"
    assert entry.actor == "vp.sales"
    assert entry.correlation_id == "corr-42"
    assert entry.occurred_at.endswith("+00:00")
    assert entry.data["title"] == request.title


def test_two_writers_on_one_request_never_both_succeed(platform: Platform) -> None:
    request = saved_request(platform)
    first = platform.log.get(request.id, ChangeRequest)
    second = platform.log.get(request.id, ChangeRequest)
    with attributed_to("rm"):
        first.reject("out of scope")
        second.accept(
            owner="dev", size_points=3, class_of_service=ClassOfService.STANDARD, fixed_date=None
        )
    platform.log.save(first)
    with pytest.raises(WriteConflict) as conflict:
        platform.log.save(second)
    assert conflict.value.current_version == 2
    assert platform.log.get(request.id, ChangeRequest).status == Status.REJECTED


def test_parallel_writers_on_one_request_each_land_once_or_are_told(platform: Platform) -> None:
    """Eight threads triage the same request at once: one wins, the rest see the rule."""
    request = saved_request(platform)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def triage(n: int) -> None:
        from services.intake.application import Intake
        from services.intake.views import IntakeViews

        intake = Intake(platform.log, IntakeViews(platform.log), platform.directory)
        barrier.wait()
        try:
            with acting_as(f"rm{n}"):
                intake.reject(request.id, f"reason {n}")
            outcomes.append("won")
        except Exception as exc:  # the losers must be told why
            outcomes.append(getattr(exc, "rule", type(exc).__name__))

    threads = [threading.Thread(target=triage, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("won") == 1
    assert set(outcomes) - {"won"} == {"already_triaged"}
    history = platform.log.history(request.id)
    assert [e.type for e in history] == ["ChangeRequest.Submitted", "ChangeRequest.Rejected"]


def test_reader_paging_during_concurrent_writes_misses_nothing(platform: Platform) -> None:
    """Positions may skip numbers, but a reader following `after=` sees every event once."""
    writers, per_writer = 4, 25
    done = threading.Event()
    seen: list[int] = []

    def read() -> None:
        after = 0
        while True:
            finished = done.is_set()
            page = platform.log.entries(after, 50)
            seen.extend(e.position for e in page)
            if page:
                after = page[-1].position
            elif finished:
                return

    def write() -> None:
        for _ in range(per_writer):
            saved_request(platform)

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()
    assert len(seen) == writers * per_writer
    assert seen == sorted(set(seen))


def test_a_retried_write_that_had_committed_is_recognised_as_success(platform: Platform) -> None:
    """The insert commits, its acknowledgement is lost, the retry hits its own events:
    the log, not the exception, decides that the write succeeded."""
    recorder: Any = platform.log.recorder
    real_insert = recorder.insert_events

    def insert_then_retry(stored: Any, **kwargs: Any) -> Any:
        real_insert(stored, **kwargs)
        return real_insert(stored, **kwargs)  # what a retry after a lost ack does

    recorder.insert_events = insert_then_retry
    try:
        request = saved_request(platform)  # no exception: the write is ours
    finally:
        recorder.insert_events = real_insert
    assert len(platform.log.history(request.id)) == 1


@pytest.mark.postgres
def test_dropped_connection_after_commit_is_retried_and_reported_once(
    postgres_platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insert committed, then the connection dropped before the answer came: the
    retry finds the events already in the log and reports one write, not two."""
    platform = postgres_platform
    real = RailyardPostgresRecorder._insert_at_once
    calls = {"n": 0}

    def commit_then_drop(self: Any, stored: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        result = real(self, stored, **kwargs)
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return result

    monkeypatch.setattr(RailyardPostgresRecorder, "_insert_at_once", commit_then_drop)
    request = saved_request(platform)
    assert calls["n"] == 2
    assert len(platform.log.history(request.id)) == 1


def test_sqlite_log_refuses_update_and_delete(sqlite_platform: Platform) -> None:
    platform = sqlite_platform
    saved_request(platform)
    for statement in (f"UPDATE {EVENTS_TABLE} SET topic = 'x'", f"DELETE FROM {EVENTS_TABLE}"):
        with (
            pytest.raises(Exception, match="append-only"),
            platform.log.db.transaction(write=True) as cur,
        ):
            cur.execute(statement)
    assert len(platform.log.entries(0, 10)) == 1


@pytest.mark.postgres
def test_service_role_cannot_update_delete_or_truncate_events(postgres_platform: Platform) -> None:
    """Append-only is enforced by PostgreSQL for the role the services connect as."""
    platform = postgres_platform
    request = saved_request(platform)
    role = SERVICE_ROLE
    url = platform.settings.database_url
    assert url is not None
    ensure_login_role(url, role)
    grant_service_role(platform.log, role)
    table = f'"{platform.settings.db_schema}".{EVENTS_TABLE}'
    refused = {
        "UPDATE": f"UPDATE {table} SET topic = 'tampered'",
        "DELETE": f"DELETE FROM {table}",
        "TRUNCATE": f"TRUNCATE {table}",
        "DISABLE TRIGGER": f"ALTER TABLE {table} DISABLE TRIGGER railyard_events_append_only",
    }
    with psycopg.connect(as_role(url, role), autocommit=True) as service:
        for name, statement in refused.items():
            with pytest.raises(psycopg.Error) as error:
                service.execute(statement)
            assert isinstance(error.value, psycopg.errors.InsufficientPrivilege), name
        # ...while appending under the library's table lock still works for it.
        with service.transaction():
            service.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    assert len(platform.log.history(request.id)) == 1
    # And a Railyard process connecting as that role can append.
    from shared.platform import Platform as P
    from shared.settings import load_settings

    as_service = P.build(
        load_settings(
            database_url=as_role(url, role),
            db_schema=platform.settings.db_schema,
            create_schema=False,
            pool_size=1,
        )
    )
    try:
        with attributed_to("rm"):
            loaded = as_service.log.get(request.id, ChangeRequest)
            loaded.reject("checked as the service role")
        as_service.log.save(loaded)
    finally:
        as_service.close()
    assert len(platform.log.history(request.id)) == 2


def test_idempotency_claim_is_stored_only_with_its_events(platform: Platform) -> None:
    from shared.store.recorders import Claim

    claim = Claim("vp.sales", "key-1", "fp", 201, "{}", "2026-01-01T00:00:00+00:00")
    with attributed_to("vp.sales"):
        request = new_request()
    platform.log.save(request, claim=claim)
    assert platform.log.find_claim("vp.sales", "key-1") == claim
    # A conflicting write with another key stores neither its events nor its claim.
    stale = platform.log.get(request.id, ChangeRequest)
    fresh = platform.log.get(request.id, ChangeRequest)
    with attributed_to("rm"):
        fresh.reject("x")
        stale.defer("y", None)
    platform.log.save(fresh)
    other = Claim("rm", "key-2", "fp", 200, "{}", "2026-01-01T00:00:00+00:00")
    with pytest.raises(WriteConflict):
        platform.log.save(stale, claim=other)
    assert platform.log.find_claim("rm", "key-2") is None


def test_unknown_aggregate_is_not_found(platform: Platform) -> None:
    from shared.domain import NotFound

    with pytest.raises(NotFound) as missing:
        platform.log.get(uuid.uuid4(), ChangeRequest, "change request")
    assert missing.value.status == 404


@pytest.mark.postgres
def test_an_append_reads_none_of_the_earlier_log_however_long_it_grows(
    postgres_platform: Platform,
) -> None:
    """An append hashes its own events from the values it was given, and looks at the
    table only over the range between the chain's head and its first position (empty but
    for a rolling upgrade), so its cost does not grow with the log. Before, the chain's
    extension was planned once per connection as a scan of every event after the head:
    once the plan was cached, a sequential scan of the whole log on every write."""
    platform = postgres_platform
    recorder: Any = platform.log.recorder
    with attributed_to("vp.sales"):
        earlier = [new_request() for _ in range(6_000)]
    for first in range(0, len(earlier), 1_000):
        platform.log.save(*earlier[first : first + 1_000])
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(f"ANALYZE {recorder.datastore.schema}.{EVENTS_TABLE}")
        with conn.transaction():
            for _ in range(8):  # past the fifth call, PL/pgSQL may keep a generic plan
                with attributed_to("vp.sales"):
                    request = new_request()
                stored = [platform.log.mapper.to_stored_event(e) for e in request.collect_events()]
                row = recorder._append(curs, stored, None, None)
                assert row is not None
                assert row["hashed"] == 1
            curs.execute(
                "SELECT seq_tup_read, COALESCE(idx_tup_fetch, 0) AS fetched"
                " FROM pg_stat_xact_user_tables WHERE relid = %s::regclass",
                (f"{recorder.datastore.schema}.{EVENTS_TABLE}",),
            )
            stats = curs.fetchone()
        assert stats is not None
        assert stats["seq_tup_read"] == 0
        assert stats["fetched"] <= 8  # at most a row an append, however long the log
