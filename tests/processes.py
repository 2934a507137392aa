"""Railyard as real operating-system processes, for the fault and scale-out tests.

A `Deployment` is one fresh PostgreSQL schema and the `railyard` processes pointed at it
through their environment (`DATABASE_URL`, `RAILYARD_DB_SCHEMA`), the way docker-compose
points its containers at one database: `railyard migrate --grant-to <service role>` once
as the schema's owner, then `railyard serve` and `railyard worker`, connected as the
service role, with table creation off. Each process listens on loopback on a free port,
writes its log to a file of its own, carries its name in PostgreSQL's `application_name`
(so a test can find its backends), and is killed when the test ends, whatever happened;
on a failure the test shows the end of every log.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from railyard.app import all_components
from shared.http.app import all_groups
from shared.platform import Platform
from shared.settings import load_settings
from shared.store.migrate import grant_service_role
from tests.conftest import People, register_people
from tests.postgres import SERVICE_ROLE, as_role, ensure_login_role

RAILYARD = str(Path(sys.executable).with_name("railyard"))
ROOT = Path(__file__).resolve().parents[1]
WORKER_READY = "Railyard worker following the log"
PUBLIC_URL = "http://railyard.test"
"""The address every process of a test deployment names in its links."""

_running: dict[int, subprocess.Popen[bytes]] = {}


@atexit.register
def _kill_leftovers() -> None:
    """A test process that dies without its teardown still takes its servers with it."""
    for popen in list(_running.values()):
        _kill_group(popen)


def _kill_group(popen: subprocess.Popen[bytes]) -> None:
    # Each process leads its own process group (start_new_session), so this reaches
    # any child it started too, and nothing else.
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=10)
    _running.pop(popen.pid, None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment() -> dict[str, str]:
    """This process's environment without the caller's Railyard or PostgreSQL settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("RAILYARD_", "PG")) or k == "DATABASE_URL")
    }


class ProcessFailed(AssertionError):
    """A process exited or did not become ready; the message carries its log."""


