"""The metrics pages in-process: pictures for everyone, a requester's own department."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta

from services.metrics.application import MetricsQueries
from services.metrics.issuing import ReportIssuer
from services.metrics.pages.figures import throughput_chart
from services.metrics.views import MetricsViews
from shared import contracts as c
from tests.foreign import publish
from tests.metrics.scenario import Office, march_history, t
from tests.web.conftest import REFERENCE, Web


def test_dashboard_draws_the_charts_and_the_year_on_year_table(web: Web) -> None:
    """The release manager's dashboard has the four charts, the DORA tiles and the
    period-over-period table, for the period asked."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params={"period": "2026-03", "unit": "week"})
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 4
    for heading in ("Throughput", "Cycle time", "Cumulative flow", "Aging work in progress",
                    "DORA keys", "This period against the one before"):  # fmt: skip
        assert heading in page.text
    assert "change failure rate" in page.text
    assert "Alpha: " in page.text  # a point of the cycle-time scatterplot


def approved_change(web: Web, raised: str, approved: str) -> uuid.UUID:
    """A normal change on Billing, raised and approved at these business times."""
    change = uuid.uuid4()
    publish(web.platform.log, c.CHANGE_RAISED, change, 1, at=t(raised),
            change_type="normal", title="Patch billing", bundle_id=None,
            subsystems=["Billing"], window_start=None, window_end=None,
            requester="ops.olga", implementers=["ops.olga"], risk="low")  # fmt: skip
    publish(web.platform.log, c.CHANGE_APPROVED, change, 2, at=t(approved),
            approvers=["cab.carl"])  # fmt: skip
    return change


POINT = re.compile(r'<a href="([^"]+)" aria-label="([^":]+)(?: so far)?: (\d+)"><circle')


