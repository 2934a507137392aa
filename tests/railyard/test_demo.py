"""The demo organisation: simulated through the real commands, its metrics show the case
study's shape because of how it behaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from railyard.demo import Demo
from services.metrics.application import MetricsQueries
from services.metrics.domain.accuracy import forecast_accuracy, forecast_days
from services.metrics.domain.calendar import parse_period, to_utc
from services.metrics.views import MetricsViews
from shared.platform import Platform
from shared.settings import load_settings
from shared.store.log import LoggedEvent

# Two third-size organisations (about 20 s each). A third-size organisation counts a
# third of the requests, so its year-over-year change is noisier than the default one's
# (which lands near the case study's +85%); the tests hold the direction and rough size.
SEEDS = (3, 7)
SCALE = 0.35
YEARS = ("year_one", "year_two")
# On one worker, which builds each organisation once (over two workers, each built both).
pytestmark = pytest.mark.xdist_group("demo")


@dataclass(frozen=True)
class DemoRun:
    periods: dict[str, str]
    table: dict[str, Any]
    releases: dict[str, Any]
    before: dict[str, Any]  # year one's DORA keys
    after: dict[str, Any]  # year two's
    events: list[LoggedEvent]
    accuracy: dict[str, dict[int, float]]  # per year: confidence -> share of forecasts come true

    def in_year(self, year: str, kind: str) -> list[LoggedEvent]:
        first, last = self.periods[year].split("..")
        return [e for e in self.events if e.type == kind and first <= e.occurred_at[:10] <= last]


def forecasts_come_true(views: MetricsViews, period: str, as_of: date) -> dict[int, float]:
    """The forecasts made as of the first of each month of `period`, judged by what had
    happened when the demo stopped (not today: the demo's organisation stops then)."""
    span = parse_period(period)
    history = views.history(span.start - timedelta(days=90), as_of)
    days = forecast_days(span, "month", as_of)
    judged = forecast_accuracy(history, days, views.zone, as_of)
    return {c["confidence"]: c["share"] for c in judged["confidences"]}


@pytest.fixture(scope="module", params=SEEDS, ids=lambda seed: f"seed{seed}")
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    data_dir = tmp_path_factory.mktemp("demo") / "var"
    platform = Platform.build(load_settings(database_url=None, data_dir=data_dir))
    try:
        periods = Demo(platform, date(2020, 1, 1), seed=request.param, scale=SCALE).run()
        views = MetricsViews(platform.log)
        # As `railyard demo` does: a read catches up only a view a little behind.
        views.group.catch_up()
        queries = MetricsQueries(views)
        q = queries.question(periods["year_two"], date.fromisoformat(periods["as_of"]), "month")
        return DemoRun(
            periods,
            queries.comparison(q),
            queries.releases(q),
            queries.dora(queries.question(periods["year_one"], q.as_of, "month")),
            queries.dora(q),
            platform.log.entries(0, 1_000_000),
            {year: forecasts_come_true(views, periods[year], q.as_of) for year in YEARS},
        )
    finally:
        platform.close()


def test_the_disciplined_year_delivers_more_sooner_and_pleases_more(demo: DemoRun) -> None:
    change = demo.table["change_percent"]
    assert change["delivered"] > 40
    assert change["median_cycle_time_days"] < -20
    assert demo.table["previous"]["satisfaction"] < 3.0
    assert demo.table["current"]["satisfaction"] > 3.7


def test_the_demos_delivery_forecasts_come_true_about_as_often_as_they_say(
    demo: DemoRun,
) -> None:
    """Forecasts made on the first of each month, in either year, judged by what was
    delivered since: half came true by their 50% date, and nearly as many as they say by
    their 85% and 95% dates (year one's requests are pushed on programmers in no order a
    plan could know; they came true 58-63% of the time by the 85% date before the
    forecasts took the plan's open order and recent overtaking into account)."""
    for year in YEARS:
        shares = demo.accuracy[year]
        assert shares[50] >= 0.5, (year, shares)
        assert shares[85] >= 0.75, (year, shares)
        assert shares[95] >= 0.85, (year, shares)


def test_year_one_loses_work_that_the_process_wins_back(demo: DemoRun) -> None:
    """Year one's untested hotfixes fail and are rolled back (and redone); VPs who cannot
    get a date withdraw work already started. Year two's QA finds defects before anything
    ships, and the published plan keeps VPs from dropping work."""
    reports = "DeploymentReport.Recorded"
    rolled_back = [
        e for e in demo.in_year("year_one", reports) if e.data["version"][:9] == "rollback-"
    ]
    assert len(rolled_back) >= 3
    assert all(e.data["unauthorised"] for e in demo.in_year("year_one", reports))
    assert [e for e in demo.in_year("year_two", reports) if e.data["unauthorised"]] == []
    withdrawn = "ChangeRequest.Withdrawn"
    assert len(demo.in_year("year_one", withdrawn)) > len(demo.in_year("year_two", withdrawn))
    progress = demo.in_year("year_two", "ReleaseBundle.ItemProgressed")
    assert any(e.data["stage"] == "qa_failed" for e in progress)


def test_vps_chase_overdue_work_on_the_request_less_once_the_plan_shows_its_date(
    demo: DemoRun,
) -> None:
    """Year one's VPs ask after late work and its owner has no date to give; with a plan
    the chasing falls away, and the answers point to the plan."""
    before = demo.in_year("year_one", "ChangeRequest.Commented")
    after = demo.in_year("year_two", "ChangeRequest.Commented")
    assert len(before) > 2 * len(after)
    asked = [e for e in before if e.actor.startswith("vp.")]
    assert asked
    assert all(e.data["text"].startswith("Any news?") for e in asked)
    answered = [e for e in before if e.actor.startswith("dev.")]
    assert {e.aggregate_id for e in answered} == {e.aggregate_id for e in asked}
    assert not any("release plan" in e.data["text"] for e in answered)


def test_every_demo_fact_comes_from_a_real_command_at_business_time(demo: DemoRun) -> None:
    """Intake's, and release's and change control's for the release train and operations."""
    kinds = {e.type.partition(".")[0] for e in demo.events}
    assert kinds == {
        "User", "ChangeRequest", "DepartmentRanking", "ReleaseTrain", "ReleaseBundle",
        "RequestPlacement", "ProductionChange", "DeploymentReport",
    }  # fmt: skip
    assert "2021" < demo.events[-1].occurred_at < "2025"


def test_no_demo_history_goes_back_in_time(demo: DemoRun) -> None:
    """Each request's, bundle's and change's events happen in the order they were
    recorded: a request is never deferred at 12:39 after being submitted at 17:29."""
    last: dict[str, tuple[str, str]] = {}
    backwards = []
    for e in demo.events:
        at = to_utc(e.occurred_at)
        before = last.get(e.aggregate_id)
        if before is not None and at < before[0]:
            backwards.append((e.aggregate_id, before, (at, e.type)))
        last[e.aggregate_id] = (at, e.type)
    assert backwards == []


def test_year_two_ships_monthly_bundles_through_change_control(demo: DemoRun) -> None:
    deployed = [e for e in demo.events if e.type == "ReleaseBundle.Deployed"]
    assert len(deployed) >= 10
    assert demo.releases["bundles_deployed"] == len(deployed)
    assert demo.releases["on_time_rate"] == 1.0
    # Programmers deploying on their own in year one are flagged; in year two none are.
    assert demo.before["unauthorised_changes"]["count"] > 10
    assert demo.after["unauthorised_changes"]["count"] == 0
    assert demo.after["deployment_frequency"]["by_type"]["release_deployment"] == len(deployed)
    assert demo.after["change_failure_rate"] is not None
    assert demo.after["cab"]["approval_hours"]["count"] > 0


def test_every_demo_person_can_sign_in_to_the_pages(sqlite_platform: Platform) -> None:
    """After the demo, each of its people has the printed password (for the web pages)."""
    from railyard.demo import DEMO_PASSWORD, give_passwords
    from shared.application import acting_as
    from shared.identity.domain import password_matches

    with acting_as("test-setup"):
        sqlite_platform.identity.register("rm", "Rita Release", ["release_manager"])
        sqlite_platform.identity.register("vp.sales", "VP Sales", ["requester"], "Sales")
    assert give_passwords(sqlite_platform) == ["rm", "vp.sales"]
    for username in ("rm", "vp.sales"):
        assert password_matches(DEMO_PASSWORD, sqlite_platform.directory.password_hash(username))


def test_the_demo_has_an_administrator_to_manage_its_people(demo: DemoRun) -> None:
    """Nobody in the demo could open the people pages, nor give the CAB the member its
    emergency changes told an admin to add."""
    registered = [e for e in demo.events if e.type == "User.Registered"]
    admins = [e.data["username"] for e in registered if "admin" in e.data["roles"]]
    assert admins == ["admin"]


def test_the_demo_records_nothing_after_the_day_it_stops_and_leaves_changes_in_flight(
    demo: DemoRun,
) -> None:
    """What would fall due later (a CAB meeting, a change's window, a review) is not done
    ahead of the simulated clock: a demo served today has that work still in flight."""
    last_day = demo.periods["as_of"]
    assert max(e.occurred_at[:10] for e in demo.events) <= last_day
    raised = {e.aggregate_id for e in demo.events if e.type == "ProductionChange.Raised"}
    decided = {e.aggregate_id for e in demo.events if e.type == "ProductionChange.Closed"}
    assert raised - decided, "an operations change raised in the last weeks awaits its window"
    approved = [e for e in demo.events if e.type == "ProductionChange.Approved"]
    normal = {e.aggregate_id for e in demo.events if e.type == "ProductionChange.Raised"
              and e.data.get("change_type") == "normal"}  # fmt: skip
    raised_at = {e.aggregate_id: e.occurred_at for e in demo.events
                 if e.type == "ProductionChange.Raised"}  # fmt: skip
    # The CAB meets weekly: an operations change waits days for its approval, not minutes.
    waits = sorted(
        (datetime.fromisoformat(e.occurred_at) - datetime.fromisoformat(raised_at[e.aggregate_id]))
        for e in approved
        if e.aggregate_id in normal
    )
    assert waits
    assert waits[len(waits) // 2] >= timedelta(days=7)


def test_a_bundles_deployment_waits_for_the_cab_from_its_freeze_until_qa_signs_off(
    demo: DemoRun,
) -> None:
    """The release manager raises a bundle's deployment change the day its scope freezes
    (so the CAB queue and the change calendar show the release weeks ahead); the CAB
    approves it only after QA has signed the bundle off; a bundle cancelled for want of
    ready work has its change withdrawn."""

    def on(kind: str) -> dict[str, str]:  # bundle or change id -> when
        return {e.aggregate_id: e.occurred_at for e in demo.events if e.type == kind}

    frozen, signed_off = on("ReleaseBundle.ScopeFrozen"), on("ReleaseBundle.QASignedOff")
    approved, withdrawn = on("ProductionChange.Approved"), on("ProductionChange.Withdrawn")
    cancelled = on("ReleaseBundle.Cancelled")
    releases = [e for e in demo.events if e.type == "ProductionChange.Raised"
                and e.data["change_type"] == "release_deployment"]  # fmt: skip
    assert len(releases) >= 10
    for raised in releases:
        bundle, change = raised.data["bundle_id"], raised.aggregate_id
        assert raised.occurred_at[:10] == frozen[bundle][:10]
        if change in approved:
            assert signed_off[bundle] < approved[change]
            waited = datetime.fromisoformat(approved[change]) - datetime.fromisoformat(
                raised.occurred_at
            )
            assert waited >= timedelta(days=7)
        elif bundle in cancelled:
            assert withdrawn[change] < cancelled[bundle]
        else:  # the bundle still ahead when the demo stops: it waits for the CAB
            assert bundle not in signed_off


def test_a_failed_operations_change_is_put_right_that_night_by_an_emergency_change(
    demo: DemoRun,
) -> None:
    """So service is restored in hours, as the year's recovery time shows (it read as the
    weeks until the next routine patch of the same subsystem)."""
    raised = {e.aggregate_id: e for e in demo.events if e.type == "ProductionChange.Raised"}
    failed = [e for e in demo.events if e.type == "ProductionChange.Completed"
              and e.data["outcome"] == "failed"
              and raised[e.aggregate_id].data["change_type"] == "normal"]  # fmt: skip
    assert failed
    fixes = [e for e in raised.values() if e.data["title"] == "Fix the failed patch"]
    for failure in failed:
        when = datetime.fromisoformat(failure.occurred_at)
        subsystems = set(raised[failure.aggregate_id].data["subsystems"])
        assert (
            any(
                timedelta(0) < datetime.fromisoformat(f.occurred_at) - when < timedelta(hours=8)
                and set(f.data["subsystems"]) == subsystems
                and f.data["change_type"] == "emergency"
                for f in fixes
            )
            or failure.occurred_at[:10] == demo.periods["as_of"]
        )  # the demo stopped that day
    recoveries = [year["recovery_time_hours"] for year in (demo.before, demo.after)]
    assert sum(r["count"] for r in recoveries) > 0
    for recovery in recoveries:
        assert recovery["unrecovered"] == 0
        assert recovery["count"] == 0 or recovery["p50"] < 12


def test_a_bundle_cancelled_for_want_of_ready_work_has_its_deployment_change_withdrawn(
    sqlite_platform: Platform,
) -> None:
    """Else the change would wait in the CAB queue for good, its bundle gate unmet."""
    start = date(2024, 1, 8)
    demo = Demo(sqlite_platform, start, seed=1, scale=SCALE)
    demo.register_people(start)
    demo.start_train(start)
    bundle = demo.bundles[0]
    bundle.planned = True  # with nothing scheduled into it
    demo.release_day(bundle.freeze)
    assert bundle.frozen
    assert bundle.change is not None
    demo.prepare(bundle, bundle.deploy - timedelta(days=1))
    events = sqlite_platform.log.entries(0, 1_000_000)
    (withdrawn,) = [e for e in events if e.type == "ProductionChange.Withdrawn"]
    (cancelled,) = [e for e in events if e.type == "ReleaseBundle.Cancelled"]
    assert withdrawn.aggregate_id == str(bundle.change)
    assert withdrawn.data["reason"] == "nothing ready to ship"
    assert cancelled.aggregate_id == str(bundle.id)
    assert withdrawn.position < cancelled.position


def test_a_demo_whose_two_years_would_end_after_today_is_refused_with_an_earlier_start(
    sqlite_platform: Platform,
) -> None:
    """Metrics are not measured as of a day still to come, and a history in the future
    demonstrates nothing: a start too recent is refused once the warm-up shows when the
    two years would begin, naming a start early enough."""
    from railyard.demo import DemoTooLate

    start = date(2024, 6, 1)
    refused = r"past today \(2025-03-01\): give an earlier --start, such as 2020-03-01"
    with pytest.raises(DemoTooLate, match=refused):
        Demo(sqlite_platform, start, seed=3, scale=SCALE).run(until=date(2025, 3, 1))
    events = sqlite_platform.log.entries(0, 1_000_000)
    assert max(e.occurred_at[:10] for e in events) < "2025-03-01"  # no year was simulated
