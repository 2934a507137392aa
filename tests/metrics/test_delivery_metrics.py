"""Release, DORA and change-control metrics, and forecasts, against hand-computed values."""

from __future__ import annotations

import uuid
from datetime import date
from zoneinfo import ZoneInfo

from services.metrics.domain.accuracy import forecast_accuracy
from services.metrics.domain.calendar import parse_period
from services.metrics.domain.delivery import (
    cab_lead_time,
    dora,
    release_metrics,
    unauthorised_changes,
)
from services.metrics.domain.forecast import forecast_requests, how_many_by, plan_order
from services.metrics.domain.records import Filter
from services.metrics.domain.weekly import parse_week, weekly_report
from shared import contracts as c
from tests.metrics.builders import Story

UTC = ZoneInfo("UTC")
ALL = Filter()
MARCH = parse_period("2026-03")


def bundle(story: Story, name: str, deploy: str, planned: str = "2026-02-01 09:00") -> str:
    bid = str(uuid.uuid4())
    story.add(
        c.BUNDLE_PLANNED,
        bid,
        planned,
        name=name,
        deploy_date=deploy,
        window_start=f"{deploy}T18:00:00+00:00",
        window_end=f"{deploy}T23:00:00+00:00",
    )
    return bid


def three_bundles_shipped(story: Story, each: int, scheduled: str | None = None) -> None:
    """Bundles 2026.01 to 2026.03 deployed on the 10th of their months, each shipping
    `each` requests accepted on 2 December (on 2 January when `scheduled` says when they
    were scheduled into their bundle; else they never were)."""
    for month in ("01", "02", "03"):
        past = bundle(story, f"2026.{month}", f"2026-{month}-10", planned="2025-12-01 09:00")
        accepted = "2026-01-02 09:00" if scheduled else "2025-12-02 09:00"
        shipped = [
            story.flow("2025-12-01 09:00", accepted, f"2026-{month}-10 19:05") for _ in range(each)
        ]
        for rid in shipped:
            if scheduled:
                story.add(c.REQUEST_SCHEDULED, past, scheduled, request_id=rid,
                          after_freeze=False)  # fmt: skip
        story.add(c.BUNDLE_DEPLOYED, past, f"2026-{month}-10 19:00", change_id=None,
                  request_ids=shipped)  # fmt: skip


def in_development_and_tested(story: Story, bundle_id: str, building: str, tested: str) -> None:
    """On 20 March, in `bundle_id`: `building` in development, `tested` through QA."""
    for rid, stages in ((building, ["in_development"]), (tested, ["in_development", "qa_passed"])):
        for stage in stages:
            story.add(c.ITEM_PROGRESSED, bundle_id, "2026-03-20 09:00", request_id=rid,
                      stage=stage)  # fmt: skip


def change(story: Story, when: str, kind: str = "normal", subsystems=("Billing",), bundle_id=None):
    cid = str(uuid.uuid4())
    story.add(
        c.CHANGE_RAISED,
        cid,
        when,
        change_type=kind,
        title=f"{kind} change",
        bundle_id=bundle_id,
        subsystems=list(subsystems),
    )
    return cid


def test_on_time_rate_and_scope_churn_after_freeze() -> None:
    """Two bundles: one deployed in its first window, one after being moved (a slip).
    The first had 2 requests at freeze, 1 added and 1 removed afterwards: churn 100%."""
    story = Story()
    a, b, x = (story.request("2026-02-01 09:00") for _ in range(3))
    for rid in (a, b, x):
        story.accept(rid, "2026-02-02 09:00")
    first = bundle(story, "2026.03", "2026-03-10")
    second = bundle(story, "2026.03b", "2026-03-12")
    story.add(c.REQUEST_SCHEDULED, first, "2026-02-03 09:00", request_id=a, after_freeze=False)
    story.add(c.REQUEST_SCHEDULED, first, "2026-02-03 09:00", request_id=b, after_freeze=False)
    story.add(c.SCOPE_FROZEN, first, "2026-03-01 09:00")
    story.add(c.REQUEST_SCHEDULED, first, "2026-03-02 09:00", request_id=x, after_freeze=True)
    story.add(c.REQUEST_UNSCHEDULED, first, "2026-03-03 09:00", request_id=b, after_freeze=True)
    story.add(c.BUNDLE_DEPLOYED, first, "2026-03-10 19:00", change_id=None, request_ids=[a, x])
    story.add(
        c.BUNDLE_MOVED, second, "2026-03-11 09:00", deploy_date="2026-03-20",
        window_start="2026-03-20T18:00:00+00:00", window_end="2026-03-20T23:00:00+00:00",
    )  # fmt: skip
    story.add(c.BUNDLE_DEPLOYED, second, "2026-03-20 19:00", change_id=None, request_ids=[])
    result = release_metrics(story.history(), MARCH, "month", UTC)
    assert result["bundles_deployed"] == 2
    assert result["on_time_rate"] == 0.5
    assert result["scope_churn_rate"] == 1.0
    assert (result["scope_added_after_freeze"], result["scope_removed_after_freeze"]) == (1, 1)


