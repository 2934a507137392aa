"""Railyard as an operator runs it: `railyard serve` and `railyard worker` as processes of
their own, on a schema that was migrated once before they start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from bench._environment import free_port
from railyard.app import all_components
from shared.logging import configure_logging
from shared.platform import Platform
from shared.settings import Settings, load_settings


def bench_settings(url: str, schema: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "db_schema": schema,
        "log_level": "warning",
        "log_format": "json",
    }
    values.update(overrides)
    return load_settings(**values)


def migrate(url: str, schema: str) -> None:
    """What `railyard migrate` does: the log and every view's tables, created once."""
    settings = bench_settings(url, schema, create_schema=True)
    configure_logging(settings)
    platform = Platform.build(settings)
    try:
        for component in all_components(platform):
            for group in component.groups:
                group.setup()
        platform.directory.group.setup()
    finally:
        platform.close()


class Railyard:
    """One `railyard <command>` child process; stopped with SIGTERM like a service manager."""

    def __init__(self, url: str, schema: str, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._data = tempfile.TemporaryDirectory(prefix="railyard-bench-")
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "RAILYARD_DB_SCHEMA": schema,
            "RAILYARD_CREATE_SCHEMA": "false",
            "RAILYARD_HOST": "127.0.0.1",
            "RAILYARD_PORT": str(self.port),
            "RAILYARD_LOG_LEVEL": "warning",
            "RAILYARD_LOG_FORMAT": "json",
            "RAILYARD_DATA_DIR": self._data.name,
        }
        self._log: IO[bytes] = open(Path(self._data.name) / "output.log", "w+b")  # noqa: SIM115  # closed in stop()
        self.process = subprocess.Popen(  # noqa: S603  # our own CLI, with arguments we wrote
            [sys.executable, "-m", "railyard.cli", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    def wait_until_serving(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"railyard exited early:\n{self.output()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"railyard did not answer within {timeout_s}s:\n{self.output()}")

    def wait_for_output(self, text: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            if self.process.poll() is not None:
                raise RuntimeError(f"railyard exited early:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"railyard did not say {text!r}:\n{self.output()}")
            time.sleep(0.1)

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()
        self._data.cleanup()

    def __enter__(self) -> Railyard:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve(url: str, schema: str, workers: int) -> Railyard:
    """`railyard serve --no-followers --workers N`, answering once it is up."""
    server = Railyard(url, schema, "serve", "--no-followers", "--workers", str(workers))
    try:
        server.wait_until_serving()
    except BaseException:
        server.stop()
        raise
    return server


def worker(url: str, schema: str) -> Railyard:
    """`railyard worker`: every projection and reaction, in a process of its own, once it
    has started following the log."""
    follower = Railyard(url, schema, "worker")
    try:
        follower.wait_for_output("worker following the log")
    except BaseException:
        follower.stop()
        raise
    return follower