def test_each_throughput_point_opens_the_list_of_the_requests_it_counts(web: Web) -> None:
    """A point says 2 were delivered in week 11: its link lists those 2 (and a week with
    none, none), of the department the dashboard shows; the deliveries of the tile and
    of the comparison, and the changes deployment frequency counts, open likewise."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        for department in ("", "Sales"):
            page = client.get(
                "/dashboard", params={"period": "2026-03", "unit": "week", "department": department}
            )
            chart = page.text[page.text.index("<h2>Throughput</h2>") :]
            points = POINT.findall(chart[: chart.index("</svg>")])
            assert [label for _, label, _ in points] == [f"2026-W{w:02}" for w in range(9, 15)]
            counted = {label: int(n) for _, label, n in points}
            assert sum(counted.values()) == (3 if not department else 2)
            for href, label, n in points:
                listed = client.get(html.unescape(href))
                assert listed.status_code == 200
                assert len(REFERENCE.findall(listed.text)) == int(n), (label, href)
                if department:
                    assert "department=Sales" in href
            # The delivered tile and the comparison's deliveries open their lists too.
            tile = re.search(
                r'<a href="([^"]+)" aria-label="(\d+) delivered: the list">', page.text
            )
            assert tile is not None
            assert int(tile.group(2)) == sum(counted.values())
            table = page.text[page.text.index("This period against the one before") :]
            cells = re.findall(
                r'<td data-label="[^"]+" class="num"><a href="([^"]+)">(\d+)</a>', table
            )
            assert len(cells) == 2  # the period before and this one
            for href, n in [(tile.group(1), tile.group(2)), *cells]:
                listed = client.get(html.unescape(href))
                assert len(REFERENCE.findall(listed.text)) == int(n), href
        # Deployment frequency's changes: those completed in the period, any outcome (not
        # one completed on 2 April).
        april = approved_change(web, "2026-03-30 09:00", "2026-03-31 09:00")
        publish(web.platform.log, c.CHANGE_COMPLETED, april, 3, at=t("2026-04-02 09:00"),
                outcome="succeeded", change_type="normal", bundle_id=None, notes="")  # fmt: skip
        page = client.get("/dashboard", params={"period": "2026-03"})
        deployed = re.search(r'<a href="(/changes\?[^"]+)">(\d+) in all</a>', page.text)
        assert deployed is not None
        assert int(deployed.group(2)) >= 1
        changes = client.get(html.unescape(deployed.group(1))).text
        assert len(REFERENCE.findall(changes)) == int(deployed.group(2))
        for outside in ("completed_from=2026-04-03", "completed_to=2026-02-28"):
            assert REFERENCE.findall(client.get(f"/changes?status=all&{outside}").text) == []


def test_todays_work_in_progress_opens_as_the_list_of_it_and_a_past_days_does_not(
    web: Web,
) -> None:
    """As of today the tile's counts are what the Requests list shows now, and open it
    (in progress: accepted, whatever the stage; deferred); as of a past period's end they
    are not, and are plain numbers."""
    march_history(web.platform)  # Charlie accepted and still under way
    with web.client() as client:
        web.sign_in(client, "rm")
        today = client.get("/dashboard").text
        march = client.get("/dashboard", params={"period": "2026-03"}).text
        links = re.findall(
            r'<a href="([^"]+)" aria-label="(\d+) (in progress|deferred): the list">', today
        )
        assert [(n, what) for _, n, what in links] == [("1", "in progress"), ("0", "deferred")]
        for href, n, _ in links:
            assert len(REFERENCE.findall(client.get(html.unescape(href)).text)) == int(n)
    assert "in progress: the list" not in march


def test_the_weekly_reports_deliveries_and_deployments_open_their_lists(web: Web) -> None:
    """Both weeks' deliveries and deployments in the key figures open the lists of what
    they count (the week under way, to date, against the same days of the week before)."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        for week in ("2026-W10", "2026-W11", "2026-W12"):
            page = client.get("/dashboard/weekly", params={"week": week}).text
            figures = page[page.index("<h2>Key figures</h2>") : page.index("</table>")]
            cells = re.findall(r'class="num"><a href="([^"]+)">(\d+)</a>', figures)
            assert len(cells) == 4, week  # delivered and deployed, last week and this
            for href, n in cells:
                listed = client.get(html.unescape(href)).text
                assert len(REFERENCE.findall(listed)) == int(n), (week, href)
        w11 = client.get("/dashboard/weekly", params={"week": "2026-W11"}).text
    delivered = re.search(
        r"<td>Delivered</td>\s*<td[^>]*><a[^>]*>(\d+)</a></td>\s*<td[^>]*><a[^>]*>(\d+)<", w11
    )
    assert delivered is not None
    assert delivered.groups() == ("0", "2")  # Alpha and Bravo shipped on 10 March