def test_a_bundle_lists_each_request_once_however_often_it_was_scheduled() -> None:
    """Scheduled twice, taken out and scheduled again, or scheduled into a bundle that
    was then cancelled: the bundle's scope names each request it holds once."""
    story = Story()
    a, b, x = (story.request("2026-02-01 09:00") for _ in range(3))
    for rid in (a, b, x):
        story.accept(rid, "2026-02-02 09:00")
    first, second = bundle(story, "2026.03", "2026-03-10"), bundle(story, "2026.04", "2026-04-07")
    for rid in (a, a, b, x):
        story.add(
            c.REQUEST_SCHEDULED, first, "2026-02-03 09:00", request_id=rid, after_freeze=False
        )
    story.add(c.REQUEST_UNSCHEDULED, first, "2026-02-04 09:00", request_id=b, after_freeze=False)
    story.add(c.REQUEST_SCHEDULED, first, "2026-02-05 09:00", request_id=b, after_freeze=False)
    story.add(c.REQUEST_SCHEDULED, second, "2026-02-05 09:00", request_id=x, after_freeze=False)
    story.add(c.BUNDLE_CANCELLED, second, "2026-02-06 09:00")
    story.add(c.REQUEST_SCHEDULED, second, "2026-02-07 09:00", request_id=x, after_freeze=False)
    history = story.history()
    assert history.bundles[first].request_ids == [a, x, b]
    assert history.bundles[first].scheduled[b].startswith("2026-02-05T09:00:00")
    assert history.bundles[second].request_ids == [x]


def test_lead_time_for_changes_runs_from_scheduling_to_deployment() -> None:
    story = Story()
    rid = story.request("2026-02-01 09:00")
    story.accept(rid, "2026-02-02 09:00")
    bid = bundle(story, "2026.03", "2026-03-10")
    story.add(c.REQUEST_SCHEDULED, bid, "2026-03-01 09:00", request_id=rid, after_freeze=False)
    story.add(c.BUNDLE_DEPLOYED, bid, "2026-03-10 19:00", change_id=None, request_ids=[rid])
    result = dora(story.history(), MARCH, "month", ALL, UTC)
    assert result["lead_time_for_changes_days"]["p50"] == 10


def test_change_failure_rate_counts_distinct_failed_or_rolled_back_changes() -> None:
    """Four changes deployed: one failed, one rolled back afterwards: 50%. The failed
    one is recovered 5 hours later by a success on the same subsystem."""
    story = Story()
    ok = change(story, "2026-03-01 09:00")
    failed = change(story, "2026-03-02 09:00", subsystems=("CRM",))
    rolled = change(story, "2026-03-03 09:00", kind="release_deployment")
    fix = change(story, "2026-03-04 09:00", kind="emergency", subsystems=("CRM",))
    story.add(c.CHANGE_COMPLETED, ok, "2026-03-01 20:00", outcome="succeeded")
    story.add(c.CHANGE_COMPLETED, failed, "2026-03-04 10:00", outcome="failed")
    story.add(c.CHANGE_COMPLETED, rolled, "2026-03-05 10:00", outcome="succeeded")
    story.add(c.BUNDLE_ROLLED_BACK, str(uuid.uuid4()), "2026-03-05 12:00", change_id=rolled)
    story.add(c.CHANGE_COMPLETED, fix, "2026-03-04 15:00", outcome="succeeded")
    result = dora(story.history(), MARCH, "week", ALL, UTC)
    assert result["deployment_frequency"]["deployments"] == 4
    assert result["change_failure_rate"] == 0.5
    assert result["failed_changes"] == 2
    assert result["recovery_time_hours"]["p50"] == 5.0
    assert result["recovery_time_hours"]["unrecovered"] == 1
    crm = dora(story.history(), MARCH, "week", Filter(subsystem="CRM"), UTC)
    assert (crm["deployment_frequency"]["deployments"], crm["change_failure_rate"]) == (2, 0.5)


def test_cab_approval_lead_time_in_hours() -> None:
    story = Story()
    first = change(story, "2026-03-02 09:00")
    second = change(story, "2026-03-02 09:00", kind="emergency")
    story.add(c.CHANGE_APPROVED, first, "2026-03-04 09:00", approvers=["cab.carl"])
    story.add(c.CHANGE_APPROVED, second, "2026-03-02 10:30", approvers=["cab.carl"])
    result = cab_lead_time(story.history(), MARCH, ALL, UTC)
    assert result["approval_hours"]["p50"] == 1.5
    assert result["approval_hours"]["max"] == 48.0
    assert result["approved_by_type"] == {"emergency": 1, "normal": 1}


