"""Importing existing requests from CSV: real intake commands at the rows' original times,
a dry run that writes nothing, and a second import that imports nothing new."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from railyard import metrics_cli
from railyard.cli import app
from railyard.import_run import RequestImport
from railyard.importer import Defaults, Reader, Rejected, Row
from services.metrics.application import MetricsQueries
from services.metrics.views import MetricsViews
from shared.platform import Platform
from tests.conftest import register_people

DATA = Path(__file__).parent / "data"
OWN = (DATA / "requests.csv").read_text()

JIRA = (DATA / "jira.csv").read_text()


def importer(
    platform: Platform, text: str, tmp_path: Path, department: str | None = None
) -> tuple[list[Row | Rejected], RequestImport]:
    path = tmp_path / "requests.csv"
    path.write_text(text)
    defaults = Defaults(department=department, owner="dev.alice")
    rows = list(Reader(platform.settings, defaults).read(path))
    return rows, RequestImport(platform, "cli:test (import)")


def dry_run_details(platform: Platform, text: str, tmp_path: Path) -> dict[str, str]:
    """Each row's key and what a dry run says of it, for the Sales department."""
    rows, run = importer(platform, text, tmp_path, department="Sales")
    return {o.key: o.detail for o in run.run(rows, dry_run=True)}


def events(platform: Platform) -> int:
    return len(platform.log.entries(0, 100_000))


def test_dry_run_reports_every_row_and_writes_nothing(platform: Platform, tmp_path: Path) -> None:
    register_people(platform)
    rows, run = importer(platform, OWN, tmp_path)
    before = events(platform)
    outcomes = {o.key: o for o in run.run(rows, dry_run=True)}
    assert events(platform) == before
    assert outcomes["OLD-1"].result == "would import"
    assert outcomes["OLD-1"].detail == "delivered: submit, accept, deliver, rate"
    assert outcomes["OLD-3"].result == "rejected"
    assert "unknown_subsystem" in outcomes["OLD-3"].detail
    assert "dates_out_of_order" in outcomes["OLD-4"].detail
    assert outcomes["OLD-5"].result == "would import"


def test_import_keeps_original_times_and_a_second_import_adds_nothing(
    platform: Platform, tmp_path: Path
) -> None:
    register_people(platform)
    rows, run = importer(platform, OWN, tmp_path)
    first = {o.key: o.result for o in run.run(rows, dry_run=False)}
    assert first == {"OLD-1": "imported", "OLD-2": "imported", "OLD-3": "rejected",
                     "OLD-4": "rejected", "OLD-5": "imported"}  # fmt: skip
    written = events(platform)
    again = {o.key: o.result for o in run.run(rows, dry_run=False)}
    assert again["OLD-1"] == again["OLD-2"] == again["OLD-5"] == "already imported"
    assert events(platform) == written
    imported = [e for e in platform.log.entries(0, 100_000) if e.type.startswith("ChangeRequest")]
    assert imported[0].occurred_at.startswith("2024-01-03T09:00:00")
    queries = MetricsQueries(MetricsViews(platform.log))
    q = queries.question("2024-02", date(2024, 2, 29), "month")
    assert queries.throughput(q)["total"] == 1
    assert queries.flow_times(q)["cycle_time_days"]["p50"] == 28  # 5 Jan to 1 Feb
    assert queries.satisfaction(q)["average"] == 4.0


def test_jira_export_columns_are_understood(platform: Platform, tmp_path: Path) -> None:
    register_people(platform)
    rows, run = importer(platform, JIRA, tmp_path, department="Sales")
    outcomes = {o.key: o for o in run.run(rows, dry_run=False)}
    assert outcomes["RY-101"].result == "imported"
    assert outcomes["RY-102"].result == "imported"
    assert "subsystem_required" in outcomes["RY-103"].detail
    assert "unknown_status" in outcomes["RY-104"].detail
    delivered = [e for e in platform.log.entries(0, 100_000) if e.type == "ChangeRequest.Delivered"]
    assert [e.occurred_at[:16] for e in delivered] == ["2024-02-20T09:00"]
    submitted = [e for e in platform.log.entries(0, 100_000) if e.type == "ChangeRequest.Submitted"]
    assert "Fix version: 2024.02" in submitted[0].data["description"]
    assert submitted[1].data["category"] == "unplanned"


