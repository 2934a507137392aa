"""`railyard`: serve the API, run the workers, manage people and tokens, migrate and verify
the store."""

from __future__ import annotations

import getpass
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import psycopg
import structlog
import typer
import uvicorn
from eventsourcing.persistence import DatabaseError, ProgrammingError
from uvicorn.supervisors import Multiprocess

from railyard.app import all_components, build_app
from railyard.console import err, out, say
from railyard.gate_cli import gate_app
from railyard.metrics_cli import register as register_metrics_commands
from railyard.people_cli import register as register_people_commands
from railyard.stores import name_the_store, refuse_missing_store, store_name
from railyard.verify_cli import verify
from shared.application import acting_as
from shared.domain import DomainError, InvalidCommand
from shared.http.app import followers_for
from shared.identity.domain import Role
from shared.logging import configure_logging
from shared.platform import Platform
from shared.settings import (
    Settings,
    SettingsError,
    check_port,
    load_settings,
    settings_from_environment,
)
from shared.store.errors import StoreUnavailable, connection_problem
from shared.store.migrate import grant_service_role

log = structlog.get_logger(__name__)

# Every command's exit codes (README, "Exit codes"): the command was written wrongly (a bad
# argument or option, as typer and click exit), or it ran and something failed.
EXIT_WRITTEN_WRONGLY = 2
EXIT_FAILED = 1

# How long a served worker may go without answering its supervisor before it is replaced.
WORKER_HEALTHCHECK_S = 30

