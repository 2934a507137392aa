"""`railyard replay`, `railyard report weekly`, `railyard import requests` and
`railyard demo`: the metrics consumer's and the operator's commands."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from railyard.console import err, out, print_rows, say
from railyard.demo import DEMO_PASSWORD, Demo, DemoTooLate, give_passwords
from railyard.import_run import RequestImport, RowOutcome
from railyard.importer import Defaults, Reader
from services.metrics.application import MetricsQueries, twelve_months_to
from services.metrics.domain.calendar import UNITS, check_as_of, check_begun, parse_period
from services.metrics.domain.overview import replayed
from services.metrics.domain.records import Filter
from services.metrics.pages.asked import CATEGORIES, CLASSES_OF_SERVICE
from services.metrics.replay import ReplayError, ReplayState, replay, service_time_zone
from services.metrics.report import FORMATS, render_weekly
from services.metrics.views import MetricsViews
from shared.domain import DomainError
from shared.platform import Platform
from shared.settings import SettingsError, load_settings

PlatformFactory = Callable[..., AbstractContextManager[Platform]]

CHECKPOINT_PAGES = 25


def _fail(message: str, code: int = 1) -> typer.Exit:
    say(f"{message}", "red")
    return typer.Exit(code)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else load_settings().zone
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(f"unknown time zone {name!r}", 2) from None
    except SettingsError as exc:
        raise _fail(str(exc), 2) from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--as-of {text!r}: a date is written YYYY-MM-DD") from None


def _writable(output: Path | None) -> None:
    """Where the result will go, checked before the work: a directory that is not there
    was said only after the whole feed had been read and folded."""
    if output is None:
        return
    folder = output.parent
    if output.is_dir():
        raise _fail(f"cannot write {output}: it is a directory; name a file in it", 2)
    if not folder.is_dir():
        raise _fail(f"cannot write {output}: there is no directory {folder}", 2)
    if not os.access(folder, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise _fail(f"cannot write {output}: this user may not write there", 2)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        out.print(text, soft_wrap=True, markup=False, highlight=False)
    else:
        try:
            output.write_text(text)
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror}", 2) from None
        err.print(f"written to {output}")


def register(app: typer.Typer, platform: PlatformFactory, actor: Callable[[], str]) -> None:
    """Add the metrics commands to the `railyard` CLI."""
    report_app = typer.Typer(help="Reports for stakeholders.", no_args_is_help=True)
    import_app = typer.Typer(help="Import existing history.", no_args_is_help=True)
    app.add_typer(report_app, name="report")
    app.add_typer(import_app, name="import")
    app.command("replay")(replay_command)
    report_app.command("weekly")(_weekly_command(platform))
    import_app.command("requests")(_import_command(platform, actor))
    app.command("demo")(_demo_command(platform))


def replay_command(
    url: Annotated[str, typer.Option(envvar="RAILYARD_URL", help="The service's base URL.")],
    token: Annotated[str, typer.Option(envvar="RAILYARD_TOKEN", help="A metrics_reader's token.")],
    position_file: Annotated[
        Path | None,
        typer.Option(help="Resume from and save to this file (position and folded facts)."),
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write the JSON here.")] = None,
    period: Annotated[str | None, typer.Option(help="e.g. 2026, 2026-Q4, 2025-12..2026-11")] = None,
    unit: Annotated[str, typer.Option(help=f"One of {', '.join(UNITS)}.")] = "week",
    as_of: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD; default today in the business time zone.")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="Business time zone; default the service's, as its feed says (else"
            " RAILYARD_TIMEZONE)."
        ),
    ] = None,
    department: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option(help=f"One of {', '.join(CATEGORIES)}.")] = None,
    subsystem: Annotated[str | None, typer.Option()] = None,
    class_of_service: Annotated[
        str | None, typer.Option(help=f"One of {', '.join(CLASSES_OF_SERVICE)}.")
    ] = None,
    page_size: Annotated[
        int,
        typer.Option(
            min=10,
            max=10_000,
            help="Events per page; at most the service's RAILYARD_FEED_MAX_PAGE (1000 by default).",
        ),
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Forecast seed.")] = 0,
) -> None:
    """Rebuild every metric locally from the event feed, and print them as JSON."""
    for value, allowed, what in (
        (category, CATEGORIES, "category"),
        (class_of_service, CLASSES_OF_SERVICE, "class of service"),
    ):
        if value is not None and value not in allowed:  # as the service refuses them
            raise _fail(f"{what} is one of {', '.join(allowed)}, not {value!r}", 2)
    chosen = _zone(timezone) if timezone else None
    _writable(output)
    try:
        state = ReplayState.load(position_file) if position_file else ReplayState()
    except ReplayError as exc:
        raise _fail(str(exc)) from None
    before = state.events
    headers = {"Authorization": f"Bearer {token}"}
    pages = {"n": 0}

    def checkpoint(current: ReplayState) -> None:
        pages["n"] += 1
        if position_file is not None and pages["n"] % CHECKPOINT_PAGES == 0:
            current.save(position_file)

    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    failed: ReplayError | None = None
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        # The service's zone (its feed says it) and defaults, so the same options give
        # the same document; what can be refused is refused before the feed is read.
        try:
            zone = chosen or _zone(service_time_zone(client))
        except ReplayError as exc:
            raise _fail(str(exc)) from None
        try:
            today = datetime.now(zone).date()
            day = _day(as_of) if as_of else today
            check_as_of(day, today)
            asked = parse_period(period) if period else twelve_months_to(day)
            check_begun(asked, day, today)
            span = asked.to_date(day)
        except ValueError as exc:
            raise _fail(str(exc), 2) from None
        if unit not in UNITS:
            raise _fail(f"unit is one of {', '.join(UNITS)}", 2)
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task("feed", total=None, completed=state.position)
            try:
                replay(
                    client,
                    state,
                    page_size=page_size,
                    progress=lambda position, head, _: bar.update(
                        task, completed=position, total=max(head, position)
                    ),
                    checkpoint=checkpoint,
                )
            except ReplayError as exc:
                failed = exc  # said once the bar is closed, as the last line
    if position_file is not None and state.events != before:
        state.save(position_file)
    if failed is not None:
        raise _fail(f"{failed} (read up to position {state.position})")
    flt = Filter(department, category, subsystem, class_of_service)
    metrics = replayed(state.history, span, unit, flt, zone, day, seed=seed)
    new = state.events - before
    resumed = f" ({new} new since the position file's {before})" if before else ""
    err.print(
        f"folded {state.events} events{resumed} up to position {state.position},"
        f" days counted in {getattr(zone, 'key', zone)}",
        soft_wrap=True,
    )
    _write(orjson.dumps(metrics, option=orjson.OPT_INDENT_2).decode(), output)


def _weekly_command(platform: PlatformFactory) -> Callable[..., None]:
    def weekly(
        week: Annotated[
            str | None, typer.Option(help="ISO week, e.g. 2026-W47; default the last whole one.")
        ] = None,
        format: Annotated[str, typer.Option(help="markdown or html.")] = "markdown",
        output: Annotated[Path | None, typer.Option(help="Write the report here.")] = None,
        seed: Annotated[int, typer.Option(help="Forecast seed.")] = 0,
    ) -> None:
        """The weekly status report of an ISO week, as Markdown or HTML.

        What was submitted, triaged, delivered and slipped, what is at risk, unauthorised
        changes, and the key figures against the week before."""
        if format not in FORMATS:
            raise _fail(f"format is one of {', '.join(FORMATS)}", 2)
        _writable(output)
        with platform(existing=True) as built:
            views = MetricsViews(built.log)
            views.group.catch_up()
            queries = MetricsQueries(views)
            report = queries.weekly(week or queries.last_week(), seed)
        _write(render_weekly(report, format, queries.zone), output)

    return weekly


def _import_command(platform: PlatformFactory, actor: Callable[[], str]) -> Callable[..., None]:
    def import_requests(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        dry_run: Annotated[
            bool, typer.Option(help="Report what would happen; write nothing.")
        ] = False,
        department: Annotated[str | None, typer.Option(help="For rows without one.")] = None,
        subsystem: Annotated[str | None, typer.Option(help="For rows without one.")] = None,
        owner: Annotated[
            str | None, typer.Option(help="IT owner (it_staff user) for accepted work.")
        ] = None,
        category: Annotated[str, typer.Option(help="For rows without one.")] = "change_maintenance",
        month_first: Annotated[
            bool,
            typer.Option(
                help="Numeric dates are month/day/year (a US export), not day/month/year."
            ),
        ] = False,
        encoding: Annotated[
            str,
            typer.Option(
                help="The file's character encoding: cp1252 or latin-1 for a spreadsheet's"
                " CSV saved on Windows."
            ),
        ] = "utf-8",
    ) -> None:
        """Import existing requests from CSV (Railyard's columns or a Jira export).

        Exits 1 when any row is rejected (after importing the rest)."""
        # Into the store the service reads: a mistyped RAILYARD_DATA_DIR made a new one.
        first = "; to import into a new store there, run `railyard migrate` first"
        with platform(existing=True, new_store=first) as built:
            run = RequestImport(built, f"{actor()} (import)")
            try:
                # A bad --subsystem or --owner is a usage error, said once before any row.
                defaults = Defaults(department, subsystem, owner, category)
                reader = Reader(
                    built.settings, defaults, month_first=month_first, encoding=encoding
                )
                if owner:
                    run.check_owner(owner)
            except DomainError as exc:
                raise _fail(f"{exc.detail} ({exc.rule})", 2) from None
            try:
                rows = list(reader.read(file))
            except DomainError as exc:
                raise _fail(f"refused ({exc.rule}): {exc.detail}") from None
            outcomes = run.run(rows, dry_run)
        for note in reader.notes:  # what the file says as a whole, before its rows
            say(note, "yellow")
        _print_outcomes(outcomes, f"{'dry run: ' if dry_run else ''}{file}")
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.result] = counts.get(o.result, 0) + 1
        out.print(", ".join(f"{n} {result}" for result, n in sorted(counts.items())) or "no rows")
        if counts.get("rejected"):
            # A script importing a file notices rows left behind; what was imported stays,
            # and importing the corrected file again adds only what is new.
            if dry_run:
                raise _fail(
                    f"{counts['rejected']} row(s) would be rejected: correct them before"
                    " importing (the other rows would be imported; nothing was written)"
                )
            raise _fail(
                f"{counts['rejected']} row(s) rejected: correct them and import the file again"
                " (rows already imported are skipped)"
            )

    return import_requests


def _print_outcomes(outcomes: list[RowOutcome], title: str) -> None:
    """Each row's outcome: on a terminal a table, piped one whole line per row."""
    print_rows(
        out,
        ("line", "key", "result", "detail"),
        [(str(o.line), o.key, o.result, o.detail) for o in outcomes],
        title=title,
        styles=["red" if o.result == "rejected" else "" for o in outcomes],
    )


def _demo_command(platform: PlatformFactory) -> Callable[..., None]:
    def demo(
        start: Annotated[
            str | None,
            typer.Option(
                help="The day its history begins (default: the first of the month five"
                " years ago); the two years start once about 325 requests are in play,"
                " and the process then keeps running up to yesterday.",
                show_default=False,
            ),
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 7,
        password: Annotated[
            str, typer.Option(help="The web pages' sign-in password of every demo person.")
        ] = DEMO_PASSWORD,
    ) -> None:
        """Generate two years of the case-study organisation and print its table.

        Every step goes through the real commands with a simulated clock; the table is
        year two against year one."""
        try:
            today = date.today()
            first = date.fromisoformat(start) if start else date(today.year - 5, today.month, 1)
        except ValueError as exc:
            raise _fail(str(exc), 2) from None
        with platform() as built:
            if built.log.head() > 0:
                where = (
                    "RAILYARD_DB_SCHEMA at a new schema"
                    if built.settings.backend == "postgres"
                    else "RAILYARD_DATA_DIR at an empty directory (make demo uses var/demo)"
                )
                raise _fail(f"the store already holds events; point {where}")
            try:
                periods = Demo(built, first, seed).run(progress=err.print, until=date.today())
            except DemoTooLate as exc:
                raise _fail(str(exc), 2) from None
            people = give_passwords(built, password)
            views = MetricsViews(built.log)
            views.group.catch_up()
            queries = MetricsQueries(views)
            q = queries.question(periods["year_two"], date.fromisoformat(periods["as_of"]), "month")
            table = queries.comparison(q)
            releases = queries.releases(q)
            after = queries.dora(q)
            before = queries.dora(queries.question(periods["year_one"], q.as_of, "month"))
        out.print(_case_study_table(table))
        for label, dora in (("Year one", before), ("Year two", after)):
            out.print(
                f"{label}: {dora['deployment_frequency']['deployments']} production changes,"
                f" change failure rate {dora['change_failure_rate']},"
                f" {dora['unauthorised_changes']['count']} unauthorised deployments."
            )
        out.print(
            f"Year two: {releases['bundles_deployed']} release bundles deployed,"
            f" on-time rate {releases['on_time_rate']}, scope churn after freeze"
            f" {releases['scope_churn_rate']}. Serve it and read /api/metrics for the rest."
        )
        out.print(
            f"In the browser, sign in as any of {', '.join(people)} with the password {password!r}."
        )

    return demo


def _case_study_table(table: dict[str, Any]) -> Table:
    view = Table("", "year one", "year two", "change", title="The case study's table")
    rows = (
        ("requests delivered", "delivered"),
        ("median cycle time (days)", "median_cycle_time_days"),
        ("client satisfaction (1-5)", "satisfaction"),
    )
    for label, key in rows:
        change = table["change_percent"][key]
        view.add_row(
            label,
            str(table["previous"][key]),
            str(table["current"][key]),
            "-" if change is None else f"{change:+.1f}%",
        )
    return view