def test_jira_columns_by_their_short_names_are_understood(
    platform: Platform, tmp_path: Path
) -> None:
    """key, summary, created, resolved, status, fix version: Jira's columns as people
    write them by hand, in any case, read as the export's own."""
    register_people(platform)
    text = (
        "key,summary,created,resolved,status,fix version,component/s\n"
        "RY-201,Faster billing,12/Jan/24 3:45 PM,20/Feb/24 9:00 AM,Done,2024.02,Billing\n"
    )
    rows, run = importer(platform, text, tmp_path, department="Sales")
    (outcome,) = run.run(rows, dry_run=False)
    assert (outcome.key, outcome.result) == ("RY-201", "imported")
    submitted = [e for e in platform.log.entries(0, 100_000) if e.type == "ChangeRequest.Submitted"]
    assert "Fix version: 2024.02" in submitted[0].data["description"]


def test_jira_resolution_decides_how_a_closed_issue_ended(
    platform: Platform, tmp_path: Path
) -> None:
    """Closed or Resolved says only that an issue was closed: Won't Fix and Duplicate are
    rejections, not deliveries, or throughput would count them."""
    register_people(platform)
    text = (
        "Issue key,Summary,Status,Resolution,Created,Resolved,Component/s,Component/s\n"
        "AP-1,Fixed one,Closed,Fixed,01/Feb/24 9:00 AM,10/Feb/24 9:00 AM,Billing,Provisioning\n"
        "AP-2,Not ours,Closed,Won't Fix,01/Feb/24 9:00 AM,11/Feb/24 9:00 AM,Billing,\n"
        "AP-3,Same as AP-1,Resolved,Duplicate,01/Feb/24 9:00 AM,12/Feb/24 9:00 AM,Billing,\n"
        "AP-4,Still open,Open,Unresolved,01/Feb/24 9:00 AM,,Billing,\n"
        "AP-5,Gone quiet,Closed,Abandoned,01/Feb/24 9:00 AM,13/Feb/24 9:00 AM,Billing,\n"
        "AP-6,Odd,Closed,Staged,01/Feb/24 9:00 AM,14/Feb/24 9:00 AM,Billing,\n"
    )
    rows, run = importer(platform, text, tmp_path, department="Sales")
    outcomes = {o.key: o for o in run.run(rows, dry_run=True)}
    assert outcomes["AP-1"].detail == "delivered: submit, accept, deliver"
    assert outcomes["AP-2"].detail == "rejected: submit, reject"
    assert outcomes["AP-3"].detail == "rejected: submit, reject"
    assert outcomes["AP-4"].detail == "submitted: submit"
    assert outcomes["AP-5"].detail == "withdrawn: submit, withdrawn"
    assert outcomes["AP-6"].result == "rejected"
    assert "Jira resolution 'Staged' has no mapping (unknown_resolution)" in outcomes["AP-6"].detail
    run.run(rows, dry_run=False)
    submitted = [e for e in platform.log.entries(0, 100_000) if e.type == "ChangeRequest.Submitted"]
    assert submitted[0].data["subsystems"] == ["Billing", "Provisioning"]
    queries = MetricsQueries(MetricsViews(platform.log))
    assert queries.throughput(queries.question("2024-02", date(2024, 2, 29), "month"))["total"] == 1


