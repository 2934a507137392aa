"""The metrics HTTP contract on SQLite and PostgreSQL, over a history written by intake's
real commands and other services' facts by contract."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.metrics import application
from services.metrics.application import MetricsQueries
from services.metrics.report import render_weekly
from services.metrics.views import MetricsViews
from tests.conftest import Api
from tests.metrics.scenario import Office, march_history

MARCH = {"period": "2026-03", "as_of": "2026-03-31"}


def get(api: Api, path: str, as_: str = "metrics.mo", **params: Any) -> Any:
    response = api.get(f"/api/metrics{path}", as_, params={**MARCH, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_flow_metrics_follow_the_log(api: Api) -> None:
    """Three delivered in March (W11 x2, W12 x1); cycle times 9, 9, 15 days."""
    march_history(api.platform)
    weekly = get(api, "/throughput", unit="week")
    assert weekly["total"] == 3
    assert {p["period"]: p["delivered"] for p in weekly["periods"]}["2026-W11"] == 2
    times = get(api, "/flow-times")
    assert times["cycle_time_days"]["p50"] == 9
    assert times["cycle_time_days"]["p95"] == 15
    assert times["lead_time_days"]["max"] == 19  # 20 Feb to 10 Mar
    wip = get(api, "/work-in-progress")
    assert [i["title"] for i in wip["items"]] == ["Charlie"]
    assert wip["items"][0]["age_days"] == 30
    assert get(api, "/satisfaction")["average"] == 3.0


def test_release_and_change_metrics_follow_other_services_facts(api: Api) -> None:
    march_history(api.platform)
    releases = get(api, "/releases", unit="month")
    assert (releases["bundles_deployed"], releases["on_time_rate"]) == (1, 1.0)
    dora = get(api, "/dora")
    assert dora["change_failure_rate"] == 1.0
    assert dora["lead_time_for_changes_days"]["p50"] == 8  # scheduled 3 March, deployed 10th
    assert dora["unauthorised_changes"]["count"] == 1
    assert dora["cab"]["approval_hours"]["p50"] == 24.0


def test_requester_sees_only_their_own_departments_flow(api: Api) -> None:
    march_history(api.platform)
    mine = get(api, "/throughput", as_="vp.care")
    assert mine["total"] == 1
    other = api.get("/api/metrics/throughput", "vp.care", params={**MARCH, "department": "Sales"})
    assert other.status_code == 403
    assert other.json()["rule"] == "own_department_only"
    assert api.get("/api/metrics/dora", "vp.care", params=MARCH).status_code == 403
    assert api.get("/api/metrics/throughput", "pipeline", params=MARCH).status_code == 403


def test_it_staff_and_the_cab_see_the_whole_organisation(api: Api) -> None:
    march_history(api.platform)
    for reader in ("dev.alice", "cab.carl"):
        assert get(api, "/throughput", as_=reader)["total"] == get(api, "/throughput")["total"]
        assert api.get("/api/metrics/dora", reader, params=MARCH).status_code == 200


def test_every_metrics_document_says_what_it_answers_and_its_time_zone(api: Api) -> None:
    """`/throughput`, `/flow-times` and `/comparison` answered figures without their
    period, as-of day or time zone, which `GET /api/metrics` names (and the README said
    every metrics document does)."""
    params = {"period": "2026-Q1", "as_of": "2026-05-01", "department": "Sales"}
    zone = api.platform.settings.zone.key
    for route in ("throughput", "flow-times", "work-in-progress", "time-in-state",
                  "cumulative-flow", "satisfaction", "releases", "dora", "comparison"):  # fmt: skip
        doc = api.get(f"/api/metrics/{route}", "metrics.mo", params=params).json()
        assert doc["time_zone"] == zone, route
        assert doc["as_of"] == "2026-05-01", route
        assert doc["period"]["start"] == "2026-01-01", route
        assert "filter" in doc, route
    dora = api.get("/api/metrics/dora", "metrics.mo", params=params).json()
    assert dora["filter"].get("department") is None  # change figures ignore departments


def test_a_bad_period_or_week_is_a_422_naming_the_rule(api: Api) -> None:
    bad = api.get("/api/metrics/throughput", "metrics.mo", params={"period": "someday"})
    assert bad.status_code == 422
    assert bad.json()["rule"] == "invalid_period"
    ancient = api.get("/api/metrics/throughput", "metrics.mo", params={"as_of": "0001-01-01"})
    assert ancient.json()["rule"] == "date_out_of_range"
    far = api.get(
        "/api/metrics/forecasts/backlog", "rm", params={"as_of": "0001-01-02", "by": "0002-01-01"}
    )
    assert far.json()["rule"] == "date_out_of_range"
    assert api.get("/api/metrics/reports/weekly/0001-W01", "rm").status_code == 422
    week = api.get("/api/metrics/reports/weekly/2026-W60", "metrics.mo")
    assert week.status_code == 422
    assert week.json()["rule"] == "invalid_week"


def test_figures_as_of_a_day_still_to_come_are_a_422(api: Api) -> None:
    """Open work would be aged, and forecasts drawn, from days not yet lived."""
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    for path, params in (
        ("/api/metrics/work-in-progress", {"as_of": tomorrow}),
        ("/api/metrics", {"as_of": tomorrow}),
        ("/api/metrics/forecasts", {"as_of": tomorrow}),
        ("/api/metrics/forecasts/backlog", {"as_of": tomorrow, "by": "2999-01-01"}),
    ):
        future = api.get(path, "metrics.mo", params=params)
        assert future.status_code == 422, path
        assert future.json()["rule"] == "as_of_in_future"
        assert "is after today" in future.json()["detail"]
    today = api.get("/api/metrics/work-in-progress", "metrics.mo")
    assert today.status_code == 200


def test_a_period_not_begun_is_a_422_not_a_page_of_zeros(api: Api) -> None:
    """`comparison?period=2027` answered 200: 2026's deliveries against 2027's none,
    -100%. A period under way is measured so far, as before."""
    today = datetime.now(api.platform.settings.zone).date()
    later = api.get("/api/metrics/comparison", "metrics.mo", params={"period": str(today.year + 1)})
    assert later.status_code == 422
    assert later.json()["rule"] == "period_in_future"
    assert f"begins {today.year + 1}-01-01, after today" in later.json()["detail"]
    before = api.get(
        "/api/metrics/throughput",
        "metrics.mo",
        params={"period": str(today.year), "as_of": f"{today.year - 1}-06-30"},
    )
    assert before.json()["rule"] == "period_in_future"
    under_way = api.get("/api/metrics/comparison", "metrics.mo", params={"period": today.year})
    assert under_way.status_code == 200


def test_a_week_not_begun_is_a_422_and_the_week_under_way_is_reported_so_far(api: Api) -> None:
    today = datetime.now(api.platform.settings.zone).date()  # the business day
    year, week, _ = (today + timedelta(days=14)).isocalendar()
    later = api.get(f"/api/metrics/reports/weekly/{year}-W{week:02d}", "rm")
    assert later.status_code == 422
    assert later.json()["rule"] == "week_in_future"
    year, week, weekday = today.isocalendar()
    now = api.get(f"/api/metrics/reports/weekly/{year}-W{week:02d}", "rm")
    assert now.status_code == 200
    so_far = f", so far: to {today.isoformat()})" if weekday < 7 else ")"
    assert now.text.splitlines()[0].endswith(so_far)


def test_weekly_report_as_markdown_and_html(api: Api) -> None:
    march_history(api.platform)
    office = Office(api.platform)
    wanted = office.submit("2026-03-02 09:00", title="Foxtrot", desired_date="2026-03-12")
    office.accept(wanted, "2026-03-03 09:00")
    markdown = api.get("/api/metrics/reports/weekly/2026-W11", "rm")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "# Weekly status report — 2026-W11" in markdown.text
    # Each request by the reference intake gives it (Foxtrot is the fifth submitted).
    assert "- REQ-1 Alpha — Sales — 2026-03-10" in markdown.text.splitlines()  # a line each
    assert "## Unauthorised changes (0)" in markdown.text
    assert "| REQ-5 Foxtrot | Sales | 2026-03-12 (overdue) |" in markdown.text
    for loose in ("2026-w11", "2026-W9"):  # as people write a week too
        said = api.get(f"/api/metrics/reports/weekly/{loose}", "rm")
        assert said.status_code == 200, said.text
        assert said.text.startswith(f"# Weekly status report — 2026-W{loose[6:]:0>2} (")
    html = api.get("/api/metrics/reports/weekly/2026-W10", "rm", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "<h2>Unauthorised changes (1)</h2>" in html.text


def test_the_exported_weekly_report_names_things_as_the_page_does(api: Api) -> None:
    """Categories and triage decisions by their names, the change failure rate as a
    percentage, instants in business time (it showed `business_project`, `accepted`, a
    bare 1 and `2026-03-07T08:00:00.000000+00:00`)."""
    march_history(api.platform)  # its failed change was completed in W10
    for fmt in ("markdown", "html"):
        text = api.get("/api/metrics/reports/weekly/2026-W10", "rm", params={"format": fmt}).text
        assert "Charlie — Sales — Business project" in text
        assert "Charlie — Sales — Accepted" in text
        assert "business_project" not in text
    markdown = api.get("/api/metrics/reports/weekly/2026-W10", "rm").text
    assert "| Change failure rate | - | 100% | - |" in markdown.splitlines()  # before, W10
    # Instants in the business time zone (UTC here; Berlin below), not as stored.
    assert "- 2026-03-07 08:00 UTC — CRM 9.1 by jenkins" in markdown.splitlines()
    report = MetricsQueries(MetricsViews(api.platform.log)).weekly("2026-W10", 0)
    berlin = render_weekly(report, "html", ZoneInfo("Europe/Berlin"))
    assert "<li>2026-03-07 09:00 CET — CRM 9.1 by jenkins</li>" in berlin


def test_a_title_in_the_markdown_report_reads_as_written_not_as_markup(api: Api) -> None:
    """A `|` in a title added a column to the at-risk table; `*bold*`, a link and a
    `<script>` passed into the Markdown as markup, and a line break split the line."""
    march_history(api.platform)
    office = Office(api.platform)
    title = "Pipe | test *bold* <b>x</b> & [link](http://evil)"
    wanted = office.submit("2026-03-02 09:00", title=title, desired_date="2026-03-12")
    office.accept(wanted, "2026-03-03 09:00")
    markdown = api.get("/api/metrics/reports/weekly/2026-W11", "rm").text
    escaped = r"Pipe \| test \*bold\* \<b\>x\</b\> \& \[link\](http://evil)"
    assert f"\n| REQ-5 {escaped} | Sales | 2026-03-12 (overdue) | " in markdown
    html = api.get("/api/metrics/reports/weekly/2026-W11", "rm", params={"format": "html"})
    assert "Pipe | test *bold* &lt;b&gt;x&lt;/b&gt; &amp; [link](http://evil)" in html.text


def test_forecasts_for_each_accepted_request_and_the_backlog(api: Api) -> None:
    ids = march_history(api.platform)
    everything = get(api, "/forecasts", seed=3)
    assert [i["id"] for i in everything["items"]] == [ids["charlie"]]
    one = get(api, f"/forecasts/{ids['charlie']}", seed=3)
    assert one["forecast"] == everything["items"][0]["forecast"]
    by_reference = get(api, f"/forecasts/{one['reference'].lower()}", seed=3)
    assert by_reference["forecast"] == one["forecast"]
    assert one["forecast"]["p50"] is not None
    missing = api.get(f"/api/metrics/forecasts/{ids['alpha']}", "rm", params=MARCH)
    assert missing.status_code == 404
    backlog = get(api, "/forecasts/backlog", by="2026-06-30")
    assert backlog["backlog"] == 1
    assert backlog["p95"] <= backlog["p50"]
    before = api.get("/api/metrics/forecasts/backlog", "metrics.mo",
                     params={**MARCH, "by": "2026-01-01"})  # fmt: skip
    assert before.status_code == 422
    assert before.json()["detail"] == (
        f"`by` (2026-01-01) must be on or after the as-of date ({MARCH['as_of']})"
    )


def test_forecast_accuracy_judges_the_forecasts_made_each_week_of_a_period(api: Api) -> None:
    """March's weeks: nothing was delivered before 10 March, so the forecasts of 1, 2 and
    9 March were never made; those of 16, 23 and 30 March gave Delta (delivered on 20
    March, well before any of its dates) and Charlie (still open) four forecasts, of
    which only Delta's came true."""
    march_history(api.platform)
    judged = get(api, "/forecasts/accuracy", unit="week", seed=3)
    assert judged["period"]["label"] == "2026-03"
    assert judged["forecast_days"] == [
        "2026-03-01", "2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"
    ]  # fmt: skip
    assert judged["days_without_forecasts"] == ["2026-03-01", "2026-03-02", "2026-03-09"]
    for confidence in judged["confidences"]:
        assert confidence["judged"] + confidence["pending"] == 4
        assert confidence["came_true"] == 1
    by_day = api.get("/api/metrics/forecasts/accuracy", "metrics.mo",
                     params={"period": "2026-03", "unit": "day"})  # fmt: skip
    assert by_day.status_code == 422
    too_many = api.get("/api/metrics/forecasts/accuracy", "metrics.mo",
                       params={"period": "2020..2025", "unit": "week"})  # fmt: skip
    assert too_many.status_code == 422
    assert too_many.json()["rule"] == "too_many_forecasts"
    assert too_many.json()["detail"].endswith(
        "at most 60: judge them by month or quarter, or a shorter period"
    )