def test_the_period_comparison_names_both_periods_by_their_days(web: Web) -> None:
    """ "1 Feb - 28 Feb 2026" against "1 Mar - 31 Mar 2026" (with an en dash), not an ISO
    range against what was typed: each column says which days it counts, the year once
    unless it changes."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        month = client.get("/dashboard", params={"period": "2026-03"}).text
        winter = client.get("/dashboard", params={"period": "2025-12..2026-02"}).text

    def heads(before: str, now: str) -> str:  # "1 Feb/28 Feb 2026": the days either side
        named = [" \N{EN DASH} ".join(days.split("/")) for days in (before, now)]
        return "".join(f'<th class="num">{days}</th>' for days in named)

    assert heads("1 Feb/28 Feb 2026", "1 Mar/31 Mar 2026") in month
    assert heads("1 Sep/30 Nov 2025", "1 Dec 2025/28 Feb 2026") in winter
    assert 'data-label="1 Mar \N{EN DASH} 31 Mar 2026"' in month  # the column's name on a phone


def test_durations_read_in_hours_under_two_days_and_in_days_beyond(web: Web) -> None:
    """The CAB approval and restore tiles: the API's hours, shown as hours under 48 and as
    days from there, one decimal either way; a dash when there is none."""
    march_history(web.platform)  # one change approved a day after it was raised
    for _ in range(2):  # two in April, three days after
        approved_change(web, "2026-04-06 09:00", "2026-04-09 09:00")
    with web.client() as client:
        web.sign_in(client, "rm")
        march, april = (client.get("/dashboard", params={"period": p}).text
                        for p in ("2026-03", "2026-04"))  # fmt: skip

    def tile(page: str, name: str) -> str:
        value_then_name = rf'<div class="value">((?:(?!<div).)*)</div><div class="name">{name}'
        (value,) = re.findall(value_then_name, page)
        return str(value)

    approval, restore = re.escape("CAB approval lead time (median)"), "time to restore"
    assert tile(march, approval) == "24.0<small> h</small>"
    assert tile(april, approval) == "3.0<small> d</small>"
    assert tile(march, restore) == "\N{EN DASH}"  # the failed change was never put right


def test_the_throughput_median_is_of_whole_periods_by_nearest_rank() -> None:
    """The median line is the nearest-rank one, as every percentile here (5 of 5, 9, 1
    and 7, not the upper middle 7), of the whole periods only: a week under way with 9
    so far (a release went out) leaves the median of 1, 3 and 7 at 3; it is named "so
    far", and drawn hollow at the end of a dashed segment."""

    def chart(*periods: tuple[str, int], under_way: tuple[str, int] | None = None) -> str:
        days = {"start": "2026-08-01", "end": "2026-08-31"}  # as every period has (unused)
        drawn = [{"period": p, "delivered": n, **days} for p, n in periods]
        if under_way is not None:
            drawn.append({"period": under_way[0], "delivered": under_way[1],
                          "to_date_of": under_way[0], **days})  # fmt: skip
        return str(throughput_chart({"throughput": {"periods": drawn}}))

    months = chart(("2026-08", 5), ("2026-09", 9), ("2026-10", 1), ("2026-11", 7))
    assert "median 5<" in months
    weeks = chart(("2026-W46", 1), ("2026-W47", 3), ("2026-W48", 7), under_way=("2026-W49", 9))
    assert "median 3<" in weeks
    assert "<title>2026-W49 so far: 9</title>" in weeks  # drawn hollow, its segment dashed
    assert "<title>2026-W48: 7</title>" in weeks
    assert 'stroke-dasharray="4 3"' in weeks
    assert 'stroke-dasharray="4 3"' not in months


def test_the_dashboards_json_link_answers_for_a_period_under_way(web: Web) -> None:
    """The default period (the 12 months to this one) is under way: its link names the
    whole period, which the API measures to date as the page did."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard")
        (link,) = re.findall(r'href="(/api/metrics\?[^"]+)"', page.text)
        answer = client.get(html.unescape(link))
    assert answer.status_code == 200, answer.text
    period = answer.json()["period"]
    assert period["to_date_of"] == period["label"].split(" to ")[0]


def test_aging_chart_shows_work_under_way_against_delivered_cycle_times(web: Web) -> None:
    """Each request under way at its days since acceptance, in its stage; the lines are
    the cycle times of the period's delivered work; unstarted work is not on it."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        office = Office(web.platform)
        office.submit("2026-03-20 09:00", title="Echo")  # still waiting for triage
        page = client.get("/dashboard", params={"period": "2026-03", "unit": "week"})
    aging = page.text[page.text.index("<h2>Aging work in progress</h2>") :]
    aging = aging[: aging.index("</section>")]
    assert "Charlie: 30 days since accepted, 30 in accepted" in aging  # 2 to 31 March
    assert "Echo" not in aging
    # Alpha and Bravo took 9 days (2 to 10 March), Delta 15 (6 to 20 March): the 85th and
    # 95th percentiles are equal, and share one line.
    assert ">50% 9 d<" in aging
    assert ">85%, 95% 15 d<" in aging
    assert "in progress; besides, 1 awaiting triage, 0 deferred" in page.text


