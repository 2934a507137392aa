"""A webhook receiver on loopback that a test can take down, bring up, slow or break."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.notify.signing import POSITION_HEADER, SIGNATURE_HEADER, verify


@dataclass
class Received:
    position: int
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    port: int
    secret: str | None = None
    mode: str = "ok"  # ok | fail | slow | redirect
    slow_s: float = 2.0
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight_seen: int = 0
    bad_signatures: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def positions(self) -> list[int]:
        return [r.position for r in self.received]

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the standard library's name
                with receiver._lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight_seen = max(
                        receiver.max_in_flight_seen, receiver.in_flight
                    )
                try:
                    self._answer()
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.mode == "slow":
                    time.sleep(receiver.slow_s)
                if receiver.mode == "fail":
                    self.send_response(500)
                    self.end_headers()
                    return
                if receiver.mode == "redirect":
                    self.send_response(307)
                    self.send_header("Location", "http://elsewhere.invalid/hook")
                    self.end_headers()
                    return
                if receiver.secret is not None:
                    try:
                        verify(receiver.secret, self.headers.get(SIGNATURE_HEADER), body)
                    except ValueError:
                        receiver.bad_signatures += 1
                        self.send_response(400)
                        self.end_headers()
                        return
                with receiver._lock:
                    receiver.received.append(
                        Received(int(self.headers[POSITION_HEADER]), body, dict(self.headers))
                    )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def receiver(*, up: bool = True, **kwargs: Any) -> Iterator[Receiver]:
    r = Receiver(port=free_port(), **kwargs)
    if up:
        r.up()
    try:
        yield r
    finally:
        r.down()
