"""The dashboard's filters, scope, time zone, forecasts and text alternatives, in-process
(the pictures themselves: test_metrics_pages.py)."""

from __future__ import annotations

import html
import re
from typing import get_args

from services.metrics import api
from services.metrics.domain.records import Filter
from services.metrics.pages import asked, dashboard
from services.metrics.pages.figures import CFD_COLORS
from shared.web.rendering import Templates
from tests.metrics.scenario import Office, march_history
from tests.web.conftest import REFERENCE, Web
from tests.web.test_intake_pages import submit

MARCH = {"period": "2026-03", "unit": "week"}


def more_of_march(web: Web) -> None:
    """Besides march_history (business projects on Billing and CRM, all standard): an
    unplanned fix to Provisioning for Sales, delivered in March, and one to Billing for
    Customer Care, accepted and still open; one submitted and still waiting for triage."""
    office = Office(web.platform)
    fix = office.submit("2026-03-03 09:00", title="Echo", category="unplanned",
                        subsystems=["Provisioning"])  # fmt: skip
    office.accept(fix, "2026-03-04 09:00")
    office.deliver(fix, "2026-03-16 12:00")
    billing = office.submit("2026-03-09 09:00", as_="vp.care", title="Foxtrot",
                            category="unplanned", subsystems=["Billing"])  # fmt: skip
    office.accept(billing, "2026-03-10 09:00")
    office.submit("2026-03-11 09:00", title="Golf")


def delivered(page: str) -> int:
    tile = re.search(r'aria-label="(\d+) delivered: the list"', page)
    assert tile is not None
    return int(tile.group(1))


def links_of(page: str, base: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'href="({re.escape(base)}\?[^"]+)"', page)]


def test_the_dashboards_filters_count_what_the_api_counts_and_stay_in_every_link(
    web: Web,
) -> None:
    """Category, subsystem and class of service filter the dashboard as they filter the
    API, in combination; the form shows them chosen, and every list the dashboard opens
    (a throughput point, the delivered tile, the comparison, today's open work, the
    ratings, the deployments) keeps them."""
    march_history(web.platform)
    more_of_march(web)
    asks = [
        {"category": "unplanned"},
        {"subsystem": "billing"},
        {"category": "unplanned", "subsystem": "billing"},
        {"category": "business_project", "subsystem": "Billing", "class_of_service": "standard"},
        {"department": "Sales", "category": "unplanned"},
    ]
    with web.client() as client:
        web.sign_in(client, "rm")
        assert delivered(client.get("/dashboard", params=MARCH).text) == 4
        for filters in asks:
            page = client.get("/dashboard", params=MARCH | filters).text
            api_answer = client.get("/api/metrics/throughput", params=MARCH | filters).json()
            assert delivered(page) == api_answer["total"], filters
            for name, value in filters.items():
                if name != "department":
                    chosen = re.search(
                        rf"<select id=\"f-{name}\" name=\"{name}\">.*?</select>", page, re.S
                    )
                    assert chosen is not None
                    assert re.search(rf'<option value="{value}" selected>', chosen.group(0), re.I)
            for link in links_of(page, "/requests"):
                for name, value in filters.items():
                    assert f"{name}={value}" in link, (link, filters)
                if "delivered_from" in link:
                    assert len(REFERENCE.findall(client.get(link).text)) <= api_answer["total"]
        both = MARCH | {"category": "unplanned", "subsystem": "billing"}
        page = client.get("/dashboard", params=both).text
        (deployments,) = links_of(page, "/changes")
        assert "subsystem=billing" in deployments  # change figures take the subsystem only
        (tile,) = re.findall(r'<a href="([^"]+)" aria-label="\d+ delivered: the list">', page)
        assert REFERENCE.findall(client.get(html.unescape(tile)).text) == []  # Foxtrot is open
        today = client.get("/dashboard", params={"category": "unplanned", "subsystem": "billing"})
        (in_progress,) = re.findall(
            r'<a href="([^"]+)" aria-label="1 in progress: the list">', today.text
        )
        listed = client.get(html.unescape(in_progress)).text
        assert "Foxtrot" in listed
        assert "Charlie" not in listed  # a business project
        json_link = re.search(r'href="(/api/metrics\?[^"]+)"', today.text)
        assert json_link is not None
        assert "category=unplanned&subsystem=billing" in html.unescape(json_link.group(1))