def test_cab_lead_time_counts_the_approval_of_the_revision_implemented() -> None:
    """Approved after 2 hours, revised (approvals voided), approved again 24 hours after
    raising: the lead time is 24 hours; a withdrawn change is never deployed."""
    story = Story()
    revised = change(story, "2026-03-02 09:00")
    story.add(c.CHANGE_APPROVED, revised, "2026-03-02 11:00", approvers=["cab.carl"])
    story.add(c.CHANGE_REVISED, revised, "2026-03-02 12:00", revision=2, subsystems=["CRM"],
              window_start=None, window_end=None, risk="low", approvals_voided=True)  # fmt: skip
    story.add(c.CHANGE_APPROVED, revised, "2026-03-03 09:00", approvers=["cab.carl"])
    withdrawn = change(story, "2026-03-02 09:00")
    story.add(c.CHANGE_WITHDRAWN, withdrawn, "2026-03-02 10:00", reason="not needed")
    history = story.history()
    assert cab_lead_time(history, MARCH, ALL, UTC)["approval_hours"]["p50"] == 24.0
    assert cab_lead_time(history, MARCH, Filter(subsystem="CRM"), UTC)["approved_by_type"] == {
        "normal": 1
    }
    assert history.changes[withdrawn].ended_at is not None


def test_unauthorised_changes_are_counted_by_when_they_were_deployed() -> None:
    story = Story()
    for n, flagged in enumerate((True, False, True)):
        story.add(
            c.DEPLOYMENT_REPORTED, str(uuid.uuid4()), "2026-03-10 09:00", pipeline="jenkins",
            subsystem="CRM", version=f"1.{n}", deployed_at=f"2026-03-0{n + 1}T08:00:00+00:00",
            claimed_change_id=None, change_id=None, unauthorised=flagged,
        )  # fmt: skip
    result = unauthorised_changes(story.history(), parse_period("2026-W10"), "day", ALL, UTC)
    assert result["count"] == 1  # 3 March is in W10, 1 March in W09
    assert [p["count"] for p in result["periods"]][1] == 1


def steady_history(days: int = 31) -> Story:
    """One request delivered every day of March, three accepted and still open."""
    story = Story()
    for day in range(1, days + 1):
        story.flow("2026-02-01 09:00", "2026-02-02 09:00", f"2026-03-{day:02d} 12:00")
    return story


def test_forecast_orders_the_plan_and_is_reproducible() -> None:
    """With one delivery every day, the n-th request in the plan ships on day n."""
    story = steady_history()
    scheduled = story.request("2026-03-01 09:00", title="in a bundle")
    story.accept(scheduled, "2026-03-02 09:00")
    ranked_second, ranked_first = (story.request("2026-03-01 09:00") for _ in range(2))
    story.accept(ranked_second, "2026-03-02 10:00")
    story.accept(ranked_first, "2026-03-02 11:00")
    story.add(c.RANKING_STARTED, "rank-sales", "2026-03-02 12:00", department="Sales")
    story.add(c.RANKING_REORDERED, "rank-sales", "2026-03-02 12:00",
              order=[ranked_first, ranked_second])  # fmt: skip
    bid = bundle(story, "2026.04", "2026-04-02")
    story.add(c.REQUEST_SCHEDULED, bid, "2026-03-03 09:00", request_id=scheduled,
              after_freeze=False)  # fmt: skip
    history = story.history()
    as_of = date(2026, 3, 31)
    assert [r.id for r in plan_order(history, as_of, UTC)] == [
        scheduled, ranked_first, ranked_second
    ]  # fmt: skip
    result = forecast_requests(history, as_of, UTC, window_days=30, seed=7)
    dates = [i["forecast"] for i in result["items"]]
    assert dates[0] == {"p50": "2026-04-01", "p85": "2026-04-01", "p95": "2026-04-01"}
    assert dates[2]["p95"] == "2026-04-03"
    assert result["items"][0]["at_risk"] is False  # bundle deploys 2 April
    assert forecast_requests(history, as_of, UTC, window_days=30, seed=7) == result
    backlog = how_many_by(history, as_of, date(2026, 4, 10), UTC, window_days=30)
    # Ten a fortnight would ship more than the three waiting: all three, not ten.
    assert (backlog["p50"], backlog["p95"], backlog["backlog"]) == (3, 3, 3)


def test_work_whose_fixed_date_has_passed_is_overdue_not_merely_at_risk() -> None:
    story = steady_history()
    late, soon = story.request("2026-03-01 09:00"), story.request("2026-03-01 09:00")
    story.accept(late, "2026-03-02 09:00", fixed="2026-03-20")
    story.accept(soon, "2026-03-02 10:00", fixed="2026-04-05")
    result = forecast_requests(story.history(), date(2026, 3, 31), UTC, window_days=30, seed=7)
    state = {i["id"]: (i["overdue"], i["at_risk"]) for i in result["items"]}
    assert state[late] == (True, True)
    assert state[soon] == (False, False)  # second in the plan: 2 April


