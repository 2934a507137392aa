"""Finding a PostgreSQL server for the tests, without anyone starting one by hand.

In order: `DATABASE_URL` when set; the local server at 127.0.0.1:5432; a throwaway
cluster started from the installed PostgreSQL binaries. With `CI=true` a missing server
fails the run instead of skipping the PostgreSQL tests.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import psycopg
from psycopg.conninfo import conninfo_to_dict

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_throwaway_cluster() -> str | None:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = binaries[-1] if binaries else shutil.which("initdb")
    if not initdb:
        return None
    bindir = os.path.dirname(initdb)
    datadir = tempfile.mkdtemp(prefix="railyard-pg-")
    port = _free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        if shutil.which("runuser") is None:
            return None
        shutil.chown(datadir, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*prefix, initdb, "-D", datadir, "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            os.path.join(bindir, "pg_ctl"),
            "-D",
            datadir,
            "-w",
            "-l",
            os.path.join(datadir, "log"),
            "-o",
            f"-p {port} -k {datadir} -h 127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    atexit.register(
        lambda: subprocess.run(
            [*prefix, os.path.join(bindir, "pg_ctl"), "-D", datadir, "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _reachable(url):
            return url
        time.sleep(0.2)
    return None


_found: list[str | None] = []


def server_url() -> str | None:
    """A reachable PostgreSQL URL, or None when there is none to be had."""
    if not _found:
        url = os.environ.get("DATABASE_URL")
        if url and _reachable(url):
            _found.append(url)
        elif _reachable(LOCAL_URL):
            _found.append(LOCAL_URL)
        else:
            _found.append(_start_throwaway_cluster())
    return _found[0]


@contextlib.contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A schema of its own for one test, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


SERVICE_ROLE = "railyard_test_service"  # the role tests connect as, like the services do


def ensure_login_role(url: str, role: str = SERVICE_ROLE) -> str:
    """Create the login role once per server (tests in parallel workers may race) and
    return `url` as that role."""
    with psycopg.connect(url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateObject):  # a parallel worker won
                admin.execute(f"CREATE ROLE {role} LOGIN")
    return as_role(url, role)


def as_role(url: str, role: str) -> str:
    """The same server, connecting as another role (trust authentication)."""
    params = conninfo_to_dict(url)
    host, port, dbname = params.get("host", "127.0.0.1"), params.get("port", 5432), params["dbname"]
    return f"postgresql://{role}@{host}:{port}/{dbname}"