def test_a_category_class_or_subsystem_that_names_nothing_is_said_with_the_valid_ones(
    web: Web,
) -> None:
    """As a department typed by hand is: a category or class of service that does not
    exist is named, with the ones that do, and every one shown; a subsystem nothing of
    the period touches (in any case) is named, with those it does, and gives zeros."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        wrong = client.get(
            "/dashboard",
            params=MARCH | {"category": "bugs", "class_of_service": "urgent", "subsystem": "Bill"},
        ).text
        right = client.get("/dashboard", params=MARCH | {"subsystem": "bIlLiNg"}).text
    assert (
        "There is no category “bugs”: showing every category. The categories:"
        " business_project, it_project, change_maintenance, unplanned." in wrong
    )
    assert "There is no class of service “urgent”: showing every class of service." in wrong
    assert "standard, expedite, fixed_date." in wrong
    assert "Nothing of this period touches the subsystem “Bill”" in wrong
    assert "Subsystems in it: Billing, CRM." in wrong
    assert delivered(wrong) == 0
    assert "Nothing of this period touches" not in right
    assert delivered(right) == 3


def test_the_dashboards_choices_are_the_apis() -> None:
    assert get_args(api.Category) == asked.CATEGORIES
    assert get_args(api.ClassOfService) == asked.CLASSES_OF_SERVICE


def test_change_tiles_say_they_are_the_whole_organisations_when_a_request_filter_is_on(
    web: Web,
) -> None:
    """Changes belong to no department or category: with one chosen, the deployment,
    failure, restore, unauthorised and CAB tiles say whose changes they count; lead time
    for changes follows the requests shown, and says so."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        plain = client.get("/dashboard", params=MARCH).text
        sales = client.get("/dashboard", params=MARCH | {"department": "Sales"}).text
        billing = client.get(
            "/dashboard", params=MARCH | {"category": "unplanned", "subsystem": "billing"}
        ).text
        crm = client.get("/dashboard", params=MARCH | {"subsystem": "CRM"}).text
    assert "whole organisation" not in plain
    assert sales.count('<div class="scope">whole organisation</div>') == 5
    assert sales.count('<div class="scope">of the requests shown</div>') == 1
    assert billing.count("every department's changes to Billing") == 5
    assert 'class="scope"' not in crm  # the change figures are filtered as the rest


def test_the_dashboard_names_the_time_zone_its_days_are_counted_in(web: Web) -> None:
    """Once, by the period: the business time zone, and for a period still under way
    the day it is measured to."""
    march_history(web.platform)
    zone = web.platform.settings.timezone
    with web.client() as client:
        web.sign_in(client, "rm")
        march = client.get("/dashboard", params=MARCH).text
        year = client.get("/dashboard", params={"period": "2026"}).text
    assert f"days counted in the business time zone, {zone}." in march
    assert march.count("business time zone") == 1
    assert "measured to" not in march
    under_way = re.search(r"2026, measured to (\w{3} \d{1,2} \w{3}): Thu 1 Jan 2026", year)
    assert under_way is not None, year[year.index("period-shown") :][:300]