def test_a_departments_forecast_lists_its_own_work_behind_everyone_elses() -> None:
    """Filtered to Sales, the forecast lists Sales' requests only, each still behind the
    work planned ahead of it; "how many by" counts Sales' backlog, never more than it holds."""
    story = Story()
    for day in range(1, 29):  # one delivery a day in February
        story.flow(f"2026-02-{day:02} 08:00", f"2026-02-{day:02} 09:00", f"2026-02-{day:02} 17:00")
    ahead = story.request("2026-03-01 09:00", department="Finance")
    story.accept(ahead, "2026-03-02 09:00")
    sales = story.request("2026-03-01 10:00", department="Sales")
    story.accept(sales, "2026-03-02 10:00")
    history, as_of = story.history(), date(2026, 3, 2)
    everyone = forecast_requests(history, as_of, UTC, window_days=30, seed=1)
    only_sales = forecast_requests(history, as_of, UTC, window_days=30, seed=1,
                                   flt=Filter(department="sales"))  # fmt: skip
    assert [i["id"] for i in everyone["items"]] == [ahead, sales]
    assert only_sales["items"] == [everyone["items"][1]]
    by = date(2026, 3, 3)  # about one delivery: Finance's, first in the plan
    count = how_many_by(history, as_of, by, UTC, window_days=30, flt=Filter(department="Sales"))
    assert (count["backlog"], count["p95"]) == (1, 0)
    later = how_many_by(history, as_of, date(2026, 4, 30), UTC, window_days=30,
                        flt=Filter(department="Sales"))  # fmt: skip
    assert (later["p50"], later["p95"]) == (1, 1)


def test_forecast_says_why_when_nothing_was_delivered_recently() -> None:
    story = Story()
    rid = story.request("2026-03-01 09:00")
    story.accept(rid, "2026-03-02 09:00")
    result = forecast_requests(story.history(), date(2026, 3, 31), UTC)
    assert "no deliveries" in result["reason"]
    assert result["items"][0]["forecast"]["p50"] is None


def test_weekly_report_lists_the_week_and_compares_with_the_last() -> None:
    story = Story()
    story.flow("2026-03-02 09:00", "2026-03-03 09:00", "2026-03-05 09:00")  # W10
    fresh = story.request("2026-03-10 09:00", title="new this week")  # W11
    story.add(c.REQUEST_REJECTED, fresh, "2026-03-11 09:00", reason="no")
    late = story.request("2026-03-01 09:00", title="fixed date")
    story.accept(late, "2026-03-02 09:00", cos="fixed_date", fixed="2026-03-12")
    story.flow("2026-03-09 09:00", "2026-03-09 10:00", "2026-03-13 09:00", title="done")
    report = weekly_report(story.history(), parse_week("2026-W11"), UTC)
    assert [i["title"] for i in report["submitted"]] == ["done", "new this week"]
    assert [(i["title"], i["decision"]) for i in report["triaged"]] == [
        ("done", "accepted"), ("new this week", "rejected")
    ]  # fmt: skip
    assert [i["title"] for i in report["delivered"]] == ["done"]
    assert [i["reason"] for i in report["slipped"]] == ["fixed date 2026-03-12 missed"]
    assert report["key_figures"]["this_week"]["delivered"] == 1
    assert report["key_figures"]["last_week"]["median_cycle_time_days"] == 3


def test_a_request_taken_out_of_its_bundle_slipped_and_was_not_triaged_again() -> None:
    """Accepted in W10, scheduled, then taken out of its bundle in W11 and scheduled into
    the next: W11's report lists it under slipped, naming both bundles, not under
    triaged (nobody triaged it that week)."""
    story = Story()
    rid = story.request("2026-03-02 09:00", title="pulled")
    story.accept(rid, "2026-03-03 09:00")
    bid = bundle(story, "2026.03", "2026-03-20")
    story.add(c.REQUEST_SCHEDULED, bid, "2026-03-04 09:00", request_id=rid, after_freeze=False)
    story.add(c.REQUEST_UNSCHEDULED, bid, "2026-03-10 09:00", request_id=rid,
              after_freeze=False, reason="no capacity", pulled=False)  # fmt: skip
    later = bundle(story, "2026.04", "2026-04-17")
    story.add(c.REQUEST_SCHEDULED, later, "2026-03-11 09:00", request_id=rid, after_freeze=False)
    report = weekly_report(story.history(), parse_week("2026-W11"), UTC)
    assert report["triaged"] == []
    assert [(i["title"], i["reason"]) for i in report["slipped"]] == [
        ("pulled", "taken out of release bundle 2026.03, then scheduled into 2026.04")
    ]
    earlier = weekly_report(story.history(), parse_week("2026-W10"), UTC)
    assert [(i["title"], i["decision"]) for i in earlier["triaged"]] == [("pulled", "accepted")]


