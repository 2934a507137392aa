"""On a generated history: the service's numbers equal a consumer's replay of the feed,
and both equal an independent, naive recomputation from the raw feed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from bench._synthetic import synthetic
from services.metrics.domain.calendar import parse_period
from services.metrics.domain.overview import every_metric
from services.metrics.domain.records import Filter
from services.metrics.replay import ReplayError, ReplayState, replay
from services.metrics.views import MetricsViews
from shared.platform import Platform
from tests.conftest import Api
from tests.metrics.naive import Naive, pct

PERIOD, AS_OF = "2024-03..2024-04", "2024-04-30"
QUERY = {"period": PERIOD, "as_of": AS_OF, "unit": "month"}


def generate(platform: Platform, events: int = 3000) -> None:
    batch: list[StoredEvent] = []
    for e in synthetic(events, seed=5, requests_per_day=3):
        batch.append(StoredEvent(e.aggregate_id, e.version, e.topic, orjson.dumps(e.state)))
        if len(batch) == 500:
            platform.log.recorder.insert_events(batch)
            batch = []
    if batch:
        platform.log.recorder.insert_events(batch)


def raw_feed(api: Api) -> list[dict[str, Any]]:
    events, after = [], 0
    while True:
        page = api.get("/api/events", "metrics.mo", params={"after": after, "limit": 1000}).json()
        events += page["events"]
        after = page["next_after"]
        if not page["has_more"]:
            return events


def service(api: Api, path: str = "", **params: Any) -> Any:
    response = api.get(f"/api/metrics{path}", "metrics.mo", params={**QUERY, **params})
    assert response.status_code == 200, response.text
    return response.json()


def consumer(api: Api) -> Any:
    api.client.headers["Authorization"] = f"Bearer {api.people.tokens['metrics.mo']}"
    state = replay(api.client, ReplayState(), page_size=250)
    span = parse_period(PERIOD)
    local = every_metric(
        state.history, span, "month", Filter(), ZoneInfo("UTC"), date.fromisoformat(AS_OF)
    )
    return orjson.loads(orjson.dumps(local))


def test_replay_of_the_feed_equals_the_service(api: Api) -> None:
    """Every metric, number by number, from the service and from a consumer's replay."""
    generate(api.platform)
    assert consumer(api) == service(api)
    assert service(api, department="Sales") != service(api)


def test_replay_resumes_from_its_saved_state(api: Api, tmp_path: Path) -> None:
    """Stopped halfway and resumed from the state file: the same numbers as in one go."""
    generate(api.platform, 1500)
    api.client.headers["Authorization"] = f"Bearer {api.people.tokens['metrics.mo']}"
    path = tmp_path / "replay.json"
    calls = {"n": 0}

    def stop_after_two_pages(state: ReplayState) -> None:
        state.save(path)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replay(api.client, ReplayState(), page_size=300, checkpoint=stop_after_two_pages)
    resumed = ReplayState.load(path)
    assert resumed.position > 0
    replay(api.client, resumed, page_size=300)
    whole = replay(api.client, ReplayState(), page_size=1000)
    assert resumed.history == whole.history
    assert resumed.events == whole.events


def test_replay_with_a_bad_token_says_so(api: Api) -> None:
    api.client.headers["Authorization"] = "Bearer ry_0000000000000000_" + "x" * 43
    with pytest.raises(ReplayError, match="token was refused"):
        replay(api.client, ReplayState())
    api.client.headers["Authorization"] = f"Bearer {api.people.tokens['vp.sales']}"
    with pytest.raises(ReplayError, match="may not read the feed"):
        replay(api.client, ReplayState())