def test_the_forecasts_give_95_percent_and_how_many_by_a_date(web: Web) -> None:
    """The table has the API's 95% column; the section asks how many of the backlog will
    be delivered by a day, and answers it as the API does (50/85/95%), keeping the
    dashboard's period and filters; a day before the forecasts' is refused in place."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params=MARCH).text
        section = page[page.index('id="forecasts"') :]
        assert "<th>50%</th><th>85%</th><th>95%</th>" in section
        assert '<td data-label="95%">' in section
        form = section[section.index('id="how-many"') : section.index("</form>")]
        assert '<input type="hidden" name="period" value="2026-03">' in form
        assert 'name="by"' in form
        asked_by = client.get(
            "/dashboard", params=MARCH | {"department": "Sales", "by": "2026-06-30"}
        ).text
        api_answer = client.get(
            "/api/metrics/forecasts/backlog",
            params={"by": "2026-06-30", "as_of": "2026-03-31", "department": "Sales"},
        ).json()
        early = client.get("/dashboard", params=MARCH | {"by": "2026-03-01"}).text
    answer = re.search(
        r"By Tue 30 Jun 2026, of (\d+) requests? waiting: at least <strong>(\d+)</strong>"
        r".*?<strong>(\d+)</strong> in 85%, <strong>(\d+)</strong> in 95%",
        asked_by,
    )
    assert answer is not None
    assert tuple(map(int, answer.groups())) == tuple(
        api_answer[k] for k in ("backlog", "p50", "p85", "p95")
    )
    assert '<input type="hidden" name="department" value="Sales">' in asked_by
    assert "must be on or after the as-of date" in early


def test_the_dashboard_says_how_often_the_periods_forecasts_came_true_when_asked(
    web: Web,
) -> None:
    """Only when asked (it makes a forecast for each week of the period): the shares the
    API's forecasts/accuracy gives, with the dashboard's period, unit and filters kept,
    and an answer to how many by a date kept beside it; a unit that would make too many
    forecasts is refused in place."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        weekly = MARCH | {"unit": "week", "department": "Sales"}
        plain = client.get("/dashboard", params=weekly).text
        judged = client.get("/dashboard", params=weekly | {"judge": "true"}).text
        api_answer = client.get(
            "/api/metrics/forecasts/accuracy",
            params={"period": "2026-03", "unit": "week", "department": "Sales"},
        ).json()
        too_many = client.get(
            "/dashboard", params={"period": "2024..2026-03", "unit": "week", "judge": "true"}
        ).text
        # Each of the section's two questions keeps the other's answer when asked.
        both = client.get("/dashboard", params=weekly | {"judge": "true", "by": "2026-06-30"})
    form = plain[plain.index('id="came-true"') :]
    form = form[: form.index("</form>")]
    assert '<input type="hidden" name="department" value="Sales">' in form
    assert '<input type="hidden" name="unit" value="week">' in form
    assert "Still to be seen" not in plain
    rows = re.findall(
        r"<td>(\d+)% date</td><td data-label=\"Judged\">(\d+)</td>"
        r"<td data-label=\"Came true\"><strong>(\d+)%</strong> \((\d+)\)</td>",
        judged,
    )
    expected = [
        (str(c["confidence"]), str(c["judged"]), str(round(c["share"] * 100)), str(c["came_true"]))
        for c in api_answer["confidences"]
    ]
    assert rows == expected
    assert "Forecasts made on 6 days, from Sun 1 Mar 2026 (3 of them" in judged
    assert "at most 60" in too_many
    how_many, came_true = (
        both.text[both.text.index(f'id="{form}"') :].split("</form>")[0]
        for form in ("how-many", "came-true")
    )
    assert '<input type="hidden" name="judge" value="true">' in how_many
    assert 'name="by" value="2026-06-30"' in how_many
    assert '<input type="hidden" name="by" value="2026-06-30">' in came_true
    assert "Still to be seen" in both.text
    assert "By Tue 30 Jun 2026" in both.text


def test_a_confidence_with_nothing_judged_yet_says_so_beside_those_judged() -> None:
    """A week whose one forecast missed its 50% date while its 85% and 95% dates are
    still to come: the 50% row has a share, the others say none is judged yet (the page
    failed with a 500 on them)."""
    rows = [
        {"confidence": 50, "judged": 1, "requests": 1, "came_true": 0, "share": 0.0,
         "pending": 0, "short": False},
        *({"confidence": c, "judged": 0, "requests": 0, "came_true": 0, "share": None,
           "pending": 1, "short": False} for c in (85, 95)),
    ]  # fmt: skip
    answer = {"forecast_days": ["2026-11-02"], "days_without_forecasts": [], "confidences": rows}
    chosen = asked.Asked(Filter(), everything=True)
    page = (
        Templates(dashboard.TEMPLATES)
        .env.get_template("_accuracy.html")
        .render(accuracy={"answer": answer}, unit="week", period="2026-11-02", asked=chosen)
    )
    assert '<td data-label="Came true"><strong>0%</strong> (0)</td>' in page
    assert page.count('<td data-label="Came true">none judged yet</td>') == 2


def test_a_forecast_planned_later_than_asked_says_what_was_asked_for() -> None:
    """Scheduled into the 15 December bundle, a request's target is the bundle's date, no
    longer overdue; the VP asked for 7 September 2025, and the list still says so. One
    planned earlier than asked says nothing more."""
    item = {"id": "r1", "reference": "REQ-1", "title": "Late", "department": "Sales",
            "target_date": "2026-12-15", "desired_date": "2025-09-07",
            "forecast": {"p50": "2026-12-15", "p85": "2027-01-19", "p95": "2027-01-19"},
            "at_risk": True, "overdue": False}  # fmt: skip
    early = item | {"id": "r2", "title": "Early", "desired_date": "2027-03-01"}
    page = (
        Templates(dashboard.TEMPLATES)
        .env.get_template("_forecasts.html")
        .render(forecasts=[item, early], forecast_model="releases", overtaken_share=0.25)
    )
    late_row, early_row = page.split("<tr><td>")[1:3]
    assert '<span class="hint">asked for Sun 7 Sep 2025</span>' in late_row
    assert "asked for" not in early_row
    assert "25% of deliveries going to work accepted after what waits now" in page