def test_statuses_of_open_source_trackers_are_understood(
    platform: Platform, tmp_path: Path
) -> None:
    """Apache-style exports: Reopened and Patch Available are work under way, Verified a
    delivery (unless its resolution says otherwise)."""
    register_people(platform)
    text = (
        "Issue key,Summary,Status,Resolution,Created,Resolved,Component/s\n"
        "AP-11,Again,Reopened,Unresolved,01/Feb/24 09:00,,Billing\n"
        "AP-12,Patched,Patch Available,Unresolved,01/Feb/24 09:00,,Billing\n"
        "AP-13,Checked,Verified,Fixed,01/Feb/24 09:00,09/Feb/24 17:30,Billing\n"
        "AP-14,Checked no,Verified,Not A Problem,01/Feb/24 09:00,09/Feb/24 17:30,Billing\n"
        "AP-15,No date,Closed,Fixed,01/Feb/24 09:00,,Billing\n"
    )
    outcomes = dry_run_details(platform, text, tmp_path)
    assert outcomes == {
        "AP-11": "accepted: submit, accept",
        "AP-12": "accepted: submit, accept",
        "AP-13": "delivered: submit, accept, deliver",
        "AP-14": "rejected: submit, reject",
        "AP-15": "a Closed issue resolved as Fixed is delivered at its Resolved date, and"
        " this row has none (resolved_required)",
    }


def test_an_issue_that_ended_without_a_resolved_date_is_refused_whatever_its_outcome(
    platform: Platform, tmp_path: Path
) -> None:
    """A Won't Fix without a Resolved date is not rejected the day it was raised: like a
    Fixed one, the row is refused, with the reason."""
    register_people(platform)
    text = (
        "Issue key,Summary,Status,Resolution,Created,Resolved,Component/s\n"
        "AP-21,Not ours,Closed,Won't Fix,01/Feb/24 09:00,,Billing\n"
        "AP-22,Gone,Closed,Abandoned,01/Feb/24 09:00,,Billing\n"
        "AP-23,Refused,Won't Do,,01/Feb/24 09:00,,Billing\n"
        "AP-24,Parked,On Hold,,01/Feb/24 09:00,,Billing\n"
    )
    outcomes = dry_run_details(platform, text, tmp_path)
    assert outcomes == {
        "AP-21": "a Closed issue resolved as Won't Fix is rejected at its Resolved date, and"
        " this row has none (resolved_required)",
        "AP-22": "a Closed issue resolved as Abandoned is withdrawn at its Resolved date, and"
        " this row has none (resolved_required)",
        "AP-23": "a Won't Do issue is rejected at its Resolved date, and this row has none"
        " (resolved_required)",
        "AP-24": "deferred: submit, deferred",  # still open: parked, not ended
    }


def test_a_jira_server_export_footer_is_skipped_and_a_missing_resolved_column_said_once(
    platform: Platform, tmp_path: Path
) -> None:
    """Jira Server ends its CSV with a "Generated at ... using JIRA" line: not a row to
    reject. An export without the Resolved column is told so once, not only row by row."""
    register_people(platform)
    text = (
        "Issue Type,Key,Summary,Status,Resolution,Created,Updated\n"
        "Task,HAMA-895 ,Delete old releases,Closed,Fixed,22/Mar/14 07:59,22/Mar/14 16:16\n"
        "Task,HAMA-896 ,Still to do,Open,Unresolved,22/Mar/14 08:00,22/Mar/14 16:16\n"
        "Generated at Sat Mar 22 10:53:30 UTC 2014 by Someone using JIRA"
        " 6.2#6252-sha1:aa34325.,,,,,,\n"
    )
    path = tmp_path / "asf.csv"
    path.write_text(text)
    reader = Reader(platform.settings, Defaults(department="Sales", subsystem="Billing"))
    rows = list(reader.read(path))
    assert [(r.line, r.key) for r in rows] == [(2, "HAMA-895"), (3, "HAMA-896")]
    assert isinstance(rows[0], Rejected)
    assert "resolved_required" in rows[0].reason
    assert isinstance(rows[1], Row)
    assert rows[1].status == "submitted"
    assert reader.notes == [
        "the file has no Resolved column: an issue that ended (Done, Closed, Won't Fix, ...)"
        " cannot be dated and is rejected; export Resolved too",
        "line 4 is Jira's footer (Generated at ...): skipped",
    ]