def test_a_bundle_rolled_back_and_deployed_again_counts_from_its_last_deployment() -> None:
    """Rolled back on the 10th, deployed again a week later, outside its planned
    window: one bundle deployed, not on time, one roll-back recorded."""
    story = Story()
    rid = story.request("2026-02-01 09:00")
    story.accept(rid, "2026-02-02 09:00")
    bid = bundle(story, "2026.03", "2026-03-10")
    story.add(c.REQUEST_SCHEDULED, bid, "2026-03-01 09:00", request_id=rid, after_freeze=False)
    first = change(story, "2026-03-09 09:00", kind="release_deployment", bundle_id=bid)
    story.add(c.BUNDLE_DEPLOYED, bid, "2026-03-10 19:00", change_id=first, request_ids=[rid])
    story.add(c.BUNDLE_ROLLED_BACK, bid, "2026-03-10 22:00", change_id=first, reason="broke")
    story.add(c.BUNDLE_DEPLOYED, bid, "2026-03-17 19:00", change_id="again", request_ids=[rid])
    result = release_metrics(story.history(), MARCH, "month", UTC)
    assert (result["bundles_deployed"], result["rolled_back"]) == (1, 1)
    assert result["bundles"][0]["deployed_at"].startswith("2026-03-17T19:00")
    assert result["on_time"] == 0
    lead = dora(story.history(), MARCH, "month", ALL, UTC)["lead_time_for_changes_days"]
    assert lead["p50"] == 17


def test_a_forecast_of_a_past_day_reads_the_ranking_of_that_day() -> None:
    """Sales ranked A before B on 2 March and reversed it on 5 April: as of 31 March the
    plan is A then B, as of 10 April B then A (the ranking made later is not read back)."""
    story = steady_history()
    a, b = (story.request("2026-03-01 09:00") for _ in range(2))
    story.accept(a, "2026-03-02 10:00")
    story.accept(b, "2026-03-02 11:00")
    story.add(c.RANKING_STARTED, "rank-sales", "2026-03-02 12:00", department="Sales")
    story.add(c.RANKING_REORDERED, "rank-sales", "2026-03-02 12:00", order=[a, b])
    story.add(c.RANKING_REORDERED, "rank-sales", "2026-04-05 12:00", order=[b, a])
    history = story.history()
    assert [r.id for r in plan_order(history, date(2026, 3, 31), UTC)] == [a, b]
    assert [r.id for r in plan_order(history, date(2026, 4, 10), UTC)] == [b, a]


def test_unranked_work_is_forecast_in_no_promised_order() -> None:
    """One delivery a day; three requests accepted a day apart, no department ranking
    them: the plan does not say which comes first (acceptance does not), so each is
    forecast to ship on one of the next three days, 95% by the third."""
    story = steady_history()
    three = [story.request("2026-03-01 09:00") for _ in range(3)]
    for day, rid in enumerate(three, start=2):
        story.accept(rid, f"2026-03-0{day} 10:00")
    result = forecast_requests(story.history(), date(2026, 3, 31), UTC, window_days=30)
    assert [i["forecast"]["p95"] for i in result["items"]] == ["2026-04-03"] * 3
    assert [i["forecast"]["p50"] for i in result["items"]] == ["2026-04-02"] * 3


def test_work_accepted_later_that_overtook_the_queue_lately_pushes_forecasts_out() -> None:
    """One delivery a day through March. In one history everything delivered was already
    waiting on 1 March; in the other 19 requests waited then, and March's deliveries
    alternated between them and work accepted that same day (15 of 31 went to later work,
    overtaking the queue). The forecast expects that to go on: the three still waiting
    are forecast later than where the queue is served first."""
    served_first = steady_history()
    overtaken = Story()
    waiting = [overtaken.request("2025-12-01 09:00") for _ in range(19)]
    for rid in waiting:
        overtaken.accept(rid, "2025-12-02 09:00")
    for day in range(1, 32):
        when = f"2026-03-{day:02d}"
        if day % 2:
            overtaken.deliver(waiting.pop(0), f"{when} 12:00")
        else:
            overtaken.flow(f"{when} 08:00", f"{when} 09:00", f"{when} 12:00")
    for _ in range(3):
        served_first.accept(served_first.request("2025-12-01 09:00"), "2025-12-02 09:00")
    as_of = date(2026, 3, 31)
    fair = forecast_requests(served_first.history(), as_of, UTC, window_days=31)
    jumped = forecast_requests(overtaken.history(), as_of, UTC, window_days=31)
    assert (fair["overtaken_share"], jumped["overtaken_share"]) == (0.0, 0.484)
    assert [i["forecast"]["p95"] for i in fair["items"]] == ["2026-04-03"] * 3
    assert all(i["forecast"]["p95"] > "2026-04-06" for i in jumped["items"])


