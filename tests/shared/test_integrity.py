"""The log is tamper-evident: every event's hash is chained to the one before it, and
`verify` names the first event that does not match."""

from __future__ import annotations

import hashlib
import threading
import uuid
from typing import Any

import psycopg
import pytest

from services.intake.domain import ChangeRequest
from shared.domain import attributed_to
from shared.platform import Platform
from shared.settings import load_settings
from shared.store.chain import GENESIS, HASHES_TABLE, ChainAhead, chain_hash, content_hash
from shared.store.integrity import LogVerifier, Verification
from shared.store.migrate import grant_service_role
from tests.builders import new_request
from tests.postgres import SERVICE_ROLE, as_role, ensure_login_role
from tests.tampering import as_owner


def saved_requests(platform: Platform, n: int) -> list[ChangeRequest]:
    requests = []
    for _ in range(n):
        with attributed_to("vp.sales"):
            request = new_request()
        platform.log.save(request)
        requests.append(request)
    return requests


def rejected(platform: Platform, request: ChangeRequest) -> None:
    loaded = platform.log.get(request.id, ChangeRequest)
    with attributed_to("rm"):
        loaded.reject("out of scope")
    platform.log.save(loaded)


def verify(platform: Platform, **kwargs: Any) -> Verification:
    return LogVerifier(platform.log, batch_size=3).verify(**kwargs)  # small pages: paging too


def position_of(platform: Platform, request: ChangeRequest, version: int) -> int:
    (entry,) = [e for e in platform.log.history(request.id) if e.version == version]
    return entry.position


def test_a_clean_log_verifies_with_its_count_and_head_hash(platform: Platform) -> None:
    """An untouched log verifies; the head hash printed is the chain's stored head."""
    requests = saved_requests(platform, 4)
    rejected(platform, requests[1])
    result = verify(platform)
    assert result.ok, result.mismatch
    assert result.events == len(platform.log.entries(0, 100)) == 5
    assert result.head_position == platform.log.head()
    with platform.log.db.transaction() as cur:
        stored = cur.scalar(
            f"SELECT chain_hash FROM {platform.log.table(HASHES_TABLE)}"
            " WHERE notification_id = :position",
            {"position": result.head_position},
        )
    assert result.head_hash == stored != GENESIS


def test_an_empty_log_verifies_at_the_genesis_hash(platform: Platform) -> None:
    result = verify(platform)
    assert (result.ok, result.events, result.head_position, result.head_hash) == (
        True,
        0,
        0,
        GENESIS,
    )


def test_an_event_edited_by_the_database_owner_is_named(platform: Platform) -> None:
    """The owner lifts the guard and rewrites one event's state: verify names exactly it."""
    requests = saved_requests(platform, 5)
    target = requests[2]
    position = position_of(platform, target, 1)
    (entry,) = platform.log.entries(position - 1, 1)
    forged = entry.data | {"title": "Something else entirely"}
    state = platform.log.mapper.transcoder.encode(
        {
            **forged,
            "timestamp": entry.occurred_at,
            "actor": entry.actor,
            "correlation_id": entry.correlation_id,
        }
    )
    as_owner(
        platform,
        [("UPDATE {events} SET state = {p} WHERE {position} = {p}", (state, position))],
    )
    result = verify(platform)
    assert result.mismatch is not None
    assert result.mismatch.position == position
    assert result.mismatch.aggregate_id == str(target.id)
    assert result.mismatch.version == 1
    assert result.mismatch.type == "ChangeRequest.Submitted"
    assert result.mismatch.reason == "content_changed"
    assert result.events == 2  # the two before it still match
    assert f"position {position}: ChangeRequest.Submitted" in result.mismatch.describe()


def test_a_deleted_event_is_named_by_its_position_aggregate_and_version(
    platform: Platform,
) -> None:
    requests = saved_requests(platform, 3)
    rejected(platform, requests[0])
    saved_requests(platform, 2)
    position = position_of(platform, requests[0], 2)
    as_owner(platform, [("DELETE FROM {events} WHERE {position} = {p}", (position,))])
    result = verify(platform)
    assert result.mismatch is not None
    assert (result.mismatch.position, result.mismatch.reason) == (position, "event_missing")
    assert result.mismatch.aggregate_id == str(requests[0].id)
    assert result.mismatch.version == 2
    assert result.mismatch.type == "ChangeRequest"


def test_an_event_deleted_with_its_hash_breaks_the_chain_at_the_next_event(
    platform: Platform,
) -> None:
    requests = saved_requests(platform, 4)
    gone, after = position_of(platform, requests[1], 1), position_of(platform, requests[2], 1)
    as_owner(
        platform,
        [
            ("DELETE FROM {events} WHERE {position} = {p}", (gone,)),
            ("DELETE FROM {hashes} WHERE notification_id = {p}", (gone,)),
        ],
    )
    result = verify(platform)
    assert result.mismatch is not None
    assert (result.mismatch.position, result.mismatch.reason) == (after, "chain_broken")
    assert result.mismatch.aggregate_id == str(requests[2].id)


def test_an_event_whose_hash_record_was_removed_is_named(platform: Platform) -> None:
    requests = saved_requests(platform, 3)
    position = position_of(platform, requests[1], 1)
    as_owner(platform, [("DELETE FROM {hashes} WHERE notification_id = {p}", (position,))])
    result = verify(platform)
    assert result.mismatch is not None
    assert (result.mismatch.position, result.mismatch.reason) == (position, "hash_missing")