def test_a_title_longer_than_a_request_allows_is_shortened_and_the_row_says_so(
    platform: Platform, tmp_path: Path
) -> None:
    register_people(platform)
    long = "Migrate " + "the billing ledger " * 15
    text = (
        "Issue key,Summary,Status,Resolution,Created,Resolved,Component/s\n"
        f"AP-31,{long},Open,Unresolved,01/Feb/24 09:00,,Billing\n"
    )
    rows, run = importer(platform, text, tmp_path, department="Sales")
    (outcome,) = run.run(rows, dry_run=True)
    assert outcome.detail == "submitted: submit; title shortened to 200 characters"
    (imported,) = run.run(rows, dry_run=False)
    assert imported.detail == "submitted; title shortened to 200 characters"
    submitted = [e for e in platform.log.entries(0, 100_000) if e.type == "ChangeRequest.Submitted"]
    assert submitted[0].data["title"] == long.strip()[:200]


def test_a_row_dated_after_today_is_rejected_naming_its_column_and_date(
    platform: Platform, tmp_path: Path
) -> None:
    """The log holds nothing after today: a row submitted, or resolved, in 2099 is
    refused in the dry run and the import alike, and nothing of it is written."""
    register_people(platform)
    own = (
        "key,title,department,subsystems,submitted_at,status,delivered_at\n"
        "F-1,future,Core,Billing,2099-01-05T10:00:00Z,submitted,\n"
        "F-2,now,Core,Billing,2024-01-05T10:00:00Z,submitted,\n"
    )
    rows, run = importer(platform, own, tmp_path)
    before = events(platform)
    for dry_run in (True, False):
        outcomes = {o.key: o for o in run.run(rows, dry_run=dry_run)}
        assert outcomes["F-1"].result == "rejected"
        assert outcomes["F-1"].detail.startswith(
            "submitted_at '2099-01-05T10:00:00Z' is after now ("
        )
        assert outcomes["F-1"].detail.endswith(
            "): the log holds nothing still to come (date_in_future)"
        )
    assert outcomes["F-2"].result == "imported"
    submitted = [e for e in platform.log.entries(before, 100_000) if e.type.endswith("Submitted")]
    assert [e.occurred_at[:4] for e in submitted] == ["2024"]
    jira = (
        "Issue key,Summary,Status,Created,Resolved,Component/s\n"
        "J-1,Later,Done,01/Feb/24 09:00,01/Feb/2099 09:00,Billing\n"
    )
    (done,) = dry_run_details(platform, jira, tmp_path).values()
    assert done.startswith("Resolved '01/Feb/2099 09:00' is after now (")


runner = CliRunner()


# A test on the command's own store (`env`) imports into one made by `railyard migrate`.
pytestmark = pytest.mark.usefixtures("store_when_env")


def test_import_command_dry_run_then_import_then_report(env: Path) -> None:
    created = runner.invoke(
        app, ["users", "create", "dev.alice", "--role", "it_staff", "--team", "development"]
    )
    assert created.exit_code == 0, created.output
    path = env / "old.csv"
    path.write_text(OWN)
    dry = runner.invoke(app, ["import", "requests", str(path), "--owner", "dev.alice", "--dry-run"])
    assert dry.exit_code == 1, dry.output  # a script notices the rows it would leave behind
    assert "2 rejected, 3 would import" in dry.stdout
    assert "2 row(s) would be rejected: correct them before importing" in dry.output
    done = runner.invoke(app, ["import", "requests", str(path), "--owner", "dev.alice"])
    assert done.exit_code == 1, done.output
    assert "3 imported, 2 rejected" in done.stdout
    twice = runner.invoke(app, ["import", "requests", str(path), "--owner", "dev.alice"])
    assert "3 already imported, 2 rejected" in twice.stdout
    good = env / "good.csv"
    good.write_text("\n".join(OWN.splitlines()[:3]) + "\n")
    clean = runner.invoke(app, ["import", "requests", str(good), "--owner", "dev.alice"])
    assert clean.exit_code == 0, clean.output
    assert "2 already imported" in clean.stdout
    report = runner.invoke(app, ["report", "weekly", "--week", "2024-W05"])
    assert report.exit_code == 0, report.output
    assert "Bill shock alerts — Sales — 2024-02-01" in report.stdout
    bad = runner.invoke(app, ["report", "weekly", "--week", "2024-13"])
    assert bad.exit_code == 2  # a bad argument, as a bad --format is
    assert "invalid_week" in bad.output
    assert "2026-W47" in bad.output  # the format to use
    nowhere = env / "no-such-dir" / "report.md"
    unwritable = runner.invoke(
        app, ["report", "weekly", "--week", "2024-W05", "--output", str(nowhere)]
    )
    assert unwritable.exit_code == 2
    assert "there is no directory" in unwritable.output
    assert "Traceback" not in unwritable.output


