"""The metrics view is the same however it is folded: in one batch, in many small ones
folded while the previous is written, held in memory and written once at the end or
whenever the writer is free, after a crash mid-write, and with two processes catching up
or rebuilding at once."""

from __future__ import annotations

import gc
from typing import Any
from uuid import uuid4

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from bench._synthetic import synthetic
from railyard.app import all_components
from services.metrics import views as metrics_views
from services.metrics.views import (
    BUNDLES,
    CHANGES,
    COLUMNS,
    DEPLOYMENTS,
    RANKINGS,
    REQUESTS,
    MetricsViews,
)
from shared import contracts as c
from shared.platform import Platform
from shared.store import projections
from shared.store.collector import collector_paused
from tests.conftest import catch_up_at_once
from tests.shared.test_projections import write_history


def generate(platform: Platform, events: int, seed: int = 5) -> None:
    stored = [
        StoredEvent(e.aggregate_id, e.version, e.topic, orjson.dumps(e.state))
        for e in synthetic(events, seed=seed, requests_per_day=3)
    ]
    for start in range(0, len(stored), 500):
        platform.log.recorder.insert_events(stored[start : start + 500])


def stored(views: MetricsViews) -> dict[str, list[tuple[Any, ...]]]:
    tables = {}
    with views.log.db.transaction() as cur:
        for table in (REQUESTS, BUNDLES, CHANGES, DEPLOYMENTS, RANKINGS):
            tables[table] = cur.tuples(f"SELECT * FROM {views.log.table(table)} ORDER BY id")
    return tables


def in_one_batch(platform: Platform) -> dict[str, list[tuple[Any, ...]]]:
    whole = MetricsViews(platform.log)
    whole.group.batch_size = 1_000_000
    whole.group.rebuild()
    return stored(whole)