def test_how_many_by_a_date_counts_the_requests_own_forecasts() -> None:
    """Recent bundles shipped 3 requests each, scheduled into them 38 days (the median)
    before deploying; the upcoming one (10 April) holds one that passed QA and one in
    development, and one request is in no bundle. By 30 April only the bundle's two can
    ship, though a release ships three: 2 at every confidence, as the per-request
    forecasts say (the unplanned one cannot make a bundle 10 days away)."""
    story = Story()
    three_bundles_shipped(story, 3, scheduled="2026-01-03 09:00")
    upcoming = bundle(story, "2026.04", "2026-04-10")
    tested, building, unplanned = (story.request("2026-03-01 09:00") for _ in range(3))
    for n, rid in enumerate((tested, building, unplanned)):
        story.accept(rid, f"2026-03-02 09:0{n}")
    for rid in (tested, building):
        story.add(c.REQUEST_SCHEDULED, upcoming, "2026-03-03 09:00", request_id=rid,
                  after_freeze=False)  # fmt: skip
    in_development_and_tested(story, upcoming, building, tested)
    history, as_of = story.history(), date(2026, 3, 31)
    each = forecast_requests(history, as_of, UTC)
    by_april = [i["forecast"]["p95"] <= "2026-04-30" for i in each["items"]]
    assert by_april == [True, True, False]
    backlog = how_many_by(history, as_of, date(2026, 4, 30), UTC)
    assert (backlog["backlog"], backlog["p50"], backlog["p85"], backlog["p95"]) == (3, 2, 2, 2)


def test_a_release_can_ship_fewer_than_any_recent_one() -> None:
    """Recent bundles shipped 4, 5 and 7 requests; the next, on 10 April, holds 10. Three
    releases seen are no promise about a fourth: one falls below the smallest of three
    about a quarter of the time. So the bundle ships at least 4 of its 10 with less than
    95% confidence, and its 50% count lies among the sizes seen."""
    story = Story()
    for month, each in (("01", 4), ("02", 5), ("03", 7)):
        past = bundle(story, f"2026.{month}", f"2026-{month}-10", planned="2025-12-01 09:00")
        shipped = [
            story.flow("2025-12-01 09:00", "2025-12-02 09:00", f"2026-{month}-10 19:05")
            for _ in range(each)
        ]
        story.add(c.BUNDLE_DEPLOYED, past, f"2026-{month}-10 19:00", change_id=None,
                  request_ids=shipped)  # fmt: skip
    upcoming = bundle(story, "2026.04", "2026-04-10")
    for n in range(10):
        rid = story.request("2026-03-01 09:00")
        story.accept(rid, f"2026-03-02 09:{n:02}")
        story.add(c.REQUEST_SCHEDULED, upcoming, "2026-03-03 09:00", request_id=rid,
                  after_freeze=False)  # fmt: skip
    backlog = how_many_by(story.history(), date(2026, 3, 31), date(2026, 4, 30), UTC)
    assert backlog["p95"] < 4 <= backlog["p50"] <= 7


def four_ranked_requests() -> tuple[Story, str]:
    """One delivery a day in March; four requests accepted on 2-5 March, ranked in that
    order by Sales on 6 March: the first delivered on 1 April, the second on 3 April, the
    fourth withdrawn on 5 April. Returns the story and the third (still open)."""
    story = steady_history()
    first, second, third, dropped = (story.request("2026-03-01 09:00") for _ in range(4))
    for day, rid in enumerate((first, second, third, dropped), start=2):
        story.accept(rid, f"2026-03-0{day} 10:00")
    story.add(c.RANKING_STARTED, "rank-sales", "2026-03-06 12:00", department="Sales")
    story.add(c.RANKING_REORDERED, "rank-sales", "2026-03-06 12:00",
              order=[first, second, third, dropped])  # fmt: skip
    story.deliver(first, "2026-04-01 12:00")
    story.deliver(second, "2026-04-03 12:00")
    story.add(c.REQUEST_WITHDRAWN, dropped, "2026-04-05 12:00", reason="no longer needed")
    return story, third


def test_forecasts_are_judged_by_what_was_delivered_since() -> None:
    """One delivery a day in March. As of 31 March Sales ranked four requests: forecast
    on 1, 2, 3 and 4 April. The first came on 1 April, the second on 3 April, the third
    on 10 April; the fourth was withdrawn on 5 April, and is not judged. As of 7 April
    the third, still open, was forecast on 8 or 9 April: judged as well, it missed. So
    one of four came true at each confidence: short of 85% and 95% by more than chance,
    not of 50% (four forecasts can miss half by chance)."""
    story, third = four_ranked_requests()
    story.deliver(third, "2026-04-10 12:00")
    days = [date(2026, 3, 31), date(2026, 4, 7)]
    judged = forecast_accuracy(story.history(), days, UTC, date(2026, 4, 20), window_days=30)
    shares = {c["confidence"]: (c["came_true"], c["judged"]) for c in judged["confidences"]}
    assert shares == {50: (1, 4), 85: (1, 4), 95: (1, 4)}
    assert {c["requests"] for c in judged["confidences"]} == {3}
    assert [c["short"] for c in judged["confidences"]] == [False, True, True]