def test_every_metric_equals_a_naive_recomputation_from_the_raw_feed(api: Api) -> None:
    generate(api.platform)
    naive = Naive(raw_feed(api), ZoneInfo("UTC"))
    span = parse_period(PERIOD)
    got = service(api)
    throughput = {p["period"]: p["delivered"] for p in got["throughput"]["periods"]}
    assert throughput == naive.throughput_by_month(span.start, span.end)
    assert sum(throughput.values()) > 100
    lead, cycle = naive.times(span.start, span.end)
    for p in (50, 70, 85, 95):
        assert got["flow_times"]["lead_time_days"][f"p{p}"] == pct(lead, p)
        assert got["flow_times"]["cycle_time_days"][f"p{p}"] == pct(cycle, p)
    as_of = date.fromisoformat(AS_OF)
    assert got["work_in_progress"]["in_progress"] == naive.open_work_on(as_of)
    ratings = naive.ratings(span.start, span.end)
    assert got["satisfaction"]["average"] == round(sum(ratings) / len(ratings), 2)
    assert got["satisfaction"]["distribution"]["4"] == ratings.count(4)
    deployed, on_time = naive.bundles_on_time(span.start, span.end)
    assert got["releases"]["bundles_deployed"] == deployed
    assert got["releases"]["on_time_rate"] == round(on_time / deployed, 4)
    completed, failed = naive.change_failure(span.start, span.end)
    assert got["dora"]["deployment_frequency"]["deployments"] == completed
    assert got["dora"]["change_failure_rate"] == round(failed / completed, 4)
    assert got["unauthorised_changes"]["count"] == naive.unauthorised(span.start, span.end)
    hours = naive.cab_hours(span.start, span.end)
    assert got["cab"]["approval_hours"]["p85"] == pct(hours, 85)
    previous = parse_period("2024-01..2024-02")
    assert got["comparison"]["previous"]["delivered"] == len(
        naive.delivered_between(previous.start, previous.end)
    )


def test_the_view_built_in_small_batches_equals_a_rebuild(api: Api) -> None:
    """Batch boundaries do not change the folded records."""
    generate(api.platform, 1200)
    small = MetricsViews(api.platform.log)
    small.group.batch_size = 37
    small.group.catch_up()
    in_small_batches = small.history(date(2024, 1, 1), date(2024, 12, 31))
    small.group.rebuild()
    assert small.history(date(2024, 1, 1), date(2024, 12, 31)) == in_small_batches
    assert len(in_small_batches.requests) > 100


class Borrowed:
    """The test client, lent to `railyard replay` in place of an HTTP connection."""

    def __init__(self, api: Api, headers: dict[str, str]) -> None:
        self.api = api
        self.headers = headers

    def __enter__(self) -> Borrowed:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def get(self, url: str, *, params: dict[str, int]) -> Any:
        return self.api.client.get(url, params=params, headers=self.headers)


def lend(monkeypatch: pytest.MonkeyPatch, feed: Callable[[dict[str, str]], Borrowed]) -> None:
    """`railyard replay` reads the feed through `feed(headers)`, not over HTTP."""
    monkeypatch.setattr(
        "railyard.metrics_cli.httpx.Client", lambda base_url, headers, timeout: feed(headers)
    )


def resumable(api: Api, tmp_path: Path, page_size: int) -> tuple[list[str], Path, Path]:
    """A replay's arguments that resume from a position file, and its two files."""
    output, position = tmp_path / "metrics.json", tmp_path / "position.json"
    token = api.people.tokens["metrics.mo"]
    args = ["replay", "--url", "http://railyard", "--token", token, "--period", PERIOD,
            "--as-of", AS_OF, "--unit", "month", "--timezone", "UTC",
            "--page-size", str(page_size), "--position-file", str(position),
            "--output", str(output)]  # fmt: skip
    return args, output, position


