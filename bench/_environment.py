"""Where a benchmark runs: a database of its own on the server, and what the machine is.

Each benchmark that starts processes gets a fresh database (created here, dropped
afterwards, whatever happens), so the product and the library baseline write to the
same server and the same database, each in a schema of its own.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def server_url() -> str:
    """The PostgreSQL server to benchmark on: DATABASE_URL, else the local one."""
    return os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def quick() -> bool:
    """`python -m bench --quick` (or RAILYARD_BENCH_QUICK=1): tiny sizes, to prove it runs."""
    return os.environ.get("RAILYARD_BENCH_QUICK", "") not in ("", "0", "false")


def _with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    user = params.get("user", "postgres")
    password = f":{params['password']}" if params.get("password") else ""
    return f"postgresql://{user}{password}@{host}:{port}/{dbname}"


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new database on the server for one benchmark run; its URL. Dropped at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_conninfo(server_url())
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_dbname(server_url(), name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607  # git from PATH, as a developer runs it
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def machine() -> dict[str, Any]:
    """What the figures were measured on: the numbers only mean something beside these."""
    try:
        with psycopg.connect(server_url(), connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            server = str(row[0]) if row else None
    except psycopg.Error:
        server = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "postgresql": server,
        "commit": _git_commit(),
        "quick": quick(),
    }