@pytest.mark.parametrize(
    "held", ["once", "when free", None], ids=["held, written once", "held", "batch by batch"]
)
def test_a_rebuild_in_small_batches_equals_one_in_a_single_batch(
    platform: Platform, held: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(platform, 2_000)
    expected = in_one_batch(platform)
    assert len(expected[REQUESTS]) > 100
    assert expected[BUNDLES]
    assert expected[CHANGES]
    if held is None:  # as a log too long to hold is rebuilt
        monkeypatch.setattr(metrics_views, "HOLD_EVENTS_AT_MOST", 0)
    if held == "when free":  # as a log held, but too long to write once, is rebuilt
        monkeypatch.setattr(metrics_views, "WRITE_ONCE_AT_MOST", 0)
    monkeypatch.setattr(metrics_views, "WRITE_CHUNK", 7)  # the last write in many chunks
    views = MetricsViews(platform.log)
    views.group.batch_size = 97  # records live across many batches
    staged = spy(views, "_write_staged")
    assert views.group.rebuild() == platform.log.head()
    assert stored(views) == expected
    assert views.group.position() == platform.log.head()
    if platform.log.db.backend == "sqlite":
        assert staged["n"] == 0
    elif held == "once":  # every record written once, after the last fold
        assert staged["n"] == 1
    elif held:  # written whenever the writer was free, several batches at a time
        assert 1 <= staged["n"] < platform.log.head() // 97
    else:  # every batch folded while the one before it was written
        assert staged["n"] > 20


def test_a_rebuild_holding_too_many_records_goes_on_batch_by_batch(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(platform, 2_000)
    expected = in_one_batch(platform)
    monkeypatch.setattr(metrics_views, "HOLD_RECORDS_AT_MOST", 150)
    views = MetricsViews(platform.log)
    views.group.batch_size = 97
    folds, read_back = spy(views.projection, "fold"), spy(views.projection, "_loaded")
    views.group.rebuild()
    assert stored(views) == expected
    if platform.log.db.backend == "postgres":
        # The first folds held every record; past 150 of them, each read its rows again.
        assert 10 <= read_back["n"] < folds["n"]


def test_a_long_rebuild_lets_go_of_settled_records_and_reads_back_those_touched_again(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Holding a long log's records, the rebuild lets go of those ended before the
    latest event once they are written; a rating, a rollback or an event about a record
    the log never began then finds it in the view, or nowhere, and the view is the same."""
    generate(platform, 2_000)
    orphan = {"timestamp": "2030-01-01T00:00:00+00:00", "score": 4, "comment": "", "replaces": None}
    platform.log.recorder.insert_events(
        [StoredEvent(uuid4(), 1, c.REQUEST_RATED.topic, orjson.dumps(orphan))]
    )
    generate(platform, 300, seed=7)  # and more after it
    expected = in_one_batch(platform)
    monkeypatch.setattr(metrics_views, "WRITE_ONCE_AT_MOST", 0)
    monkeypatch.setattr(metrics_views, "LET_GO_ABOVE", 20)
    monkeypatch.setattr(metrics_views, "SETTLED_DAYS", 0)  # settled as soon as ended
    views = MetricsViews(platform.log)
    views.group.batch_size = 97
    held: list[Any] = []
    prepare = views.projection.prepare

    def watched(folded: Any, last: bool = False) -> Any:
        held.append(folded.held)
        return prepare(folded, last)

    views.projection.prepare = watched  # type: ignore[method-assign]
    # Written after every fold (not only when the writer is free): a let-go each time.
    views.projection.holds = lambda folded, busy: False  # type: ignore[method-assign]
    assert views.group.rebuild() == platform.log.head()
    assert stored(views) == expected
    if platform.log.db.backend == "postgres":
        last = held[-1]
        assert last.let_go_of > 100
        assert last.recalled > 0  # ratings of deliveries let go of, read back
        assert len(last.missing) == 1  # the orphan rating's request, asked for once


def test_a_held_rebuild_whose_log_ends_on_a_full_batch_writes_that_batch(
    platform: Platform,
) -> None:
    generate(platform, 300)
    expected = in_one_batch(platform)
    views = MetricsViews(platform.log)
    # The first batch is an eighth of the size: the whole log, full, and then nothing.
    views.group.batch_size = 8 * platform.log.head()
    assert views.group.rebuild() == platform.log.head()
    assert stored(views) == expected
    assert views.group.position() == platform.log.head()


def test_a_rebuild_another_process_overtakes_leaves_that_process_s_work(
    postgres_platform: Platform,
) -> None:
    # (On SQLite a rebuild holds the one write lock: no other process writes meanwhile.)
    platform = postgres_platform
    generate(platform, 1_500)
    expected = in_one_batch(platform)
    views, other = MetricsViews(platform.log), MetricsViews(platform.log)
    views.group.batch_size = 101
    original = views.projection.fold
    calls = {"n": 0}

    def overtaken(cur: Any, events: Any, previous: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            other.group.catch_up()  # another process folds everything meanwhile
        return original(cur, events, previous)

    views.projection.fold = overtaken  # type: ignore[method-assign]
    views.group.rebuild()
    assert stored(views) == expected
    assert views.group.position() == platform.log.head()


def spy(target: Any, method: str) -> dict[str, int]:
    """Counts the calls of `method` of `target` (a view, for its group's)."""
    if isinstance(target, MetricsViews):
        target = target.group
    calls = {"n": 0}
    original = getattr(target, method)

    def counted(*args: Any) -> Any:
        calls["n"] += 1
        return original(*args)

    setattr(target, method, counted)
    return calls


def test_catching_up_many_batches_equals_a_rebuild(platform: Platform) -> None:
    generate(platform, 600)
    views = MetricsViews(platform.log)
    views.group.catch_up()
    generate(platform, 1_500, seed=6)  # more history after the views were current
    views.group.batch_size = 113
    views.group.catch_up()
    assert stored(views) == in_one_batch(platform)


def test_a_write_that_fails_mid_catch_up_loses_nothing_and_resumes(platform: Platform) -> None:
    generate(platform, 1_500)
    views = MetricsViews(platform.log)
    views.group.batch_size = 101
    original = views.projection.write
    calls = {"n": 0}

    def fail_on_the_fourth(cur: Any, folded: Any) -> None:
        calls["n"] += 1
        original(cur, folded)  # written, and then the transaction fails
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")

    views.projection.write = fail_on_the_fourth  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        views.group.catch_up()
    views.projection.write = original  # type: ignore[method-assign]
    # Three batches committed with their positions; the fourth rolled back.
    assert views.group.position() == sorted_positions(platform)[3 * 101 - 1]
    views.group.catch_up()
    assert stored(views) == in_one_batch(platform)


def sorted_positions(platform: Platform) -> list[int]:
    column, table = platform.log.position_column, platform.log.events_table
    with platform.log.db.transaction() as cur:
        return [row[0] for row in cur.tuples(f"SELECT {column} FROM {table} ORDER BY {column}")]


def test_two_processes_catching_up_at_once_fold_each_event_once(platform: Platform) -> None:
    generate(platform, 2_000)
    followers = [MetricsViews(platform.log) for _ in range(2)]
    for n, views in enumerate(followers):
        views.group.batch_size = 89 + 20 * n
    catch_up_at_once(*(views.group for views in followers))
    followers[0].group.catch_up()  # whoever stopped early: finish
    assert stored(followers[0]) == in_one_batch(platform)


def test_the_garbage_collector_runs_again_after_a_catch_up(platform: Platform) -> None:
    generate(platform, 300)
    assert gc.isenabled()
    views = MetricsViews(platform.log)
    views.group.batch_size = 50
    views.group.catch_up()
    assert gc.isenabled()
    with collector_paused():
        with collector_paused():  # nested, as two threads' batches may be
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_program_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_rebuild_leaves_the_view_indexed_for_its_queries(platform: Platform) -> None:
    generate(platform, 300)
    views = MetricsViews(platform.log)
    views.group.rebuild()
    assert {"metrics_requests_submitted_at", "metrics_requests_ended_at"} <= indexes(platform)


@pytest.mark.parametrize("events", [300, 3_000], ids=["held", "batch by batch"])
def test_a_rebuild_leaves_the_planner_statistics_for_the_view_s_periods(
    postgres_platform: Platform, events: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row of the view is new after a rebuild: without statistics (autovacuum off,
    or not yet come by) a 1M view's month was planned blind and read in 42 ms, not 15."""
    platform = postgres_platform
    generate(platform, events)
    monkeypatch.setattr(projections, "ANALYZE_FROM_EVENTS", 100)
    if events > 1_000:
        monkeypatch.setattr(metrics_views, "HOLD_EVENTS_AT_MOST", 0)
    views = MetricsViews(platform.log)
    views.group.batch_size = 500
    views.group.rebuild()
    with platform.log.db.transaction() as cur:
        cur.execute(
            "SELECT tablename, attname FROM pg_stats WHERE schemaname = :schema",
            {"schema": platform.settings.db_schema},
        )
        analysed = {(r["tablename"], r["attname"]) for r in cur.fetchall()}
    periods = {(t, column) for t, columns in COLUMNS.items() for column in columns}
    assert periods <= analysed
    assert not {(t, "data") for t in COLUMNS} & analysed  # not the records' JSON


def test_every_view_rebuilt_from_a_long_log_is_analysed(
    postgres_platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `railyard rebuild-views` rebuilds them: each view's tables are analysed (a
    projection whose tables could not be would fail a long log's rebuild)."""
    platform = postgres_platform
    write_history(platform)  # through intake's own aggregates: every view can fold it
    monkeypatch.setattr(projections, "ANALYZE_FROM_EVENTS", 1)
    groups = [platform.directory.group, *(g for c in all_components(platform) for g in c.groups)]
    for group in groups:
        assert group.rebuild() == platform.log.head()
    with platform.log.db.transaction() as cur:
        cur.execute(
            "SELECT relname FROM pg_stat_user_tables"
            " WHERE schemaname = :schema AND last_analyze IS NOT NULL",
            {"schema": platform.settings.db_schema},
        )
        analysed = {r["relname"] for r in cur.fetchall()}
    owned = {t for g in groups for p in g.projections for t in p.tables}
    # The metrics view analyses the tables its reads select periods from; its rankings
    # and its one count are read whole.
    assert owned - {RANKINGS, "metrics_counts"} <= analysed
    assert {REQUESTS, BUNDLES, CHANGES, DEPLOYMENTS} <= analysed


def test_a_short_rebuild_leaves_the_planner_to_autovacuum(postgres_platform: Platform) -> None:
    """Below ANALYZE_FROM_EVENTS the view's tables are small enough to read blind."""
    platform = postgres_platform
    generate(platform, 300)
    MetricsViews(platform.log).group.rebuild()
    with platform.log.db.transaction() as cur:
        cur.execute(
            "SELECT count(*) AS n FROM pg_stats WHERE schemaname = :schema",
            {"schema": platform.settings.db_schema},
        )
        row = cur.fetchone()
    assert row is not None
    assert row["n"] == 0


def test_big_records_are_stored_without_a_compression_attempt(
    postgres_platform: Platform,
) -> None:
    # Storage strategies are PostgreSQL's; SQLite has nothing like them.
    views = MetricsViews(postgres_platform.log)
    views.group.setup()
    records = dict.fromkeys(COLUMNS, "e")  # every table of records (not the counts)
    assert storage(postgres_platform) == records
    views.group.rebuild()  # tables created anew
    assert storage(postgres_platform) == records


def storage(platform: Platform) -> dict[str, str]:
    with platform.log.db.transaction() as cur:
        rows = cur.tuples(
            "SELECT c.relname, a.attstorage FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND a.attname = 'data' AND c.relname LIKE 'metrics_%'",
            {"schema": platform.log.settings.db_schema},
        )
    return {str(name): str(kind) for name, kind in rows}


def indexes(platform: Platform) -> set[str]:
    with platform.log.db.transaction() as cur:
        if platform.log.db.backend == "sqlite":
            rows = cur.tuples("SELECT name FROM sqlite_master WHERE type = 'index'")
        else:
            rows = cur.tuples(
                "SELECT indexname FROM pg_indexes WHERE schemaname = :schema",
                {"schema": platform.log.settings.db_schema},
            )
    return {str(row[0]) for row in rows}


def test_a_rebuild_leaves_nothing_for_the_paused_collector(platform: Platform) -> None:
    """The collector is paused while batches are applied (decision 90), so whatever a batch
    leaves in a reference cycle stays in memory until the catch-up ends: a rebuild must
    leave (next to) nothing, or memory grows with the log."""
    generate(platform, 1_000)
    views = MetricsViews(platform.log)
    views.group.batch_size = 100
    gc.collect()
    gc.disable()
    try:
        views.group.rebuild()
        assert gc.collect() < 50  # psycopg's or sqlite3's own few, not a batch's records
    finally:
        gc.enable()