def test_replay_command_writes_the_services_numbers(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from railyard.cli import app

    generate(api.platform, 2000)
    lend(monkeypatch, lambda headers: Borrowed(api, headers))
    args, output, position = resumable(api, tmp_path, page_size=400)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert orjson.loads(output.read_bytes()) == service(api)
    assert ReplayState.load(position).position == api.platform.log.head()
    again = CliRunner().invoke(app, args)  # resumes at the head: nothing new to read
    everything = len(api.platform.log.entries(0, 1_000_000))
    assert f"folded {everything} events" in again.output
    assert orjson.loads(output.read_bytes()) == service(api)
    later = (date.today() + timedelta(days=2)).isoformat()
    future = CliRunner().invoke(app, [*args[:7], "--as-of", later, *args[9:]])
    assert future.exit_code == 2, future.output  # refused before the feed is folded
    assert "is after today" in future.output
    assert "Traceback" not in future.output
    next_year = str(date.today().year + 1)
    unbegun = CliRunner().invoke(app, [*args[:5], "--period", next_year, *args[7:]])
    assert unbegun.exit_code == 2, unbegun.output  # as the service's period_in_future
    assert f"begins {next_year}-01-01" in unbegun.output


class Flaky(Borrowed):
    """A feed whose connection drops after `pages` pages."""

    def __init__(self, api: Api, headers: dict[str, str], pages: int) -> None:
        super().__init__(api, headers)
        self.pages = pages

    def get(self, url: str, *, params: dict[str, int]) -> Any:
        if self.pages == 0:
            raise httpx.ConnectError("[Errno 104] Connection reset by peer")
        self.pages -= 1
        return super().get(url, params=params)


def test_a_replay_that_loses_the_feed_says_where_it_stopped_and_resumes_there(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from railyard.cli import app

    generate(api.platform, 1500)
    lend(monkeypatch, lambda headers: Flaky(api, headers, pages=2))
    args, output, position = resumable(api, tmp_path, page_size=300)
    lost = CliRunner().invoke(app, args)
    assert lost.exit_code == 1
    saved = ReplayState.load(position).position
    assert 0 < saved < api.platform.log.head()
    said = " ".join(lost.output.split())  # rich wraps lines at the terminal's width
    assert said.endswith(
        "could not reach the feed: [Errno 104] Connection reset by peer"
        f" (read up to position {saved})"
    )
    assert said.index("replaying") < said.index("could not reach")  # after the bar
    assert not output.exists()
    lend(monkeypatch, lambda headers: Borrowed(api, headers))
    resumed = CliRunner().invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    assert orjson.loads(output.read_bytes()) == service(api)


def test_replay_with_default_options_prints_what_the_service_answers_by_default(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`railyard replay` and `GET /api/metrics` given the same options (here no unit)
    answer the same document."""
    from typer.testing import CliRunner

    from railyard.cli import app

    generate(api.platform, 1500)
    lend(monkeypatch, lambda headers: Borrowed(api, headers))
    output = tmp_path / "metrics.json"
    token = api.people.tokens["metrics.mo"]
    args = ["replay", "--url", "http://railyard", "--token", token, "--period", PERIOD,
            "--as-of", AS_OF, "--timezone", "UTC", "--output", str(output)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    by_default = api.get(
        "/api/metrics", "metrics.mo", params={"period": PERIOD, "as_of": AS_OF}
    ).json()
    assert by_default["unit"] == "week"
    assert orjson.loads(output.read_bytes()) == by_default


def test_replay_notes_a_filter_that_matches_nothing_as_the_service_does(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A department or subsystem no record of the period names: the service's document
    says so in `notes`, from the records its view selects for the question; the
    replay's said nothing. And what the service refuses, the replay refuses before
    reading the feed, in words."""
    from typer.testing import CliRunner

    from railyard.cli import app

    generate(api.platform, 1500)
    lend(monkeypatch, lambda headers: Borrowed(api, headers))
    output = tmp_path / "metrics.json"
    token = api.people.tokens["metrics.mo"]
    base = ["replay", "--url", "http://railyard", "--token", token, "--period", PERIOD,
            "--timezone", "UTC", "--output", str(output)]  # fmt: skip
    asked = {"department": "Nope", "subsystem": "Billling"}
    result = CliRunner().invoke(
        app, [*base, "--as-of", AS_OF, "--department", "Nope", "--subsystem", "Billling"]
    )
    assert result.exit_code == 0, result.output
    expected = api.get(
        "/api/metrics", "metrics.mo", params={"period": PERIOD, "as_of": AS_OF, **asked}
    ).json()
    assert len(expected["notes"]) == 2
    assert orjson.loads(output.read_bytes()) == expected
    refused = {
        ("--class-of-service", "urgent"): "class of service is one of standard, expedite",
        ("--category", "wishlist"): "category is one of business_project",
        ("--as-of", "06/12/2026"): "a date is written YYYY-MM-DD",
    }
    for (option, value), said in refused.items():
        wrong = CliRunner().invoke(app, [*base, option, value])
        assert wrong.exit_code == 2, wrong.output
        assert said in " ".join(wrong.output.split())
        assert "Traceback" not in wrong.output


def test_delivery_and_flow_series_equal_a_naive_recomputation_from_the_raw_feed(
    api: Api,
) -> None:
    """Lead time for changes, time to restore, bundles and deployments per month, the
    cumulative flow and satisfaction per month, recomputed from the raw feed."""
    generate(api.platform)
    naive = Naive(raw_feed(api), ZoneInfo("UTC"))
    span = parse_period(PERIOD)
    got = service(api)
    lead = naive.lead_time_for_changes(span.start, span.end)
    assert len(lead) > 50
    for p in (50, 85, 95):
        assert got["dora"]["lead_time_for_changes_days"][f"p{p}"] == pct(lead, p)
    hours, unrecovered = naive.recovery_hours(span.start, span.end)
    assert hours
    assert got["dora"]["recovery_time_hours"]["count"] == len(hours)
    assert got["dora"]["recovery_time_hours"]["p50"] == pct(hours, 50)
    assert got["dora"]["recovery_time_hours"]["unrecovered"] == unrecovered
    deployed = naive.deployed_bundles(span.start, span.end)
    months = {p["period"]: p["bundles_deployed"] for p in got["releases"]["periods"]}
    assert sum(months.values()) == len(deployed) > 0
    for month, count in months.items():
        assert count == sum(1 for e in deployed.values() if e["occurred_at"][:7] == month)
    for day in got["cumulative_flow"]["days"][::7]:
        on = date.fromisoformat(day["date"])
        work = ("accepted", "scheduled", "in_development", "in_qa", "awaiting_deployment")
        assert sum(day[s] for s in work) == naive.open_work_on(on), day["date"]
        assert day["delivered"] == naive.delivered_by_day(span.start, on), day["date"]
    for month in got["satisfaction"]["periods"]:
        first = date.fromisoformat(f"{month['period']}-01")
        last = parse_period(month["period"]).end
        scores = naive.ratings(first, last)
        assert month["count"] == len(scores)
        assert month["average"] == (round(sum(scores) / len(scores), 2) if scores else None)


def test_replay_counts_days_in_the_services_time_zone_not_the_consumers(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer whose own RAILYARD_TIMEZONE differs from the service's got other figures
    without a word; the feed says the service's zone, and replay counts in it."""
    from typer.testing import CliRunner

    from railyard.cli import app

    generate(api.platform, 1500)
    lend(monkeypatch, lambda headers: Borrowed(api, headers))
    monkeypatch.setenv("RAILYARD_TIMEZONE", "Pacific/Kiritimati")  # the consumer's, UTC+14
    args, output, _ = resumable(api, tmp_path, page_size=500)
    del args[args.index("--timezone") : args.index("--timezone") + 2]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    document = orjson.loads(output.read_bytes())
    assert document["time_zone"] == "UTC"
    assert document == service(api)
    assert "days counted in UTC" in " ".join(result.output.split())
    page = api.get("/api/events", "metrics.mo", params={"limit": 1}).json()
    assert page["time_zone"] == "UTC"


def test_a_position_file_folded_from_another_log_is_refused(api: Api, tmp_path: Path) -> None:
    """It was resumed silently, with the other log's figures: a file past the service's
    head, or whose last event is not the service's event at that position, is refused
    with the advice to replay from the start."""
    generate(api.platform, 600)
    api.client.headers["Authorization"] = f"Bearer {api.people.tokens['metrics.mo']}"
    path = tmp_path / "replay.json"
    whole = replay(api.client, ReplayState(), page_size=200)
    whole.save(path)
    assert replay(api.client, ReplayState.load(path)).events == whole.events  # its own log
    other = ReplayState.load(path)
    assert other.last is not None
    other.last = {**other.last, "aggregate_id": "00000000-0000-0000-0000-000000000000"}
    with pytest.raises(ReplayError, match="is not the service's event there"):
        replay(api.client, other)
    beyond = ReplayState.load(path)
    beyond.position += 1_000
    with pytest.raises(ReplayError, match="past the end of the service's log"):
        replay(api.client, beyond)