def test_concurrent_writers_build_one_chain_without_forks(platform: Platform) -> None:
    """Four threads append at once; each hash chains the event immediately before it."""
    writers, per_writer = 4, 15
    barrier = threading.Barrier(writers)

    def write() -> None:
        barrier.wait()
        saved_requests(platform, per_writer)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = verify(platform)
    assert result.ok, result.mismatch
    assert result.events == writers * per_writer
    # The same, spelled out: one hash record per event, each on its predecessor's.
    entries = platform.log.read(0, 1_000)
    with platform.log.db.transaction() as cur:
        cur.execute(
            f"SELECT notification_id, content_hash, chain_hash"
            f" FROM {platform.log.table(HASHES_TABLE)} ORDER BY notification_id"
        )
        records = cur.fetchall()
    assert [r["notification_id"] for r in records] == [n.id for n in entries]
    previous = GENESIS
    for n, record in zip(entries, records, strict=True):
        content = content_hash(n.id, n.originator_id, n.originator_version, n.topic, n.state)
        assert record["chain_hash"] == chain_hash(previous, content)
        previous = record["chain_hash"]


def test_a_log_written_before_the_chain_is_hashed_by_migrate(platform: Platform) -> None:
    """A store from before this change has no hash table: the schema step hashes it all."""
    saved_requests(platform, 4)
    as_owner(platform, [("DROP TABLE {hashes}", ())])
    with pytest.raises(Exception, match=HASHES_TABLE):
        verify(platform)
    assert platform.log.create_schema() == 4
    result = verify(platform)
    assert result.ok, result.mismatch
    assert result.events == 4
    assert platform.log.create_schema() == 0  # nothing left to hash


def test_events_appended_without_a_hash_are_chained_by_the_next_write(
    platform: Platform,
) -> None:
    """During a rolling upgrade an older process appends without hashing: the next
    write, under the same lock, hashes those events in order before its own."""
    requests = saved_requests(platform, 4)
    tail = position_of(platform, requests[2], 1)
    as_owner(platform, [("DELETE FROM {hashes} WHERE notification_id >= {p}", (tail,))])
    assert verify(platform).mismatch is not None
    saved_requests(platform, 1)
    result = verify(platform)
    assert result.ok, result.mismatch
    assert result.events == 5


def test_an_owner_who_recomputes_every_hash_is_caught_only_by_an_anchor(
    platform: Platform,
) -> None:
    """What the chain cannot prove on its own: an owner who rewrites an event and then
    the whole chain. The head hash kept elsewhere (an anchor) still catches it."""
    requests = saved_requests(platform, 3)
    anchor = verify(platform)
    position = position_of(platform, requests[0], 1)
    as_owner(
        platform,
        [
            ("UPDATE {events} SET state = {p} WHERE {position} = {p}", (b"{}", position)),
            ("DELETE FROM {hashes}", ()),
        ],
    )
    platform.log.create_schema()  # the owner recomputes the chain over the forged event
    assert verify(platform).ok  # ...which the chain alone cannot tell
    result = verify(platform, anchors={anchor.head_position: anchor.head_hash})
    assert result.mismatch is not None
    assert result.mismatch.reason == "anchor_mismatch"
    assert result.mismatch.position == anchor.head_position
    assert verify(platform, anchors={anchor.head_position + 99: GENESIS}).mismatch is not None


def test_a_deleted_newest_event_stays_named_after_later_writes(platform: Platform) -> None:
    """PostgreSQL never hands a position out twice, so writes go on and the gap stays
    named; SQLite would reuse the deleted rowid, so the write is refused instead."""
    requests = saved_requests(platform, 3)
    newest = position_of(platform, requests[-1], 1)
    as_owner(platform, [("DELETE FROM {events} WHERE {position} = {p}", (newest,))])
    if platform.log.db.backend == "sqlite":
        with pytest.raises(ChainAhead):
            saved_requests(platform, 1)
    else:
        saved_requests(platform, 1)
    result = verify(platform)
    assert result.mismatch is not None
    assert (result.mismatch.position, result.mismatch.reason) == (newest, "event_missing")


@pytest.mark.postgres
def test_service_role_appends_hashes_but_cannot_change_them(
    postgres_platform: Platform,
) -> None:
    platform = postgres_platform
    saved_requests(platform, 1)
    role = SERVICE_ROLE
    url = platform.settings.database_url
    assert url is not None
    ensure_login_role(url, role)
    grant_service_role(platform.log, role)
    hashes = platform.log.table(HASHES_TABLE)
    with psycopg.connect(as_role(url, role), autocommit=True) as service:
        for statement in (
            f"UPDATE {hashes} SET chain_hash = content_hash",
            f"DELETE FROM {hashes}",
            f"TRUNCATE {hashes}",
            f"ALTER TABLE {hashes} DISABLE TRIGGER USER",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                service.execute(statement)
    as_service = Platform.build(
        load_settings(
            database_url=as_role(url, role),
            db_schema=platform.settings.db_schema,
            create_schema=False,
            pool_size=1,
        )
    )
    try:
        saved_requests(as_service, 2)
    finally:
        as_service.close()
    result = verify(platform)
    assert result.ok, result.mismatch
    assert result.events == 3


def test_hashes_follow_the_documented_recipe_so_an_auditor_can_recompute_them() -> None:
    """Decision 0070 spells the bytes out; an outside script relying on it must agree."""
    aggregate = uuid.UUID("5b0e7c1e-0000-4000-8000-000000000001")
    fields = [b"42", str(aggregate).encode(), b"3", b"m:Cls.Done", b'{"a":1}']
    expected = hashlib.sha256(
        b"railyard.event.v1"
        + b"".join(len(f).to_bytes(8, "big") for f in fields)
        + b"".join(fields)
    ).hexdigest()
    assert content_hash(42, aggregate.hex, 3, "m:Cls.Done", b'{"a":1}') == expected
    assert chain_hash(GENESIS, expected) == (
        hashlib.sha256(bytes(32) + bytes.fromhex(expected)).hexdigest()
    )
