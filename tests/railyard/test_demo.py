"""The demo organisation: simulated through the real commands, its metrics show the case
study's shape because of how it behaves."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from railyard.demo import Demo
from services.metrics.application import MetricsQueries
from services.metrics.views import MetricsViews
from shared.platform import Platform
from shared.settings import load_settings


def test_the_disciplined_year_delivers_more_sooner_and_pleases_more(tmp_path: Path) -> None:
    """A third-size organisation: year two against year one shows more delivered, a
    shorter median cycle time and higher satisfaction."""
    platform = Platform.build(load_settings(database_url=None, data_dir=tmp_path / "var"))
    try:
        periods = Demo(platform, date(2020, 1, 1), seed=3, scale=0.35).run()
        queries = MetricsQueries(MetricsViews(platform.log))
        q = queries.question(periods["year_two"], date.fromisoformat(periods["as_of"]), "month")
        table = queries.comparison(q)
        releases = queries.releases(q)
        after = queries.dora(q)
        before = queries.dora(queries.question(periods["year_one"], q.as_of, "month"))
        events = platform.log.entries(0, 1_000_000)
    finally:
        platform.close()
    change = table["change_percent"]
    assert change["delivered"] > 30
    assert change["median_cycle_time_days"] < -15
    assert table["previous"]["satisfaction"] < 3.2 < table["current"]["satisfaction"]
    # Every fact came from a real command, at simulated business time: intake's, and
    # release's and change control's for the release train and operations.
    kinds = {e.type.partition(".")[0] for e in events}
    assert kinds == {
        "User", "ChangeRequest", "DepartmentRanking", "ReleaseTrain", "ReleaseBundle",
        "RequestPlacement", "ProductionChange", "DeploymentReport",
    }  # fmt: skip
    assert "2021" < events[-1].occurred_at < "2025"
    deployed = [e for e in events if e.type == "ReleaseBundle.Deployed"]
    assert len(deployed) >= 10
    assert releases["bundles_deployed"] == len(deployed)
    assert releases["on_time_rate"] == 1.0
    # Programmers deploying on their own in year one are flagged; in year two none are.
    assert before["unauthorised_changes"]["count"] > 10
    assert after["unauthorised_changes"]["count"] == 0
    assert after["deployment_frequency"]["by_type"]["release_deployment"] == len(deployed)
    assert after["change_failure_rate"] is not None
    assert after["cab"]["approval_hours"]["count"] > 0


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