def test_forecasts_are_judged_by_what_had_happened_by_the_day_asked() -> None:
    """The same forecasts of 31 March judged on 2 April: the first, delivered on 1 April,
    came true; the others' dates (2, 3 and 4 April) were still to come, so they are
    pending, the withdrawal on 5 April not yet known."""
    story, _ = four_ranked_requests()
    history, days, asked = story.history(), [date(2026, 3, 31)], date(2026, 4, 2)
    today = forecast_accuracy(history, days, UTC, asked, window_days=30)
    assert [(c["came_true"], c["judged"], c["pending"]) for c in today["confidences"]] == [
        (1, 1, 3)
    ] * 3
    # Asked on a later day about 2 April, that day is over: the second, due then and
    # not delivered until 3 April, missed.
    past = forecast_accuracy(history, days, UTC, asked, over=True, window_days=30)
    assert [(c["came_true"], c["judged"], c["pending"]) for c in past["confidences"]] == [
        (1, 2, 2)
    ] * 3


def test_work_that_ships_in_bundles_is_forecast_on_the_bundles_dates() -> None:
    """Three bundles shipped 4 requests each in the last 90 days. Upcoming: bundle B1 on
    10 April holds 4 requests, B2 on 10 May holds 1; 2 more are accepted and unplanned.
    B1's four ship on 10 April (not at risk); B2's and the unplanned ones ship on 10 May;
    nothing ships before its own bundle."""
    story = Story()
    three_bundles_shipped(story, 4)
    b1, b2 = bundle(story, "2026.04", "2026-04-10"), bundle(story, "2026.05", "2026-05-10")
    first: list[str] = []
    second: list[str] = []
    unplanned: list[str] = []
    for group, into in ((first, b1), (second, b2), (unplanned, None)):
        for n in range({b1: 4, b2: 1, None: 2}[into]):
            rid = story.request("2026-03-01 09:00")
            story.accept(rid, f"2026-03-02 09:0{n}")  # the plan's order within a bundle
            if into:
                story.add(c.REQUEST_SCHEDULED, into, "2026-03-03 09:00", request_id=rid,
                          after_freeze=False)  # fmt: skip
            group.append(rid)
    result = forecast_requests(story.history(), date(2026, 3, 31), UTC, seed=3)
    assert result["model"] == "releases"
    when = {i["id"]: i["forecast"] for i in result["items"]}
    risk = {i["id"]: i["at_risk"] for i in result["items"]}
    april = {"p50": "2026-04-10", "p85": "2026-04-10", "p95": "2026-04-10"}
    may = {"p50": "2026-05-10", "p85": "2026-05-10", "p95": "2026-05-10"}
    assert [when[r] for r in first] == [april] * 4
    assert [risk[r] for r in first] == [False] * 4
    assert [when[r] for r in second + unplanned] == [may] * 3
    backlog = how_many_by(story.history(), date(2026, 3, 31), date(2026, 4, 30), UTC)
    assert (backlog["p50"], backlog["p95"]) == (4, 4)  # one deployment by 30 April


def test_which_work_of_a_bundle_planned_past_its_pace_slips_is_left_open() -> None:
    """Recent bundles shipped 4 requests each; the upcoming one holds 5, all scheduled,
    none started. The plan does not say which one will not make it (the order they were
    accepted in does not): each ships with the bundle in about four trials of five, so
    each one's 50% date is the bundle's and its 85% the next bundle's, at risk."""
    story = Story()
    three_bundles_shipped(story, 4)
    upcoming, _ = bundle(story, "2026.04", "2026-04-10"), bundle(story, "2026.05", "2026-05-10")
    five = [story.request("2026-03-01 09:00") for _ in range(5)]
    for n, rid in enumerate(five):
        story.accept(rid, f"2026-03-02 09:0{n}")
        story.add(c.REQUEST_SCHEDULED, upcoming, "2026-03-03 09:00", request_id=rid,
                  after_freeze=False)  # fmt: skip
    result = forecast_requests(story.history(), date(2026, 3, 31), UTC, seed=3)
    items = result["items"]
    assert [(i["forecast"]["p50"], i["forecast"]["p85"]) for i in items] == [
        ("2026-04-10", "2026-05-10")
    ] * 5
    assert [i["at_risk"] for i in items] == [True] * 5