app = typer.Typer(
    help="Railyard: one front door for every IT change.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(gate_app, name="gate")


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        say(f"{exc}", "red")
        raise typer.Exit(2) from None


def _cli_actor() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return f"cli:{name}"


@contextmanager
def _platform(
    *, existing: bool = False, announce: bool = True, new_store: str = "", **overrides: object
) -> Iterator[Platform]:
    """The platform on the configured store, named first (`announce`); `existing`: a
    command that only reads, or acts on what is there, never makes a new empty store
    (`new_store`: how to make one, if that is what was meant)."""
    settings = _settings(**overrides)
    configure_logging(settings)
    if existing:
        refuse_missing_store(settings, hint=new_store)
    if announce:
        name_the_store(settings)
    _data_dir_made(settings)
    try:
        platform = Platform.build(settings)
    except StoreUnavailable as exc:
        _unavailable(settings, exc)
    except (psycopg.Error, DatabaseError) as exc:
        _refused(settings, exc)
    try:
        yield platform
    except DomainError as exc:
        say(f"refused ({exc.rule}): {exc.detail}", "red")
        raise typer.Exit(exit_code_of(exc)) from None
    except StoreUnavailable as exc:
        _unavailable(settings, exc)
    except (psycopg.Error, DatabaseError) as exc:
        _refused(settings, exc)
    finally:
        platform.close()


def exit_code_of(exc: DomainError) -> int:
    """2 for a value the command was written with that no state of the store would take
    (what the HTTP API answers 422: a username the rules refuse, a week that does not
    exist, a requester without a department), as typer exits for a bad option; 1 for a
    command that ran and was refused by what is there (a user already deactivated)."""
    return EXIT_WRITTEN_WRONGLY if exc.status == InvalidCommand.status else EXIT_FAILED


def _data_dir_made(settings: Settings) -> None:
    """The SQLite store's directory, made; else why not, naming the variable (exit 2)."""
    if settings.backend != "sqlite":
        return
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        say(
            f"invalid configuration:\n  RAILYARD_DATA_DIR: {settings.data_dir} cannot hold"
            f" the SQLite store: {exc.strerror or exc}. Name a directory this user may write"
            " (unset, ./var below the directory the command runs in)",
            "red",
        )
        raise typer.Exit(2) from None


def _unavailable(settings: Settings, exc: StoreUnavailable) -> NoReturn:
    """One line: the store's own reason when it refuses connections, else the pool's."""
    why = connection_problem(settings.database_url) if settings.database_url else None
    advice = (
        " Check DATABASE_URL (database, role, password) and that the database exists."
        if why and ("does not exist" in why or "password" in why)
        else ""
    )
    say(f"the event store is unavailable: {why or exc}.{advice}", "red")
    raise typer.Exit(1) from None


def _refused(settings: Settings, exc: Exception) -> NoReturn:
    """The database refused what starting needs: what it said, and what to do about it."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # not its SQL
    schema = settings.db_schema
    if "permission denied" in text and settings.create_schema:
        advice = (
            "This role may not create the schema and its tables: run `railyard migrate` as"
            " the database's owner (with --grant-to this role) and set"
            " RAILYARD_CREATE_SCHEMA=false here"
        )
    elif "permission denied" in text:
        advice = (
            "This role lacks privileges on Railyard's tables: run `railyard migrate"
            " --grant-to <this role>` as their owner"
        )
    elif "does not exist" in text:
        advice = (
            f"The tables are not made in schema {schema!r} yet: run `railyard migrate` (or"
            " leave RAILYARD_CREATE_SCHEMA=true), with the same DATABASE_URL and"
            " RAILYARD_DB_SCHEMA"
        )
    else:
        advice = "Nothing was changed"
    store = "PostgreSQL" if settings.backend == "postgres" else "SQLite"
    say(f"{store} refused: {text}. {advice}.", "red")
    raise typer.Exit(1) from None


def _a_port(value: int | None) -> int | None:
    """A port the server can listen on: not 0 (once read as "the default", 8000) nor one
    past 65535 (the banner was printed and the server listened nowhere, silently)."""
    if value is None:
        return None
    try:
        return check_port(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (RAILYARD_HOST).", show_default=False)
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            callback=_a_port, help="Port to listen on (RAILYARD_PORT).", show_default=False
        ),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option(help="Serve only these services (repeat); default every service."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API worker processes.")] = 1,
    followers: Annotated[
        bool | None, typer.Option(help="Run projections and reactions in this process.")
    ] = None,
) -> None:
    """Serve the HTTP API (and, by default, the followers that keep views current)."""
    # Passed on as the settings they stand for, so that the process serving them (and the
    # links it writes, RAILYARD_PUBLIC_URL's default) read the same host and port.
    if host is not None:
        os.environ["RAILYARD_HOST"] = host
    if port is not None:
        os.environ["RAILYARD_PORT"] = str(port)
    if service:
        os.environ["RAILYARD_SERVICES"] = ",".join(service)
    if followers is not None:
        os.environ["RAILYARD_RUN_FOLLOWERS"] = "true" if followers else "false"
    settings = _settings()
    settings_from_environment.cache_clear()  # the app's factory reads them again
    # The store checked first: what is wrong with it is said in one line, not as the
    # traceback of each worker's app failing to start after a banner saying it serves.
    with _platform(announce=False) as platform:  # the banner names it
        build_app(settings, run_followers=False, platform=platform)
    host, port = settings.host, settings.port
    # Where people open it (RAILYARD_PUBLIC_URL, no trailing /) and, when that is another
    # address, where this process listens: behind a proxy or in a container they differ.
    url, bound = settings.public_base, f"http://{host}:{port}"
    listening = "" if url == bound else f" (listening on {bound})"
    err.print(
        f"Railyard serving {', '.join(settings.services)} on [bold]{url}[/bold]{listening}"
        f"  (API docs: {url}/docs)",
        soft_wrap=True,
    )
    err.print(f"Event store: {store_name(settings)}", soft_wrap=True)
    # The commands must find the same store: name what differs from the defaults.
    if settings.backend == "postgres":
        same = "DATABASE_URL=<the same> "
        same += (
            "" if settings.db_schema == "public" else f"RAILYARD_DB_SCHEMA={settings.db_schema} "
        )
    else:
        same = "" if settings.data_dir == Path("var") else f"RAILYARD_DATA_DIR={settings.data_dir} "
    err.print(
        f"First admin token: [bold]{same}.venv/bin/railyard bootstrap[/bold]"
        " (creates user 'admin' if needed and prints a new token)",
        soft_wrap=True,
    )
    err.print(
        f"In a browser: [bold]{url}/[/bold], signed in with a password"
        f" ([bold]{same}.venv/bin/railyard users set-password NAME[/bold]) or a token",
        soft_wrap=True,  # a command to copy is never broken across lines
    )
    config = uvicorn.Config(
        "railyard.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        # Named rather than "auto", which falls back to h11 and asyncio without a word
        # when they are missing: they take less CPU per request (decision 0085).
        loop="uvloop",
        http="httptools",
        # The supervisor pings each worker every half second from the moment it is
        # spawned and replaces one that does not answer within this time. A spawned worker
        # can answer only once it has imported this module (some 3 s of CPU here), and a
        # worker paused for 5 s (uvicorn's default) was seen replaced, imports and all:
        # on a busy machine a starting worker could be replaced before it ever answered.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    # uvicorn binds the shared socket with protocol 0, so asyncio does not set TCP_NODELAY
    # on the connections each worker accepts: every answer on a reused keep-alive
    # connection then waited ~40 ms for the client's delayed ACK. Set on the listening
    # socket, Linux hands the option to every accepted connection (decision 0080).
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, sockets=[sock]).run()


@app.command()
def worker() -> None:
    """Run every projection and reaction until stopped (SIGTERM or Ctrl-C)."""
    with _platform() as platform:
        components = all_components(platform)
        runner = followers_for(platform, components)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        err.print("Railyard worker following the log (Ctrl-C to stop)")
        runner.start()
        # What a log reader (docker compose logs, journald) sees of it, as of an API
        # process's service_started/stopped: which store, and whose followers.
        services = [c.name for c in components]
        log.info("worker_started", store=store_name(platform.settings), services=services)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            runner.stop()
            log.info("worker_stopped", store=store_name(platform.settings), services=services)


@app.command()
def migrate(
    grant_to: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL role the services connect as: granted SELECT, INSERT, UPDATE on the"
            " events (never DELETE or TRUNCATE) and full use of the views."
        ),
    ] = None,
) -> None:
    """Create the event log, its guards and every view's tables, once, before start-up.

    Events written before the log had its hash chain are hashed here, in position order."""
    with _platform(create_schema=True) as platform:
        components = all_components(platform)
        for group in [platform.directory.group, *(g for c in components for g in c.groups)]:
            group.setup()
        if grant_to:
            try:
                grant_service_role(platform.log, grant_to)
            except ValueError as exc:
                say(f"{exc}", "red")
                raise typer.Exit(1) from None
        if platform.log.backfilled_hashes:
            err.print(f"hashed {platform.log.backfilled_hashes} events written before the chain")
        err.print(f"schema ready ({platform.settings.backend})")
        if grant_to:
            say(
                f"granted to {grant_to}: SELECT, INSERT and UPDATE on the events (never"
                " DELETE or TRUNCATE) and full use of every view, also of the view tables"
                " this role makes later (rebuild-views); serve as it with"
                " RAILYARD_CREATE_SCHEMA=false"
            )


@app.command("rebuild-views")
def rebuild_views() -> None:
    """Drop every view and fold the whole log again (the log itself is untouched)."""
    with _platform(existing=True) as platform:
        groups = [
            platform.directory.group,
            *(g for c in all_components(platform) for g in c.groups),
        ]
        started, total = time.perf_counter(), 0
        for group in groups:  # one line each as it ends: a long log's rebuild takes minutes
            began = time.perf_counter()
            try:
                read = group.rebuild()
            except ProgrammingError as exc:
                if not _not_owner(exc):
                    raise
                say(
                    f"PostgreSQL refused: {exc}. rebuild-views drops the views' tables and"
                    " makes them again: run it as the role that ran `railyard migrate` (their"
                    " owner); the services' role keeps its privileges on them.",
                    "red",
                )
                raise typer.Exit(1) from None
            total += read
            names = ", ".join(p.name for p in group.projections)
            took = time.perf_counter() - began
            err.print(f"{names}: {read:,} events read in {took:.1f} s", soft_wrap=True)
        views = sum(len(g.projections) for g in groups)
        elapsed = time.perf_counter() - started
        err.print(f"rebuilt {views} views from {total:,} event reads in {elapsed:.1f} s")


def _not_owner(exc: Exception) -> bool:
    """Whether PostgreSQL refused for want of ownership or privileges."""
    text = str(exc)
    return "must be owner" in text or "permission denied" in text


@app.command()
def bootstrap(
    username: Annotated[str, typer.Option(help="The admin's username.")] = "admin",
) -> None:
    """Create the first admin (if missing) and print a new token for them."""
    with _platform() as platform, acting_as(_cli_actor()):
        user = platform.directory.user(username)
        if user is None:
            platform.identity.register(username, "Administrator", [Role.ADMIN.value])
            err.print(f"created admin user {username!r}")
        elif Role.ADMIN.value not in user.roles:
            # A plain token for a requester, printed as if it were the admin's: refused.
            say(
                f"{username} is not an admin ({', '.join(user.roles)}): bootstrap makes an admin,"
                " or renews an admin's token. For this user's token: railyard tokens issue"
                f" {username}; for an admin: railyard bootstrap --username <a new name>",
                "red",
            )
            raise typer.Exit(2)
        issued = platform.identity.issue_token(username, "bootstrap")
        err.print("Use it as: Authorization: Bearer <token>. It is shown only now.")
        out.print(issued.token, soft_wrap=True)


# The admin's: people and their tokens.
register_people_commands(app, _platform, _cli_actor)
# The metrics consumer's and the operator's commands: replay, report, import, demo.
register_metrics_commands(app, _platform, _cli_actor)
# The auditor's: recompute the log's hash chain.
app.command("verify")(verify)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