def test_a_department_no_request_of_the_period_names_is_pointed_out(web: Web) -> None:
    """A name typed by hand ("Sale") would give zeros everywhere without a word: the page
    says so and lists the departments the period has, which the box also suggests."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        typo = client.get("/dashboard", params={"period": "2026-03", "department": "Sale"})
        right = client.get("/dashboard", params={"period": "2026-03", "department": "sales"})
    assert typo.status_code == 200
    assert "No request of this period is from “Sale”" in typo.text
    assert "Departments with requests in it: Customer Care, Sales." in typo.text
    assert '<option value="Sales">' in typo.text
    assert "No request of this period" not in right.text


def test_a_requester_sees_the_flow_of_their_own_department_only(web: Web) -> None:
    """A VP gets the pictures for their department, without the delivery figures, and
    cannot ask for another department's."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "vp.care")
        page = client.get("/dashboard", params={"period": "2026-03", "department": "Sales"})
    assert page.status_code == 200
    assert "Metrics: Customer Care" in page.text
    assert "DORA keys" not in page.text
    assert "Delta: " in page.text
    assert "Alpha: " not in page.text


def test_a_bad_period_is_explained_and_the_default_shown(web: Web) -> None:
    """A period that cannot be read is a message on the page, not an error page."""
    with web.client() as client:
        web.sign_in(client, "metrics.mo")
        page = client.get("/dashboard", params={"period": "last spring"})
    assert page.status_code == 422
    assert "Showing the default period instead." in page.text
    assert page.text.count('<svg class="chart"') == 4


def test_weekly_report_lists_the_week_and_its_key_figures(web: Web) -> None:
    """The weekly status report shows what was delivered in the week and the figures
    against the week before."""
    march_history(web.platform)
    office = Office(web.platform)
    wanted = office.submit("2026-03-02 09:00", title="Foxtrot", desired_date="2026-03-12")
    office.accept(wanted, "2026-03-03 09:00")
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        page = client.get("/dashboard/weekly", params={"week": "2026-W11"})
    assert page.status_code == 200
    assert "Weekly status report 2026-W11" in page.text
    delivered = page.text.split("Delivered <small>")[1].split("</section>")[0]
    assert '<span class="ref">REQ-1</span> <a href="/requests/' in delivered  # Alpha
    assert "Alpha" in delivered
    assert "Bravo" in delivered
    assert "Tue 10 Mar 2026" in delivered  # the day, as every page writes one
    figures = page.text.split("Key figures")[1].split("</table>")[0]
    assert "Median cycle time (days)" in figures  # the report's own names, as in Markdown
    assert re.search(r"Change failure rate</td>\s*<td[^>]*>(\u2013|\d+%)</td>", figures)
    assert "2026-W10" in page.text
    assert "2026-W12" in page.text
    with web.client() as client:  # written loosely, headed as ISO writes it
        web.sign_in(client, "cab.carl")
        loose = client.get("/dashboard/weekly", params={"week": "2026-w11"}).text
    assert "Weekly status report 2026-W11" in loose
    at_risk = page.text.split("At risk <small>")[1].split("</section>")[0]
    assert "Foxtrot" in at_risk
    assert "overdue</span> target Thu 12 Mar 2026, 85% by" in at_risk


def test_the_weekly_report_says_when_it_was_sent_and_what_it_said_then(web: Web) -> None:
    """Once issued, a week's report says when its subscribers got it and what it said;
    a delivery the log learnt of afterwards is pointed out, not hidden."""
    march_history(web.platform)
    issuer = ReportIssuer(web.platform.log, MetricsQueries(MetricsViews(web.platform.log)))
    assert issuer.issue_due(datetime(2026, 3, 16, 9, 0, tzinfo=UTC)) == "2026-W11"
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        sent = client.get("/dashboard/weekly", params={"week": "2026-W11"}).text
        unsent = client.get("/dashboard/weekly", params={"week": "2026-W10"}).text
        office = Office(web.platform)
        late = office.submit("2026-03-02 09:00", title="Golf")
        office.accept(late, "2026-03-03 09:00")
        office.deliver(late, "2026-03-12 09:00")
        later = client.get("/dashboard/weekly", params={"week": "2026-W11"}).text
    line = sent.split('id="issued">')[1].split("</p>")[0]
    assert line.startswith("Sent to its subscribers ")
    assert "2 delivered, 0 slipped" in line
    assert "learnt more" not in line
    assert 'id="issued"' not in unsent
    assert "(the log has learnt more of the week since)" in later