def test_an_import_into_a_store_that_does_not_exist_makes_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped RAILYARD_DATA_DIR: the dry run made a new empty store there and said
    what it would import into it, and the import would have gone where no server reads."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("RAILYARD_DATA_DIR", str(tmp_path / "typo"))
    path = tmp_path / "old.csv"
    path.write_text(OWN)
    for dry in (["--dry-run"], []):
        result = runner.invoke(app, ["import", "requests", str(path), *dry])
        assert result.exit_code == 1, result.output
        said = " ".join(result.output.split())
        assert "there is no event store at" in said
        assert "run `railyard migrate` first" in said
    assert not (tmp_path / "typo").exists()


def test_the_weekly_report_command_reports_the_last_whole_week_unless_told(env: Path) -> None:
    """As the web page does: no --week is the ISO week before this one (business time
    zone UTC here), whole, not the week under way."""
    year, week, _ = (datetime.now(UTC).date() - timedelta(days=7)).isocalendar()
    assert runner.invoke(app, ["migrate"]).exit_code == 0  # a store to report from
    report = runner.invoke(app, ["report", "weekly"])
    assert report.exit_code == 0, report.output
    first = report.stdout.splitlines()[0]
    assert first.startswith(f"# Weekly status report — {year}-W{week:02d} (")
    assert "so far" not in first


def test_a_file_that_is_neither_format_is_refused_readably(env: Path) -> None:
    path = env / "other.csv"
    path.write_text("name,age\nx,1\n")
    result = runner.invoke(app, ["import", "requests", str(path)])
    assert result.exit_code == 1
    assert "unknown_columns" in result.output
    assert "Traceback" not in result.output


JIRA_WITHOUT_COMPONENTS = (
    "Issue key,Summary,Status,Created,Resolved\n"
    "N-1,One,Open,01/Feb/24 09:00,\n"
    "N-2,Two,Done,01/Feb/24 09:00,02/Feb/24 09:00\n"
)


def test_an_unknown_subsystem_option_is_refused_once_before_any_row_naming_the_catalogue(
    env: Path,
) -> None:
    path = env / "jira.csv"
    path.write_text(JIRA_WITHOUT_COMPONENTS)
    command = ["import", "requests", str(path), "--department", "Core", "--subsystem", "Nope"]
    for dry_run in (["--dry-run"], []):
        result = runner.invoke(app, [*command, *dry_run])
        assert result.exit_code == 2, result.output  # a usage error, not rejected rows
        assert (
            "--subsystem 'Nope' is not in the catalogue, which holds Billing, CRM," in result.output
        )
        assert "(unknown_subsystem)" in result.output
        assert "N-1" not in result.output  # refused before any row
        assert "Traceback" not in result.output


def test_a_row_naming_a_subsystem_outside_the_catalogue_is_rejected_naming_it_and_the_catalogue(
    platform: Platform, tmp_path: Path
) -> None:
    register_people(platform)
    text = (
        "Issue key,Summary,Status,Created,Component/s,Component/s\n"
        "S-1,One,Open,01/Feb/24 09:00,Billing,Atlantis\n"
    )
    (detail,) = dry_run_details(platform, text, tmp_path).values()
    assert detail.startswith("'Atlantis' is not in the catalogue, which holds Billing, CRM, ")
    assert detail.endswith(" (unknown_subsystem)")