class RailyardProcess:
    """One `railyard ...` process: start it, wait until it is ready, kill -9, restart."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log_path: Path, port: int | None
    ) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.port = port
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} does not serve HTTP"
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> RailyardProcess:
        assert not self.alive, f"{self.name} is already running"
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.name} start {self.starts}: railyard {self.args} ---\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                [RAILYARD, *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        _running[self.popen.pid] = self.popen
        return self

    def wait_ready(self, timeout: float = 60.0) -> RailyardProcess:
        """Until `/readyz` answers 200 (an API) or the worker says it is following."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise ProcessFailed(
                    f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}"
                )
            if self.port is None:
                if WORKER_READY in self.log_text().rpartition("--- ")[2]:
                    return self
            else:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                        return self
            time.sleep(0.1)
        raise ProcessFailed(f"{self.name} was not ready after {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """`kill -9`: no shutdown code runs and no connection is closed politely."""
        assert self.popen is not None, f"{self.name} never started"
        assert self.alive, f"{self.name} is not running"
        _kill_group(self.popen)

    def restart(self, timeout: float = 60.0) -> RailyardProcess:
        if self.alive:
            self.kill()
        return self.start().wait_ready(timeout)

    def close(self) -> None:
        if self.popen is not None:
            _kill_group(self.popen)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclass
class Deployment:
    """One schema on the test's PostgreSQL server and the processes that serve it."""

    server_url: str
    """The schema owner's connection (a superuser here): migrate, set-up and faults."""
    schema: str
    workdir: Path
    service_role: str = SERVICE_ROLE
    processes: list[RailyardProcess] = field(default_factory=list)
    _platform: Platform | None = None

    def environment(self, name: str, **settings: str) -> dict[str, str]:
        env = clean_environment()
        env.update(
            DATABASE_URL=as_role(self.server_url, self.service_role),
            RAILYARD_DB_SCHEMA=self.schema,
            RAILYARD_CREATE_SCHEMA="false",
            RAILYARD_DATA_DIR=str(self.workdir / "var"),
            RAILYARD_LOG_FORMAT="json",
            # Every process renders links alike, as a deployment's share one address
            # (its APIs listen on ports of their own; a worker on none).
            RAILYARD_PUBLIC_URL=PUBLIC_URL,
            RAILYARD_POOL_SIZE="4",
            PGAPPNAME=self.application_name(name),
            PYTHONUNBUFFERED="1",
        )
        env.update(settings)
        return env

    def application_name(self, name: str) -> str:
        """What `pg_stat_activity.application_name` shows for the process `name`."""
        return f"{self.schema}.{name}"[:63]

    # -- processes ------------------------------------------------------------------

    def migrate(self, *, cli: bool = False, grant: bool = True) -> None:
        """Create the schema once, as its owner, granting the service role its rights
        (unless not `grant`): with `railyard migrate --grant-to` itself when `cli`, else
        the same calls in this process (a process start less)."""
        ensure_login_role(self.server_url, self.service_role)
        if not cli:
            owner = self._build(create_schema=True)
            try:
                for group in all_groups(owner, all_components(owner)):
                    group.setup()
                if grant:
                    grant_service_role(owner.log, self.service_role)
            finally:
                owner.close()
            return
        done = subprocess.run(
            [RAILYARD, "migrate", "--grant-to", self.service_role],
            env=self.environment(
                "migrate", DATABASE_URL=self.server_url, RAILYARD_CREATE_SCHEMA="true"
            ),
            capture_output=True,
            timeout=120,
            check=False,
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise ProcessFailed(f"railyard migrate failed:\n{done.stdout!r}\n{done.stderr!r}")

    def api(
        self, name: str = "api", *, followers: bool = True, start: bool = True, **settings: str
    ) -> RailyardProcess:
        """`railyard serve` on a free loopback port; ready unless `start=False`."""
        port = free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        if not followers:
            args.append("--no-followers")
        return self._add(name, args, port, start, settings)

    def worker(
        self, name: str = "worker", *, start: bool = True, **settings: str
    ) -> RailyardProcess:
        """`railyard worker`: every projection and reaction."""
        return self._add(name, ["worker"], None, start, settings)

    def _add(
        self, name: str, args: list[str], port: int | None, start: bool, settings: dict[str, str]
    ) -> RailyardProcess:
        process = RailyardProcess(
            name, args, self.environment(name, **settings), self.workdir / f"{name}.log", port
        )
        self.processes.append(process)
        if start:
            process.start().wait_ready()
        return process

    # -- the same database, from the test -------------------------------------------

    def _build(self, *, create_schema: bool) -> Platform:
        return Platform.build(
            load_settings(
                database_url=self.server_url,
                db_schema=self.schema,
                create_schema=create_schema,
                pool_size=2,
                public_url=PUBLIC_URL,
            )
        )

    def platform(self) -> Platform:
        """The same schema in this process, as its owner: for set-up and for checking."""
        if self._platform is None:
            self._platform = self._build(create_schema=False)
        return self._platform

    def register_people(self) -> People:
        return register_people(self.platform())

    @contextlib.contextmanager
    def sql(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of the test's own (autocommit) to the deployment's database."""
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            yield conn

    def head(self) -> int:
        return self.platform().log.head()

    def positions(self) -> dict[str, int]:
        """How far each projection and reaction has read, as committed."""
        return self.platform().log.positions()

    def wait_caught_up(self, timeout: float = 60.0) -> int:
        """Until every follower has read the whole log and the log stops growing (a
        reaction's work is more log to follow); returns the head."""
        deadline = time.monotonic() + timeout
        settled = 0
        last = -1
        while time.monotonic() < deadline:
            head = self.head()
            positions = self.positions()
            caught_up = bool(positions) and min(positions.values()) >= head
            settled = settled + 1 if caught_up and head == last else 0
            if settled >= 3:
                return head
            last = head
            time.sleep(0.2)
        behind = {n: p for n, p in self.positions().items() if p < self.head()}
        raise AssertionError(f"followers did not catch up in {timeout} s: {behind}")

    # -- the end --------------------------------------------------------------------

    def close(self) -> None:
        for process in self.processes:
            process.close()
        if self._platform is not None:
            self._platform.close()

    def logs(self, lines: int = 60) -> str:
        return "\n\n".join(
            f"===== {p.name} ({p.log_path}) =====\n{p.log_tail(lines)}" for p in self.processes
        )


@dataclass
class LiveApi:
    """One process's HTTP API, called as any of the test's people."""

    url: str
    people: People
    timeout: float = 30.0
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=self.timeout)

    def get(self, path: str, as_: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.people.headers(as_), **kwargs)

    def post(
        self, path: str, as_: str, json: Any = None, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = self.people.headers(as_)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(path, json=json, headers=headers, **kwargs)

    def put(self, path: str, as_: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.put(path, json=json, headers=self.people.headers(as_), **kwargs)

    def close(self) -> None:
        self.client.close()
