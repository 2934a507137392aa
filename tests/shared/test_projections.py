"""Views follow the log exactly once, survive a crash mid-batch, and equal a rebuild."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from services.intake.domain import ClassOfService, DepartmentRanking
from services.intake.filters import RequestFilter
from services.intake.views import IntakeViews
from shared.application import acting_as
from shared.domain import attributed_to
from shared.platform import Platform
from shared.settings import load_settings
from shared.store import read_ahead
from shared.store.log import Entry
from shared.store.projections import Projection, ProjectionGroup, event_topic
from shared.store.read_ahead import Batch, Reader, Undecoded
from shared.store.recorders import PING_AFTER_IDLE_S, Claim
from tests.builders import new_request
from tests.conftest import catch_up_at_once, make_settings, postgres_url
from tests.postgres import fresh_schema


def write_history(platform: Platform, requests: int = 30) -> None:
    for n in range(requests):
        with attributed_to("vp.sales"):
            request = new_request(title=f"Request {n}")
        if n % 2:
            with attributed_to("rm"):
                request.accept(
                    owner="dev.alice",
                    size_points=n + 1,
                    class_of_service=ClassOfService.STANDARD,
                    fixed_date=None,
                )
        platform.log.save(request)


def snapshot(views: IntakeViews) -> dict[str, Any]:
    with views.log.db.transaction() as cur:
        cur.execute(
            f"SELECT id, status, owner, size_points, version FROM"
            f" {views.log.table('intake_requests')} ORDER BY id"
        )
        requests = cur.fetchall()
        cur.execute(
            f"SELECT request_id, position, type FROM {views.log.table('intake_history')}"
            " ORDER BY position"
        )
        history = cur.fetchall()
    return {"requests": requests, "history": history}


def test_two_followers_catching_up_at_once_apply_each_event_once(platform: Platform) -> None:
    """Two processes advance the same views concurrently; no event is applied twice."""
    write_history(platform, 40)
    followers = [IntakeViews(platform.log) for _ in range(2)]
    for views in followers:
        views.group.batch_size = 7
    catch_up_at_once(*(views.group for views in followers))
    state = snapshot(followers[0])
    assert len(state["requests"]) == 40
    assert len(state["history"]) == 60  # 40 submissions + 20 acceptances, each once
    assert followers[0].group.position() == platform.log.head()


def test_follower_killed_mid_batch_resumes_and_equals_a_rebuild(platform: Platform) -> None:
    write_history(platform, 20)
    views = IntakeViews(platform.log)
    views.group.batch_size = 8
    views.group.catch_up(max_batches=1)
    before = views.group.position()
    original = views.requests.apply_batch
    calls = {"n": 0}

    def crash_after_some_work(cur: Any, events: Any) -> None:
        calls["n"] += 1
        original(cur, events[:3])  # part of the batch is written...
        raise KeyboardInterrupt("killed")  # ...then the process dies

    views.requests.apply_batch = crash_after_some_work  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        views.group.catch_up()
    views.requests.apply_batch = original  # type: ignore[method-assign]
    # The half-applied batch was rolled back with its position: nothing moved.
    assert views.group.position() == before
    views.group.catch_up()
    incremental = snapshot(views)
    views.group.rebuild()
    assert snapshot(views) == incremental
    assert views.group.position() == platform.log.head()


def test_position_never_goes_back(platform: Platform) -> None:
    write_history(platform, 5)
    views = IntakeViews(platform.log)
    views.group.catch_up()
    head = views.group.position()
    stale = IntakeViews(platform.log)
    stale.group.catch_up()  # a second follower with nothing left to do
    assert views.group.position() == head
    write_history(platform, 1)
    views.group.catch_up()
    assert views.group.position() > head


def test_views_catch_up_before_a_read(platform: Platform) -> None:
    """Read-your-writes: a query sees a write made a moment before."""
    views = IntakeViews(platform.log)
    views.group.setup()
    write_history(platform, 1)
    assert views.find(RequestFilter()).total == 1


def test_a_view_reads_its_own_event_behind_events_of_other_views(platform: Platform) -> None:
    """Read-your-writes holds when the write is followed by events the view does not read."""
    views = IntakeViews(platform.log)
    views.group.setup()
    write_history(platform, 1)
    with acting_as("admin"):
        for n in range(3):
            platform.identity.register(f"dev.n{n}", f"Dev {n}", ["it_staff"], None, "development")
    assert views.find(RequestFilter()).total == 1


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_new_token_works_after_a_flood_of_other_events_with_no_worker(
    backend: str, tmp_path: Path
) -> None:
    """Requests alone keep the users' view current: events it does not read are moved past,
    so it never falls beyond read-your-writes reach while nothing else follows the log."""
    for settings in make_settings(backend, tmp_path, read_your_writes_max_lag=20):
        platform = Platform.build(settings)
        try:
            with acting_as("admin"):
                platform.identity.register("vp.first", "First", ["requester"], "Sales")
                first = platform.identity.issue_token("vp.first", "t").token
            for n in range(60):  # a busy morning of submissions, each behind a signed request
                write_history(platform, 1)
                assert platform.directory.authenticate(first) is not None, n
            with acting_as("admin"):
                second = platform.identity.issue_token("vp.first", "t2").token
            assert platform.directory.authenticate(second) is not None
        finally:
            platform.close()


class _RolledBack(Exception):
    """Leaves a transaction without committing it."""


def _check_with_position_reset(platform: Platform, statement: str, params: Any) -> None:
    """The users' view's position set back to 0 (then rolled back): what the process
    found clear no longer counts, and its own events are pending again."""
    with platform.log.db.transaction(write=True) as cur:
        cur.execute(
            f"UPDATE {platform.log.table('railyard_positions')} SET position = 0"
            " WHERE name = :name",
            {"name": platform.directory.group.projections[0].name},
        )
        cur.execute(statement, params)
        row = cur.fetchone()
        assert row is not None
        assert row["pending"]
        raise _RolledBack


@pytest.mark.postgres
def test_a_freshness_check_reads_only_the_log_since_the_last_one_found_it_clear() -> None:
    """Far behind on events its view does not read (no worker, under half the reach), a
    sign-in's check reads only the events since this process's last check found none for
    the users' view, not every event since the view's position; and a token issued after
    that check is still seen at once."""
    url = postgres_url()
    with fresh_schema(url) as schema:
        platform = Platform.build(load_settings(database_url=url, db_schema=schema))
        try:
            with acting_as("admin"):
                platform.identity.register("vp.far", "Far", ["requester"], "Sales")
                first = platform.identity.issue_token("vp.far", "t").token
            directory = platform.directory
            assert directory.authenticate(first) is not None
            write_history(platform, 300)  # 450 events the users' view does not read
            assert directory.authenticate(first) is not None  # finds them clear
            write_history(platform, 2)
            assert directory.group.lag() > 400
            statement, params = directory.group._freshness_for(None)

            def events_read(check_params: dict[str, Any]) -> int:
                with platform.log.db.transaction() as cur:
                    cur.execute(statement, check_params)
                    assert cur.fetchone() is not None
                    return int(
                        cur.scalar(
                            "SELECT COALESCE(idx_tup_fetch, 0) + seq_tup_read"
                            " FROM pg_stat_xact_user_tables WHERE relid = CAST(:t AS regclass)",
                            {"t": platform.log.events_table},
                        )
                    )

            assert events_read(params) <= 4  # the 3 events since, and the head
            assert events_read({**params, "ry_since": 0, "ry_clear_to": 0}) > 400
            with pytest.raises(_RolledBack):  # as a rebuild elsewhere starts over
                _check_with_position_reset(platform, statement, params)
            with acting_as("admin"):
                second = platform.identity.issue_token("vp.far", "t2").token
            assert directory.authenticate(second) is not None
        finally:
            platform.close()


@pytest.mark.postgres
def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use() -> None:
    """After PostgreSQL closes an idle pooled connection, the next read still succeeds."""
    url = postgres_url()
    with fresh_schema(url) as schema:
        platform = Platform.build(load_settings(database_url=url, db_schema=schema, pool_size=1))
        try:
            # pool_size=1 allows two connections: hold both at once to learn both.
            with platform.log.db.transaction() as one, platform.log.db.transaction() as two:
                pids = [
                    one.scalar("SELECT pg_backend_pid()"),
                    two.scalar("SELECT pg_backend_pid()"),
                ]
            with psycopg.connect(url, autocommit=True) as admin:
                for pid in pids:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            time.sleep(PING_AFTER_IDLE_S + 0.2)
            assert [platform.log.head(), platform.log.head()] == [0, 0]
        finally:
            platform.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_read_of_some_topics_never_moves_its_group_past_events_of_others(
    backend: str, tmp_path: Path
) -> None:
    """A query that waits only for some topics (an approval's gates wait for blackouts)
    may skip catching up, but must not move the whole group past events it did not look
    at: the group's other views would never apply them."""
    for settings in make_settings(backend, tmp_path, read_your_writes_max_lag=20):
        platform = Platform.build(settings)
        try:
            views = IntakeViews(platform.log)
            views.group.setup()
            write_history(platform, 8)  # 12 events: over half the reach, none a ranking
            rankings = frozenset({event_topic(DepartmentRanking, "Started")})
            views.group.ensure_fresh(reads=rankings)
            assert views.find(RequestFilter()).total == 8
        finally:
            platform.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_lookup_read_with_its_freshness_check_sees_what_was_written_a_moment_before(
    backend: str, tmp_path: Path
) -> None:
    """`fresh_rows` reads and checks the view's freshness in one statement: a token
    issued, then revoked, a moment before (no worker running) is seen each time, behind
    events its view does not read or not."""
    for settings in make_settings(backend, tmp_path, read_your_writes_max_lag=20):
        platform = Platform.build(settings)
        try:
            directory = platform.directory
            assert directory.authenticate("ry_0123456789abcdef_" + "x" * 32) is None
            with acting_as("admin"):
                platform.identity.register("vp.fresh", "Fresh", ["requester"], "Sales")
                issued = platform.identity.issue_token("vp.fresh", "t")
            principal = directory.authenticate(issued.token)
            assert principal is not None
            assert principal.username == "vp.fresh"
            write_history(platform, 3)  # events the users' view does not read
            assert directory.authenticate(issued.token) is not None
            with acting_as("admin"):
                platform.identity.revoke_token("vp.fresh", issued.token_id, "left")
            assert directory.authenticate(issued.token) is None
            with acting_as("admin"):
                for name in ("vp.b", "vp.c", "vp.a"):
                    platform.identity.register(name, name, ["requester"], "Sales")
            users = platform.log.table("identity_users")
            in_order = directory.group.fresh_rows(
                f"SELECT username FROM {users} WHERE username LIKE :p ORDER BY username DESC",
                {"p": "vp.%"},
            )
            assert [r["username"] for r in in_order] == ["vp.fresh", "vp.c", "vp.b", "vp.a"]
            with pytest.raises(ValueError, match="ry_limit"):
                directory.group.fresh_rows("SELECT 1 AS one", {"ry_limit": 1})
        finally:
            platform.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_token_sign_in_reads_its_own_idempotency_claim_and_no_one_elses(
    backend: str, tmp_path: Path
) -> None:
    """The sign-in and the Idempotency-Key's lookup are one statement: what it returns is
    the caller's own write under that key; another caller's under the same key is theirs."""
    for settings in make_settings(backend, tmp_path):
        platform = Platform.build(settings)
        try:
            directory = platform.directory
            with acting_as("admin"):
                for name in ("vp.one", "vp.two"):
                    platform.identity.register(name, name, ["requester"], "Sales")
                one = platform.identity.issue_token("vp.one", "t").token
                two = platform.identity.issue_token("vp.two", "t").token
            claim = Claim("vp.one", "key-1", "fp", 201, '{"id": "x"}', "2026-01-01T00:00:00+00:00")
            with attributed_to("vp.one"):
                platform.log.save(new_request(), claim=claim)
            principal, found = directory.authenticate_with_claim(one, "key-1")
            assert principal is not None
            assert found == claim
            assert directory.authenticate_with_claim(one, "key-2") == (principal, None)
            principal_two, found_two = directory.authenticate_with_claim(two, "key-1")
            assert principal_two is not None
            assert principal_two.username == "vp.two"
            assert found_two is None
            assert directory.authenticate_with_claim(one + "x", "key-1") == (None, None)
        finally:
            platform.close()


class _Named(Projection):
    """A projection that only holds a position (for how the positions are locked)."""

    name = ""

    def create(self, cur: Any) -> None:
        return None

    def handlers(self) -> dict[str, Any]:
        return {}


@pytest.mark.postgres
def test_a_group_locks_its_positions_in_name_order_so_two_catch_ups_never_deadlock() -> None:
    """Two processes catching up one group lock its positions' rows; in the order of a
    scan (the rows' physical order, which updates change) they took them in different
    orders and one failed with "deadlock detected". Here the rows lie in reverse name
    order; another transaction holds the middle one: the group must be holding the first
    by name, not the last, while it waits."""
    url = postgres_url()
    with fresh_schema(url) as schema:
        platform = Platform.build(load_settings(database_url=url, db_schema=schema))
        try:
            names = ["t.c", "t.b", "t.a"]  # inserted in this order: reverse name order
            projections = [type(f"P{n}", (_Named,), {"name": n})(platform.log) for n in names]
            group = ProjectionGroup(platform.log, projections)
            group.setup()
            positions = platform.log.table("railyard_positions")
            with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as probe:
                holder.execute(f"SELECT 1 FROM {positions} WHERE name = 't.b' FOR UPDATE")
                locking = threading.Thread(target=_lock_positions, args=(group,))
                locking.start()
                for _ in range(200):  # until it waits for the row held above
                    waiting = probe.execute(
                        "SELECT COUNT(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND query LIKE %s",
                        (f"%{positions}%FOR UPDATE%",),
                    ).fetchone()
                    if waiting and waiting[0]:
                        break
                    time.sleep(0.02)
                free = probe.execute(
                    f"SELECT name FROM {positions} WHERE name LIKE 't.%%'"
                    " ORDER BY name FOR UPDATE SKIP LOCKED"
                ).fetchall()
                holder.rollback()
                locking.join(10)
            assert [row[0] for row in free] == ["t.c"]  # t.a taken by the group, t.b above
        finally:
            platform.close()


def _lock_positions(group: ProjectionGroup) -> None:
    with group.log.db.transaction(write=True) as cur:
        group._locked_positions(cur)


def test_a_batch_left_undecoded_gives_the_same_events_as_one_decoded(platform: Platform) -> None:
    """A staged fold reads its batches as rows and decodes each event as it reaches it; it
    sees the same events, in the same order, as a projection handed them decoded."""
    with acting_as("vp.sales"):
        for n in range(5):
            platform.log.save(new_request(title=f"Request {n}"))
    with acting_as("admin"):  # an event intake's views do not read
        platform.identity.register("cab.zed", "Zed", ["cab_member"])
    views = IntakeViews(platform.log)
    views.group.setup()
    with platform.log.db.transaction() as cur:
        decoded = views.group._read(cur, 0)
        undecoded = views.group._read(cur, 0, decoded=False)
    assert list(undecoded.events) == list(decoded.events)
    assert len(undecoded.events) == len(decoded.events) == 5  # not the user's
    assert undecoded.read == 6
    assert undecoded.events[2] == decoded.events[2]
    assert undecoded.events[1:3] == list(decoded.events[1:3])
    assert (undecoded.last, undecoded.read) == (decoded.last, decoded.read)
    # What a fold that reads only topic, aggregate, time and data is given: the same, with
    # the metadata the LoggedEvent takes out of the data left in it.
    assert isinstance(undecoded.events, Undecoded)
    entries = list(undecoded.events.entries())
    assert [(e.topic, e.aggregate_id, e.occurred_at) for e in entries] == [
        (e.topic, e.aggregate_id, e.occurred_at) for e in decoded.events
    ]
    for entry, event in zip(entries, decoded.events, strict=True):
        assert {k: v for k, v in entry.data.items() if k in event.data} == event.data
    # SQLite's ids are not spelt canonically in the row: those make LoggedEvents.
    postgres = platform.log.db.backend == "postgres"
    assert all(isinstance(e, Entry) == postgres for e in entries)
    if postgres:
        assert entries[0].data["actor"] == "vp.sales"


def test_a_batch_asked_for_in_advance_is_being_read_when_the_fold_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reading thread has begun (and so sends its query) before the caller, which
    holds the interpreter lock while it folds, goes on; and the batch arrives as read."""
    monkeypatch.setattr(read_ahead, "BEGIN_WAIT_S", 5.0)  # however slow this machine
    begun, release = threading.Event(), threading.Event()

    def read(after: int, limit: int | None) -> Batch:
        begun.set()
        release.wait(5)
        return Batch(after, [], after + 3, 3, limit or 3)

    reader = Reader(read)
    try:
        ahead = reader.read_ahead(7, 3)
        assert begun.is_set()
        release.set()
        batch = ahead.take(7)
        assert batch is not None
        assert (batch.after, batch.last, batch.full) == (7, 10, True)
        assert ahead.take(7) is None  # taken once: the Ahead no longer holds it
    finally:
        release.set()
        reader.close()


class _Versioned(Projection):
    """A view whose rows say which version of it wrote them."""

    name = "test.versioned.v1"
    tables = ("test_versioned",)

    def create(self, cur: Any) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t('test_versioned')}"
            " (position BIGINT PRIMARY KEY, written_by TEXT NOT NULL)"
        )

    def handlers(self) -> dict[str, Any]:
        from services.intake.domain import ChangeRequest

        return {event_topic(ChangeRequest, "Submitted"): self._row}

    def _row(self, cur: Any, e: Any) -> None:
        cur.execute(
            f"INSERT INTO {self.t('test_versioned')} (position, written_by) VALUES (:p, :n)"
            " ON CONFLICT (position) DO NOTHING",
            {"p": e.position, "n": self.name},
        )


class _VersionedAgain(_Versioned):
    name = "test.versioned.v2"


def test_a_views_new_version_folds_the_log_onto_empty_tables(platform: Platform) -> None:
    """A view's new shape takes a new name (decision 2): the tables its old version left
    are dropped as the new name first starts, not folded onto (rows the old version wrote
    stayed, and steps read from them were wrong)."""
    write_history(platform, 6)
    ProjectionGroup(platform.log, [_Versioned(platform.log)]).catch_up()
    ProjectionGroup(platform.log, [_VersionedAgain(platform.log)]).catch_up()
    with platform.log.db.transaction() as cur:
        cur.execute(f"SELECT DISTINCT written_by FROM {platform.log.table('test_versioned')}")
        assert [r["written_by"] for r in cur.fetchall()] == ["test.versioned.v2"]
    again = ProjectionGroup(platform.log, [_VersionedAgain(platform.log)])  # a restart
    again.catch_up()
    with platform.log.db.transaction() as cur:
        cur.execute(f"SELECT COUNT(*) AS n FROM {platform.log.table('test_versioned')}")
        assert cur.fetchone()["n"] == 6  # type: ignore[index]