def test_every_dashboard_filter_has_a_visible_label_and_every_page_a_skip_link(
    web: Web,
) -> None:
    """Each box and choice of the dashboard's forms has a <label> with words, none named
    only by a placeholder; the shell's first link skips to the content."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params=MARCH).text
    forms = re.findall(r'<form class="filters labelled".*?</form>', page, re.S)
    assert len(forms) == 2  # the filters, and how many by a date
    for form in forms:
        tags = [t for t in re.findall(r"<(?:input|select)[^>]*>", form) if "hidden" not in t]
        fields = [re.search(r'\bid="([^"]+)"', tag) for tag in tags]
        labels = dict(re.findall(r'<label for="([^"]+)">([^<]+)</label>', form))
        assert tags
        assert all(f and labels.get(f.group(1), "").strip() for f in fields), (tags, labels)
    assert 'placeholder="2026' not in page
    body = page[page.index("<body") :]
    first_link = re.search(r"<a [^>]*>", body)
    assert first_link is not None
    assert first_link.group(0) == '<a class="skip" href="#main">'
    assert '<main id="main" tabindex="-1"' in page


def test_each_chart_has_its_figures_as_a_table(web: Web) -> None:
    """Under each picture, folded, the numbers it draws: the deliveries per week, each
    request's cycle time, the states at each week's end, each request under way."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params=MARCH).text
    tables = re.findall(r"<details class=\"figures\">.*?</details>", page, re.S)
    assert len(tables) == 4
    throughput, cycle, cfd, aging = tables
    assert re.search(
        r'<th scope="row">2026-W11</th><td data-label="Delivered" class="num">2<', throughput
    )
    assert '<th scope="row">REQ-4 Delta</th><td data-label="Delivered">Fri 20 Mar 2026' in cycle
    assert ">15</td>" in cycle
    assert '<th scope="col" class="num">delivered</th>' in cfd
    assert '<th scope="row">Tue 31 Mar 2026</th>' in cfd
    assert '<th scope="row">REQ-3 Charlie</th><td data-label="Stage">accepted' in aging


def contrast(color: str, background: str = "#ffffff") -> float:
    def luminance(hex_color: str) -> float:
        channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(color), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_cumulative_flow_colours_stand_out_from_the_card_and_from_each_other() -> None:
    """Every band's colour at least 3:1 against the white card (WCAG 1.4.11), and no two
    the same."""
    assert {s: round(contrast(c), 2) for s, c in CFD_COLORS.items() if contrast(c) < 3} == {}
    assert len(set(CFD_COLORS.values())) == len(CFD_COLORS)


def test_what_awaits_triage_opens_as_the_list_of_it(web: Web) -> None:
    """As "deferred" does: today's count of requests awaiting triage is a link to the
    requests list of them, which shows as many."""
    march_history(web.platform)
    more_of_march(web)  # Golf waits for triage
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard").text
        link = re.search(r'<a href="([^"]+)" aria-label="(\d+) awaiting triage: the list">', page)
        assert link is not None
        assert link.group(2) == "1"
        listed = client.get(html.unescape(link.group(1))).text
    assert REFERENCE.findall(listed) == ["REQ-7"]


def test_satisfaction_reads_to_two_decimals_on_the_tile_and_in_the_table(web: Web) -> None:
    """The tile and the comparison say the same average the same way: 3.00, not 3.0 and 3."""
    march_history(web.platform)  # rated 4 and 2
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params=MARCH).text
    assert re.search(r'<div class="value">3\.00</div><div class="name">satisfaction', page)
    assert 'title="The ratings behind it">3.00</a>' in page