def test_forecasts_are_judged_one_check_at_a_time(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two checks asked at once: the second waits for the first (each makes up to 60
    whole forecasts; run together they only slowed every other question)."""
    queries = MetricsQueries(MetricsViews(api.platform.log))
    running: list[int] = []
    at_once = [0]

    def judge(*args: Any, **kwargs: Any) -> dict[str, Any]:
        running.append(1)
        at_once[0] = max(at_once[0], len(running))
        time.sleep(0.05)
        running.pop()
        return {}

    monkeypatch.setattr(application, "forecast_accuracy", judge)
    question = queries.question("2026-03", None, "week")
    checks = [threading.Thread(target=queries.forecast_accuracy, args=(question,))
              for _ in range(3)]  # fmt: skip
    for check in checks:
        check.start()
    for check in checks:
        check.join()
    assert at_once == [1]


def test_comparison_of_a_period_with_the_one_before(api: Api) -> None:
    march_history(api.platform)
    table = get(api, "/comparison")
    assert table["previous"]["period"]["label"] == "2026-02-01..2026-02-28"
    assert (table["previous"]["delivered"], table["current"]["delivered"]) == (0, 3)


def test_a_filter_that_matches_nothing_of_the_period_is_noted_not_only_zero(api: Api) -> None:
    """A department or subsystem typed wrong gives zeros everywhere: the answer says so,
    and names the period's departments; a filter that matches has no notes."""
    march_history(api.platform)
    typo = get(api, "/flow-times", department="Slaes")
    assert typo["cycle_time_days"]["count"] == 0
    [note] = typo["notes"]
    assert note.startswith("no request of this period is from 'Slaes', so the figures are zero")
    assert "Sales" in note
    assert "notes" not in get(api, "/flow-times", department="sales")
    [subsystem] = get(api, "/dora", subsystem="Bilin")["notes"]
    assert "'Bilin'" in subsystem
    assert "subsystems touched in it: " in subsystem  # the ones it could have meant
    assert "Billing" in subsystem.split("subsystems touched in it: ")[1]
    assert "notes" not in get(api, "/throughput")


def test_a_forecast_for_a_department_nothing_is_from_is_noted_not_only_zero(api: Api) -> None:
    """The backlog forecast and the forecasts of requests say a department typed wrong,
    as the other metrics do, instead of answering zeros alone."""
    march_history(api.platform)
    backlog = get(api, "/forecasts/backlog", by="2026-06-30", department="Nope")
    assert backlog["backlog"] == 0
    [note] = backlog["notes"]
    assert note.startswith("no request of this period is from 'Nope'")
    [same] = get(api, "/forecasts", department="Nope")["notes"]
    assert same == note
    assert "notes" not in get(api, "/forecasts/backlog", by="2026-06-30")
