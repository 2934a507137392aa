"""A real `railyard serve` on a free port and a throwaway SQLite data dir, driven by
headless Chromium (Debian's package) through Playwright.

Every browser test runs in one xdist group, so one server and one browser serve them all.
Screenshots of the main pages land in `test-artifacts/screenshots/` (gitignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from services.intake.application import Intake
from services.intake.domain import ClassOfService
from services.intake.views import IntakeViews
from shared.application import acting_as
from shared.platform import Platform
from shared.settings import load_settings
from tests.builders import draft
from tests.conftest import register_people

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    platform: Platform
    intake: Intake
    tokens: dict[str, str] = field(default_factory=dict)

    def event_count(self) -> int:
        return len(self.platform.log.entries(0, 1_000_000))

    def submit(self, title: str, as_: str = "vp.sales", **overrides: Any) -> str:
        principal = self.platform.directory.principal(as_)
        assert principal is not None
        with acting_as(as_):
            return self.intake.submit(principal, draft(title=title, **overrides)).id

    def accept(self, request_id: str, owner: str = "dev.alice", points: int = 5) -> None:
        with acting_as("rm"):
            self.intake.accept(UUID(request_id), owner, points, ClassOfService.STANDARD, None)

    def api(self, method: str, path: str, as_: str, **kwargs: Any) -> Any:
        """Call the HTTP API as `as_` (a token issued for the test), for set-up."""
        token = self.tokens.get(as_)
        if token is None:
            with acting_as("test-setup"):
                token = self.platform.identity.issue_token(as_, "browser-tests").token
            self.tokens[as_] = token
        answer = httpx.request(
            method, self.url + path, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )
        assert answer.status_code < 300, answer.text
        return answer.json()

    def deliver(self, request_id: str) -> None:
        with acting_as("railyard"):
            self.intake.deliver(UUID(request_id), None, None)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("browser-var")
    settings = load_settings(database_url=None, data_dir=data_dir)
    platform = Platform.build(settings)
    register_people(platform, password=PASSWORD, tokens=False)
    port = _free_port()
    env = {
        **os.environ,
        "RAILYARD_DATA_DIR": str(data_dir),
        "RAILYARD_PORT": str(port),
        "RAILYARD_HOST": "127.0.0.1",
        "RAILYARD_LOG_FORMAT": "json",
        "RAILYARD_LOG_LEVEL": "warning",
        "RAILYARD_SIGNIN_LIMIT_PER_USER": "5",
        "RAILYARD_SIGNIN_LIMIT_PER_ADDRESS": "500",
    }
    env.pop("DATABASE_URL", None)
    log_path = data_dir / "server.log"
    railyard = shutil.which("railyard", path=str(Path(sys.executable).parent)) or "railyard"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # the real entry point, as `make run` starts it
            [railyard, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, process, log_path)
        intake = Intake(platform.log, IntakeViews(platform.log), platform.directory)
        yield LiveServer(url, data_dir, platform, intake)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        platform.close()


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"railyard serve exited:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"railyard serve did not become ready:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    launched = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@dataclass
class Session:
    """One person's browser context, signed in."""

    context: BrowserContext
    page: Page
    server: LiveServer

    def go(self, path: str) -> Page:
        self.page.goto(self.server.url + path)
        return self.page

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def csrf(self) -> str:
        value = self.page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert value
        return value

    def post(self, path: str, form: dict[str, Any], csrf: str | None = None) -> Any:
        """A direct POST with this browser's cookies, as a crafted request would send."""
        return self.context.request.post(
            self.server.url + path,
            form={"csrf_token": csrf if csrf is not None else self.csrf(), **form},
            max_redirects=0,
        )


def sign_in(page: Page, url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(url + "/signin")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def as_user(browser: Browser, live_server: LiveServer) -> Iterator[Any]:
    contexts: list[BrowserContext] = []

    def open_as(username: str, viewport: dict[str, int] | None = None) -> Session:
        context = browser.new_context(viewport=viewport or LAPTOP)  # type: ignore[arg-type]  # a ViewportSize dict
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, live_server.url, username)
        assert "/signin" not in page.url, f"{username} could not sign in"
        return Session(context, page, live_server)

    yield open_as
    for context in contexts:
        context.close()