def test_a_drill_down_of_deliveries_is_in_delivery_order_latest_first(web: Web) -> None:
    """A throughput point's list says it is the latest delivered first, and is: Delta
    (20 March, REQ-4) before Alpha and Bravo (10 March), whatever their numbers; each shows the
    day it was delivered. The deployments' list is in completion order, and says so."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params={"period": "2026-03"}).text
        (tile,) = re.findall(r'<a href="([^"]+)" aria-label="\d+ delivered: the list">', page)
        listed = client.get(html.unescape(tile)).text
        (deployments,) = links_of(page, "/changes")
        changes = client.get(deployments).text
    assert "3 requests, latest delivered first" in listed
    first, *same_day = REFERENCE.findall(listed)
    assert (first, sorted(same_day)) == ("REQ-4", ["REQ-1", "REQ-2"])  # number 4 first
    assert '<td data-label="Delivered">20 Mar 2026' in listed
    assert "latest completed first" in changes


def test_a_vp_asking_for_another_departments_figures_is_told_they_read_their_own(
    web: Web,
) -> None:
    """`?department=Customer Care` as Sales' VP showed Sales' figures without a word."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        other = client.get("/dashboard", params=MARCH | {"department": "Customer Care"}).text
        own = client.get("/dashboard", params=MARCH | {"department": "sales"}).text
    assert "You read your own department&#39;s figures (Sales), not Customer Care&#39;s" in other
    assert "your own department" not in own


def test_a_period_under_a_week_counts_deployments_rather_than_a_weekly_rate(web: Web) -> None:
    """`?period=2026-03-07` read "7.0 deployments per week (1 in all)" from one day."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        day = client.get("/dashboard", params={"period": "2026-03-07"}).text
        month = client.get("/dashboard", params=MARCH).text
    assert "deployments per week" not in day
    assert "deployments in 1 day" in day
    assert "deployments per week" in month


def test_the_dashboard_says_what_each_figure_counts(web: Web) -> None:
    """The tile "524 d median lead time" stood beside "22 d lead time for changes" undefined."""
    march_history(web.platform)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/dashboard", params=MARCH).text
        web.sign_in(client, "vp.sales")
        vp = client.get("/dashboard", params=MARCH).text
    said = page.split('id="definitions"')[1].split("</details>")[0]
    for figure in ("Cycle time", "Lead time", "Lead time for changes", "Change failure rate"):
        assert f"<dt>{figure}</dt>" in said
    assert "From submission to delivery" in said
    assert "<dt>Lead time for changes</dt>" not in vp  # a VP sees no change figures


def test_the_period_box_says_the_period_shown_and_keeps_one_typed(web: Web) -> None:
    """Asked for none, the box holds the default period the page shows, in the API's
    words; a period typed, even one refused, stays as typed."""
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        default = client.get("/dashboard").text
        typed = client.get("/dashboard", params={"period": "2026-03"}).text
        refused = client.get("/dashboard", params={"period": "last spring"}).text
    shown = re.search(r'href="/api/metrics\?period=([^&"]+)', default)
    assert shown is not None
    label = html.unescape(shown.group(1)).replace("%2E", ".")
    assert re.fullmatch(r"\d{4}-\d{2}\.\.\d{4}-\d{2}|\d{4}", label), label
    assert f'name="period" value="{label}"' in default, label
    assert 'name="period" value="2026-03"' in typed
    assert 'name="period" value="last spring"' in refused


def test_a_unit_the_dashboard_does_not_draw_is_shown_by_month_saying_why(web: Web) -> None:
    """?unit=day, which the API takes, ended on a bare 400 page ("unit: "day" is not one
    it takes") where a bad period shows the figures of the default one and says why."""
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        page = client.get("/dashboard", params={"unit": "day", "period": "2026-W47"})
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "The dashboard shows periods of a week, a month or a quarter, not 'day'" in text
    assert "Requests delivered per period" in text  # the figures, by month


def test_a_period_with_nothing_in_the_log_says_so(web: Web) -> None:
    """?period=2010 drew empty charts and zeros without a word, where a department typed
    wrong is told; the API's document says it in `notes` too."""
    submit(web)
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        empty = client.get("/dashboard", params={"period": "2010"}).text
        now = client.get("/dashboard").text
        doc = client.get("/api/metrics/throughput", params={"period": "2010"}).json()
    assert "Nothing of this period is in the log" in empty
    assert "Nothing of this period is in the log" not in now
    assert doc["notes"] == [
        "nothing of this period is in the log (no request, bundle, change or deployment"
        " lived in it), so every figure is zero"
    ]