def test_an_unknown_owner_option_is_refused_once_naming_the_active_it_users(env: Path) -> None:
    created = runner.invoke(
        app, ["users", "create", "dev.alice", "--role", "it_staff", "--team", "development"]
    )
    assert created.exit_code == 0, created.output
    path = env / "jira.csv"
    path.write_text(JIRA_WITHOUT_COMPONENTS)
    command = ["import", "requests", str(path), "--department", "Core", "--subsystem", "Billing"]
    result = runner.invoke(app, [*command, "--owner", "nobody", "--dry-run"])
    assert result.exit_code == 2, result.output
    assert (
        "--owner 'nobody' is not an active IT user (it_staff); the active IT users are"
        " dev.alice (`railyard users list` shows every user) (unknown_owner)"
    ) in " ".join(result.output.split())
    assert "N-1" not in result.output
    assert "Traceback" not in result.output


def test_a_row_that_needs_no_owner_is_never_rejected_for_its_owner(
    platform: Platform, tmp_path: Path
) -> None:
    """A submitted request has no owner yet: a name in its owner column (or --owner) that
    is nobody's is not a reason to refuse it; accepted work is refused, with the rule."""
    register_people(platform)
    text = (
        "key,title,department,subsystems,submitted_at,accepted_at,status,owner\n"
        "O-1,Not yet,Sales,Billing,2024-01-05 10:00,,submitted,nobody\n"
        "O-2,Taken,Sales,Billing,2024-01-05 10:00,2024-01-06 10:00,accepted,nobody\n"
    )
    details = dry_run_details(platform, text, tmp_path)
    assert details == {
        "O-1": "submitted: submit",
        "O-2": "owner 'nobody' is not an active IT user (unknown_owner)",
    }


def read_rows(platform: Platform, text: str, tmp_path: Path, month_first: bool = False) -> Reader:
    path = tmp_path / "dated.csv"
    path.write_text(text)
    return Reader(platform.settings, Defaults(department="Core"), month_first=month_first)


def submitted_on(reader: Reader, tmp_path: Path) -> dict[str, str]:
    rows = list(reader.read(tmp_path / "dated.csv"))
    return {r.key: r.submitted_at.isoformat() if isinstance(r, Row) else r.reason for r in rows}


DATED = "key,title,subsystems,submitted_at\n"


def test_numeric_dates_are_day_first_unless_month_first_is_given(
    platform: Platform, tmp_path: Path
) -> None:
    """31/12/2023 can only be day-first, so the file's 05/01/2024 is 5 January; the same
    numbers month-first are 12/31/2023 and 1 May. Dots, dashes, seconds and AM/PM too."""
    text = DATED + (
        "D-1,a,Billing,31/12/2023\n"
        "D-2,b,Billing,05/01/2024 14:30\n"
        "D-3,c,Billing,05.01.2024 02:30:15 PM\n"
        "D-4,d,Billing,05-01-2024\n"
    )
    assert submitted_on(read_rows(platform, text, tmp_path), tmp_path) == {
        "D-1": "2023-12-31T00:00:00+00:00",
        "D-2": "2024-01-05T14:30:00+00:00",
        "D-3": "2024-01-05T14:30:15+00:00",
        "D-4": "2024-01-05T00:00:00+00:00",
    }
    us = DATED + "U-1,a,Billing,12/31/2023\nU-2,b,Billing,05/01/2024 2:30 PM\n"
    assert submitted_on(read_rows(platform, us, tmp_path, month_first=True), tmp_path) == {
        "U-1": "2023-12-31T00:00:00+00:00",
        "U-2": "2024-05-01T14:30:00+00:00",
    }


