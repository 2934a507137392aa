"""Metrics name each request as intake does (REQ-12, the 12th submission of the log),
however the view is folded: rebuilt in memory, batch by batch, caught up a little at a
time, and by a consumer's replay that stops and resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from services.metrics import views as metrics_views
from services.metrics.replay import ReplayError, ReplayState
from services.metrics.views import REQUESTS, MetricsViews
from shared import contracts as c
from shared.platform import Platform
from tests.conftest import Api
from tests.metrics.scenario import march_history
from tests.metrics.test_rebuild import generate


def submissions_in_log_order(platform: Platform) -> dict[str, int]:
    """Request id -> n, counted here from the raw log, independently of any view."""
    numbers: dict[str, int] = {}
    entries = platform.log.entries(0, platform.log.head() + 1)
    for entry in entries:
        if entry.topic == c.REQUEST_SUBMITTED.topic:
            numbers[entry.aggregate_id] = len(numbers) + 1
    return numbers


def folded_numbers(views: MetricsViews) -> dict[str, tuple[int, str]]:
    with views.log.db.transaction() as cur:
        rows = cur.tuples(f"SELECT data FROM {views.log.table(REQUESTS)}")
    records = (orjson.loads(data) for (data,) in rows)
    return {r["id"]: (r["number"], r["reference"]) for r in records}


def expected(platform: Platform) -> dict[str, tuple[int, str]]:
    return {i: (n, f"REQ-{n}") for i, n in submissions_in_log_order(platform).items()}


@pytest.mark.parametrize("held", [True, False], ids=["held in memory", "batch by batch"])
def test_a_rebuild_numbers_each_request_as_the_log_orders_its_submissions(
    platform: Platform, held: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(platform, 1_500)
    if not held:
        monkeypatch.setattr(metrics_views, "HOLD_EVENTS_AT_MOST", 0)
    views = MetricsViews(platform.log)
    views.group.batch_size = 89  # the count carried across many batches
    views.group.rebuild()
    numbers = folded_numbers(views)
    assert len(numbers) > 100
    assert numbers == expected(platform)


def test_catching_up_a_little_at_a_time_goes_on_counting_from_the_view(
    platform: Platform,
) -> None:
    """Each catch-up's first batch reads the count back from the view (nothing in
    memory carries it from the last catch-up)."""
    generate(platform, 1_200)
    head = platform.log.head()
    views = MetricsViews(platform.log)
    views.group.batch_size = 50
    while views.group.catch_up(max_batches=1):
        views = MetricsViews(platform.log)  # as a new process would
        views.group.batch_size = 50
    assert views.group.position() == head
    assert folded_numbers(views) == expected(platform)


def test_a_catch_up_that_begins_without_a_submission_reads_the_count_when_it_meets_one(
    platform: Platform,
) -> None:
    """Its first batches number nothing, so they do not read the count; the first that
    does reads it back from the view, not from zero."""
    generate(platform, 1_200)
    entries = platform.log.entries(0, platform.log.head() + 1)
    submitted = [e.topic == c.REQUEST_SUBMITTED.topic for e in entries]
    # A position after some submissions, followed by ten events without one.
    split = next(
        i for i in range(200, len(entries)) if any(submitted[:i]) and not any(submitted[i : i + 10])
    )
    first = MetricsViews(platform.log)
    first.group.batch_size = entries[split - 1].position
    first.group.catch_up(max_batches=1)
    rest = MetricsViews(platform.log)  # another process, in small batches
    rest.group.batch_size = 5
    rest.group.catch_up()
    assert rest.group.position() == platform.log.head()
    assert folded_numbers(rest) == expected(platform)


def test_forecasts_and_the_weekly_report_name_requests_by_their_reference(api: Api) -> None:
    ids = march_history(api.platform)
    intake = api.get(f"/api/requests/{ids['charlie']}", "rm").json()
    forecasts = api.get("/api/metrics/forecasts", "metrics.mo", params={"as_of": "2026-03-31"})
    (item,) = forecasts.json()["items"]
    assert (item["number"], item["reference"]) == (intake["number"], intake["reference"])
    report = api.get("/api/metrics/reports/weekly/2026-W11", "rm").text
    section = report.split("## Delivered")[1].split("##")[0]
    delivered = [line for line in section.splitlines() if line.startswith("- ")]
    assert delivered == [  # one line each
        "- REQ-1 Alpha — Sales — 2026-03-10",
        "- REQ-2 Bravo — Sales — 2026-03-10",
    ]


def test_a_replay_state_of_an_earlier_format_is_refused_with_what_to_do(
    tmp_path: Path,
) -> None:
    old = tmp_path / "state.json"
    old.write_bytes(orjson.dumps({"format": 1, "position": 10, "requests": []}))
    with pytest.raises(ReplayError, match="remove it to replay from the start"):
        ReplayState.load(old)


def test_a_resumed_replay_goes_on_counting_where_it_stopped(tmp_path: Path) -> None:
    state = ReplayState(position=40)
    state.history.submitted = 7
    path = tmp_path / "state.json"
    state.save(path)
    loaded: Any = ReplayState.load(path)
    assert (loaded.position, loaded.history.submitted) == (40, 7)


@pytest.mark.parametrize(
    "damage",
    [
        {"position": "abc"},
        {"requests": "oops"},
        {"requests": [{"title": "no id"}]},
        {"position": -1},
        {"last": ["not", "an", "event"]},
    ],
)
def test_a_damaged_replay_state_is_refused_not_resumed_from(
    tmp_path: Path, damage: dict[str, Any]
) -> None:
    """A file edited by hand or cut short: resuming from it gave a traceback, or, with its
    requests gone, figures that silently missed them."""
    path = tmp_path / "state.json"
    ReplayState(position=40).save(path)
    document = {**orjson.loads(path.read_bytes()), **damage}
    path.write_bytes(orjson.dumps(document))
    with pytest.raises(ReplayError, match=r"is not a whole replay state file.*remove it"):
        ReplayState.load(path)


def test_a_damaged_record_is_named_in_words(tmp_path: Path) -> None:
    """It was named in Python's words: `RequestRecord.__init__() missing 1 required
    positional argument: 'id'`."""
    path = tmp_path / "state.json"
    ReplayState(position=40).save(path)
    document = {**orjson.loads(path.read_bytes()), "requests": [{"title": "no id"}]}
    path.write_bytes(orjson.dumps(document))
    with pytest.raises(ReplayError, match=r"\(a record of requests lacks [a-z_, ]*\bid\b"):
        ReplayState.load(path)


def test_a_replay_state_missing_its_requests_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    ReplayState(position=40).save(path)
    document = orjson.loads(path.read_bytes())
    del document["requests"]
    path.write_bytes(orjson.dumps(document))
    with pytest.raises(ReplayError, match=r"\(requests is missing\)"):
        ReplayState.load(path)


def test_a_replay_state_that_is_a_directory_says_it_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="cannot read"):
        ReplayState.load(tmp_path)