def test_a_bundle_planned_past_its_pace_ships_its_furthest_along_work_first() -> None:
    """Recent bundles shipped 2 requests each; the upcoming one holds 4, accepted in
    order: two not started, one in development, one that passed QA. What passed QA ships
    with the bundle whatever a release's draw, and is one of the two it draws; of the
    rest the furthest along first: the one in development on the bundle's date, the two
    not started for the next, at risk (the plan's order alone put the QA-passed work
    last and forecast it to slip)."""
    story = Story()
    three_bundles_shipped(story, 2)
    upcoming, _ = bundle(story, "2026.04", "2026-04-10"), bundle(story, "2026.05", "2026-05-10")
    first, second, building, tested = (story.request("2026-03-01 09:00") for _ in range(4))
    for n, rid in enumerate((first, second, building, tested)):
        story.accept(rid, f"2026-03-02 09:0{n}")
        story.add(c.REQUEST_SCHEDULED, upcoming, "2026-03-03 09:00", request_id=rid,
                  after_freeze=False)  # fmt: skip
    in_development_and_tested(story, upcoming, building, tested)
    result = forecast_requests(story.history(), date(2026, 3, 31), UTC, seed=3)
    when = {i["id"]: i["forecast"]["p95"] for i in result["items"]}
    risk = {i["id"]: i["at_risk"] for i in result["items"]}
    order = (tested, building, first, second)
    assert [when[r] for r in order] == ["2026-04-10"] * 2 + ["2026-05-10"] * 2
    assert [risk[r] for r in order] == [False, False, True, True]


def test_work_in_no_bundle_yet_ships_no_sooner_than_scheduling_takes() -> None:
    """Recent bundles shipped two requests each, scheduled into them about 20 days before
    deploying. An accepted request in no bundle cannot make the bundle deploying in 10
    days although it has room: it is forecast for the deployment after (10 April + the
    30-day cadence)."""
    story = Story()
    for month, scheduled in (("01", "2025-12-21"), ("02", "2026-01-21"), ("03", "2026-02-18")):
        past = bundle(story, f"2026.{month}", f"2026-{month}-10", planned="2025-12-01 09:00")
        shipped = [story.request("2025-12-01 09:00") for _ in range(2)]
        for rid in shipped:
            story.accept(rid, "2025-12-02 09:00")
            story.add(c.REQUEST_SCHEDULED, past, f"{scheduled} 09:00", request_id=rid,
                      after_freeze=False)  # fmt: skip
            story.deliver(rid, f"2026-{month}-10 19:05")
        story.add(c.BUNDLE_DEPLOYED, past, f"2026-{month}-10 19:00", change_id=None,
                  request_ids=shipped)  # fmt: skip
    upcoming = bundle(story, "2026.04", "2026-04-10")
    planned, waiting = story.request("2026-03-01 09:00"), story.request("2026-03-01 09:00")
    story.accept(planned, "2026-03-02 09:00")
    story.accept(waiting, "2026-03-02 10:00")
    story.add(c.REQUEST_SCHEDULED, upcoming, "2026-03-03 09:00", request_id=planned,
              after_freeze=False)  # fmt: skip
    result = forecast_requests(story.history(), date(2026, 3, 31), UTC)
    when = {i["id"]: i["forecast"]["p95"] for i in result["items"]}
    assert (when[planned], when[waiting]) == ("2026-04-10", "2026-05-10")


def test_a_forecast_for_a_past_date_reads_the_plan_as_it_stood_that_day() -> None:
    """Scheduled into the April bundle on 3 March, which moved to 17 April on 20 March;
    moved into the May bundle (planned on 25 March) on 28 March. As of 10 March the
    request is due with April's first date; as of 22 March with its moved one; as of 31
    March with May's. A bundle planned later, a date moved later, a move made later do
    not count."""
    story = Story()
    rid = story.request("2026-03-01 09:00")
    story.accept(rid, "2026-03-02 09:00")
    april = bundle(story, "2026.04", "2026-04-10")
    story.add(c.REQUEST_SCHEDULED, april, "2026-03-03 09:00", request_id=rid, after_freeze=False)
    story.add(c.BUNDLE_MOVED, april, "2026-03-20 09:00", deploy_date="2026-04-17",
              window_start="2026-04-17T18:00:00+00:00", window_end="2026-04-17T23:00:00+00:00",
              reason="vendor patch")  # fmt: skip
    may = bundle(story, "2026.05", "2026-05-12", planned="2026-03-25 09:00")
    story.add(c.REQUEST_UNSCHEDULED, april, "2026-03-28 09:00", request_id=rid,
              after_freeze=False, reason="capacity", pulled=False)  # fmt: skip
    story.add(c.REQUEST_SCHEDULED, may, "2026-03-28 09:05", request_id=rid, after_freeze=False)
    history = story.history()

    def due(day: date) -> tuple[str | None, str | None]:
        [item] = forecast_requests(history, day, UTC)["items"]
        return item["bundle_id"], item["target_date"]

    assert due(date(2026, 3, 2)) == (None, None)  # accepted, in no bundle yet
    assert due(date(2026, 3, 10)) == (april, "2026-04-10")
    assert due(date(2026, 3, 22)) == (april, "2026-04-17")
    assert due(date(2026, 3, 31)) == (may, "2026-05-12")
    assert [r.id for r in plan_order(history, date(2026, 3, 22), UTC)] == [rid]