def test_a_file_whose_numeric_dates_cannot_be_day_first_is_refused_whole_naming_month_first(
    env: Path,
) -> None:
    """12/31/2023 is no day/month/year: the file is month-first, and its 05/01/2024 is
    1 May, not 5 January. Nothing is imported in the wrong order; --month-first reads it."""
    path = env / "us.csv"
    path.write_text(DATED + "U-1,a,Billing,05/01/2024\nU-2,b,Billing,12/31/2023\n")
    command = ["import", "requests", str(path), "--department", "Core"]
    refused = runner.invoke(app, command)
    assert refused.exit_code == 1, refused.output
    assert (
        "refused (date_order): line 3's submitted_at '12/31/2023' cannot be day/month/year,"
        " as numeric dates are read unless told: this file's numeric dates are"
        " month/day/year; import it with --month-first"
    ) in refused.output
    assert "U-1" not in refused.output  # refused before any row
    done = runner.invoke(app, [*command, "--month-first"])
    assert done.exit_code == 0, done.output
    assert "2 imported" in done.stdout
    europe = env / "eu.csv"
    europe.write_text(DATED + "E-1,a,Billing,31/12/2023\n")
    wrong = runner.invoke(app, ["import", "requests", str(europe), "--month-first"])
    assert wrong.exit_code == 1, wrong.output
    assert "import it without --month-first" in wrong.output
    mixed = env / "mixed.csv"
    mixed.write_text(DATED + "M-1,a,Billing,31/12/2023\nM-2,b,Billing,12/31/2023\n")
    both = runner.invoke(app, ["import", "requests", str(mixed), "--department", "Core"])
    assert both.exit_code == 1, both.output
    assert "the file mixes both orders" in both.output


def test_when_nothing_in_the_file_tells_day_from_month_the_import_says_how_it_read_them(
    platform: Platform, tmp_path: Path
) -> None:
    text = DATED + "A-1,a,Billing,05/01/2024\nA-2,b,Billing,07/07/2024\n"
    reader = read_rows(platform, text, tmp_path)
    assert submitted_on(reader, tmp_path)["A-1"] == "2024-01-05T00:00:00+00:00"
    assert reader.notes == [
        "nothing in the file tells whether its numeric dates are day or month first: they"
        " are read day/month/year (line 2's submitted_at '05/01/2024' is 5 January 2024);"
        " if they are month/day/year, give --month-first"
    ]
    told = read_rows(platform, text, tmp_path, month_first=True)
    assert submitted_on(told, tmp_path)["A-1"] == "2024-05-01T00:00:00+00:00"
    assert told.notes == []  # the user said which


def test_a_date_in_no_format_read_names_its_column_and_the_formats(
    platform: Platform, tmp_path: Path
) -> None:
    reader = read_rows(platform, DATED + "B-1,a,Billing,Jan 5th 2024\n", tmp_path)
    assert submitted_on(reader, tmp_path)["B-1"] == (
        "submitted_at 'Jan 5th 2024' is not a date and time: ISO 8601 (2024-01-05 10:00),"
        " Jira's 05/Jan/24 10:00 AM, or a numeric day/month/year (month/day/year with"
        " --month-first) (bad_time)"
    )


def test_piped_the_import_prints_one_whole_line_per_row_to_grep(env: Path) -> None:
    """Not a terminal: a table there is cut at 80 columns and a long reason wraps onto
    lines without its key; each row is one tab-separated line instead."""
    path = env / "long.csv"
    long_key = "LONG-" + "9" * 60
    path.write_text(
        DATED + f"{long_key},a,Atlantis,2024-01-05\nF-1,future,Billing,2099-01-05T10:00:00Z\n"
    )
    result = runner.invoke(app, ["import", "requests", str(path), "--department", "Core"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [str(path), "line\tkey\tresult\tdetail"]
    (atlantis,) = [line for line in lines if long_key in line]
    assert atlantis.startswith(f"2\t{long_key}\trejected\t'Atlantis' is not in the catalogue")
    assert atlantis.endswith("Data Warehouse (unknown_subsystem)")
    (future,) = [line for line in lines if line.startswith("3\tF-1\t")]
    assert future.endswith("the log holds nothing still to come (date_in_future)")


def test_on_a_terminal_the_import_table_shows_the_files_text_as_written(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key or a subsystem in square brackets is the file's text, not rich markup."""
    shown = io.StringIO()
    screen = Console(file=shown, force_terminal=True, width=200, color_system=None)
    monkeypatch.setattr(metrics_cli, "out", screen)
    path = env / "brackets.csv"
    path.write_text(DATED + "[X-1],a,[billing],2024-01-05\n")
    result = runner.invoke(app, ["import", "requests", str(path), "--department", "Core"])
    assert result.exit_code == 1, result.output
    assert "│ [X-1] │ rejected │ '[billing]' is not in the catalogue" in shown.getvalue()