def test_the_week_under_way_is_reported_so_far_with_no_link_to_a_week_not_begun(
    web: Web,
) -> None:
    today = datetime.now(web.platform.settings.zone).date()
    this_week = "{}-W{:02d}".format(*today.isocalendar()[:2])
    next_week = "{}-W{:02d}".format(*(today + timedelta(days=7)).isocalendar()[:2])
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard/weekly", params={"week": this_week})
        later = client.get("/dashboard/weekly", params={"week": next_week})
    assert page.status_code == 200
    assert f"week={next_week}" not in page.text
    if today.isoweekday() < 7:
        assert "so far: to" in page.text
    assert later.status_code == 422
    assert "has not begun" in later.text
    assert f'href="/dashboard/weekly?week={this_week}"' in later.text  # the way back


def test_a_vp_gets_no_link_to_figures_they_cannot_open(web: Web) -> None:
    """The organisation's JSON and weekly report are for readers of the whole
    organisation: a VP's dashboard does not link to them, and the weekly page is a 403."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        dashboard = client.get("/dashboard").text
        weekly = client.get("/dashboard/weekly", params={"week": "2026-W11"})
    assert 'href="/api/metrics' not in dashboard
    assert 'href="/dashboard/weekly"' not in dashboard
    assert weekly.status_code == 403
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        assert 'href="/dashboard/weekly"' in client.get("/dashboard").text


def test_the_department_page_shows_its_delivery_forecasts(web: Web) -> None:
    """The VP's department page includes the forecast of its open work; another role
    cannot load that fragment."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        assert 'hx-get="/dashboard/forecasts/department"' in client.get("/department").text
        fragment = client.get("/dashboard/forecasts/department", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "Charlie" in fragment.text
    assert '<span class="ref">REQ-3</span>' in fragment.text  # Charlie, the third submitted
    assert "Delta" not in fragment.text
    with web.client() as client:
        web.sign_in(client, "rm")
        assert client.get("/dashboard/forecasts/department").status_code == 403


def test_the_dashboard_leaves_prometheus_its_metrics_endpoint(web: Web) -> None:
    """/metrics stays the Prometheus scrape endpoint; the pictures live at /dashboard."""
    with web.client() as client:
        scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert "railyard_http_requests_total" in scrape.text


def test_a_past_period_shows_open_work_as_it_stood_at_its_end(web: Web) -> None:
    """Looking back at March, work in progress, aging and forecasts are as of 31 March,
    not today, and the JSON link asks the API the same question."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params={"period": "2026-03", "unit": "week"})
        assert "Open work as of Tue 31 Mar 2026." in page.text
        link = re.search(r'<a href="(/api/metrics\?[^"]+)">', page.text)
        assert link
        answer = client.get(html.unescape(link.group(1)))
    assert answer.status_code == 200
    assert (answer.json()["as_of"], answer.json()["unit"]) == ("2026-03-31", "week")


def test_figures_that_leave_out_part_of_the_log_say_so(hasty_web: Web) -> None:
    """A metrics view too far behind for a read to catch it up (a rebuild or an upgrade
    under way, no worker running) is read as it stands, and the pages say how much of the
    log its figures leave out; once the worker has folded it, the notice goes."""
    web = hasty_web
    march_history(web.platform)  # some 30 events, none folded by a worker yet
    metrics = MetricsViews(web.platform.log)
    behind = metrics.group.lag()
    assert behind > 10
    with web.client() as client:
        web.sign_in(client, "rm")
        dashboard = client.get("/dashboard", params={"period": "2026-03"})
        weekly = client.get("/dashboard/weekly", params={"week": "2026-W11"})
        notice = f"These figures leave out the log's last {behind:,} events"
        assert notice in dashboard.text
        assert notice in weekly.text
        metrics.group.catch_up()  # as the worker does
        assert "These figures leave out" not in client.get("/dashboard").text


def test_satisfactions_ratings_open_the_rated_requests_with_what_was_said(web: Web) -> None:
    """The tile's "2 ratings" lists the two requests rated in March, each with its score
    and comment; the comparison's averages open the same lists; a rating given again
    later counts when it was given, as satisfaction counts it."""
    ids = march_history(web.platform)
    office = Office(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params={"period": "2026-03"}).text
        tile = re.search(r'<a href="([^"]+)" aria-label="(\d+) ratings: the list">', page)
        assert tile is not None
        assert tile.group(2) == "2"
        listed = client.get(html.unescape(tile.group(1))).text
        assert REFERENCE.findall(listed) == ["REQ-2", "REQ-1"]  # Bravo's 2 before Alpha's 4
        assert "lowest rating first" in listed
        assert "<strong>4/5</strong>" in listed
        assert "<strong>2/5</strong>" in listed
        table = page[page.index("This period against the one before") :]
        averages = re.findall(r'<a href="([^"]+)" title="The ratings behind it">', table)
        assert len(averages) == 1  # February had no ratings: a dash, nothing to open
        assert REFERENCE.findall(client.get(html.unescape(averages[0])).text) == REFERENCE.findall(
            listed
        )
        low = client.get("/requests", params={"rating": "2"}).text
        assert REFERENCE.findall(low) == ["REQ-2"]  # Bravo, delivered: any status
        office.rate(ids["bravo"], "2026-04-02 09:00", 5)  # Bravo rated again, in April
        march = client.get(html.unescape(tile.group(1))).text
        april = client.get("/requests", params={"rated_from": "2026-04-01"}).text
        api = client.get(
            "/api/requests", params={"rated_to": "2026-03-31", "rating": 4},
            headers=web.people.headers("rm"),
        ).json()  # fmt: skip
    assert REFERENCE.findall(march) == ["REQ-1"]
    assert REFERENCE.findall(april) == ["REQ-2"]
    assert "<strong>5/5</strong>" in april
    assert [r["reference"] for r in api["items"]] == ["REQ-1"]


def test_a_period_not_begun_is_said_on_the_dashboard_not_shown_as_zeros(web: Web) -> None:
    next_year = datetime.now(UTC).year + 1
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params={"period": str(next_year)})
    assert page.status_code == 422
    assert f"begins {next_year}-01-01, after today" in page.text


def test_the_weekly_page_and_its_exports_read_alike(web: Web) -> None:
    """The page read "Week before | 2026-W11 | Change" and the Markdown someone pasted
    "2026-W11 | week before | change", with the sections in another order and the change
    rounded otherwise (+10% against +9.7%)."""
    march_history(web.platform)
    sections = ["Submitted", "Triaged", "Delivered", "Slipped", "At risk", "Unauthorised"]
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard/weekly", params={"week": "2026-W11"}).text
        token = web.people.headers("rm")
        markdown = client.get("/api/metrics/reports/weekly/2026-W11", headers=token).text
        exported = client.get(
            "/api/metrics/reports/weekly/2026-W11", params={"format": "html"}, headers=token
        ).text
    for text, week_before in ((page, "Week before"), (markdown, "week before"),
                              (exported, "week before")):  # fmt: skip
        assert text.index(week_before) < text.index("2026-W11</th>" if text is not markdown
                                                    else "| 2026-W11 |")  # fmt: skip
        heading = "## " if text is markdown else "<h2>"
        found = [text.index(f"{heading}{name}") for name in sections]
        assert found == sorted(found), [n for _, n in sorted(zip(found, sections, strict=True))]
    changes = re.findall(r"[+-]\d+(?:\.\d)?%", page + markdown + exported)
    assert all(re.fullmatch(r"[+-]\d+\.\d%", c) for c in changes), changes
