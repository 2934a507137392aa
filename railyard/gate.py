"""The deployment gate a pipeline runs: no approved change, no deployment.

`railyard gate check` asks Railyard whether an approved production change covers the
subsystem now and fails (exit 1) with a message naming what is missing; `railyard gate
report` tells Railyard what was deployed; `railyard gate run -- <deploy command>` does
check, deploy and report in one step. It talks to Railyard over HTTP with a pipeline
token, so it needs nothing but this package on the build agent.
"""

from __future__ import annotations

import errno
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from services.notify.messages import UNAUTHORISED_BECAUSE

EXIT_NOT_COVERED = 1
EXIT_REFUSED = 2
"""The step was written wrongly: Railyard refused what it sent (a deployed_at in the
future, an unknown field), or `gate check` named a subsystem the catalogue does not have."""
UNKNOWN_SUBSYSTEM = "unknown_subsystem"
EXIT_UNREACHABLE = 3
"""Railyard unreachable or failing (5xx), or the token refused (unknown, revoked, expired,
or not a pipeline user's)."""
EXIT_NOT_REPORTED = 4
"""Deployed, but Railyard could not record it: the step says how to record it by hand."""
REPORT_RETRIES_S = (1.0, 2.0, 4.0)
"""Waits between tries of a report after the deployment ran (unreachable, or 5xx)."""
# A deployment command that could not be started exits as a shell's would.
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


class GateError(Exception):
    """Railyard could not answer (unreachable, refused the token, bad input)."""

    def __init__(
        self, message: str, exit_code: int = EXIT_UNREACHABLE, retry: bool = False
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.retry = retry
        """Worth trying again: Railyard unreachable or failing (5xx), not a refusal."""


@dataclass(frozen=True)
class Verdict:
    covered: bool
    change_id: str | None
    message: str
    exit_code: int = 0
    """0 covered, EXIT_NOT_COVERED, or EXIT_REFUSED when the step names a subsystem the
    catalogue does not have (a mistake in the step, not a missing approval)."""


def _problem(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict) and "detail" in body:
        return f"{body.get('rule', 'error')}: {body['detail']}"
    return f"HTTP {response.status_code}"


def _refused(response: httpx.Response, what: str) -> GateError:
    """A refusal, with the exit code of its cause: the token (401, 403) and a failing
    Railyard (5xx) are 3, what the step sent (any other 4xx) is 2."""
    problem = _problem(response)
    if response.status_code in (401, 403):
        return GateError(
            f"Railyard refused the {what}: {problem}; the token (RAILYARD_TOKEN) must be an"
            " active pipeline user's, neither revoked nor expired"
        )
    if response.status_code >= 500:
        return GateError(f"Railyard refused the {what}: {problem}", retry=True)
    return GateError(f"Railyard refused the {what}: {problem}", EXIT_REFUSED)


def _pipeline_token(client: httpx.Client) -> None:
    """Only a pipeline reports a deployment: another user's token is refused before the
    check says go, not after the deployment ran (which it could not then record)."""
    response = client.get("/api/me")
    if response.status_code != 200:
        raise _refused(response, "check")
    me = response.json()
    if "pipeline" not in me["roles"]:
        raise GateError(
            f"Railyard refused the check: the token (RAILYARD_TOKEN) is {me['username']}'s"
            f" ({', '.join(me['roles'])}), not a pipeline user's, and only a pipeline may report"
            " the deployment: railyard users create NAME --role pipeline --token"
        )


def check(client: httpx.Client, subsystem: str, change_id: str | None = None) -> Verdict:
    params = {"subsystem": subsystem, **({"change_id": change_id} if change_id else {})}
    try:
        _pipeline_token(client)
        response = client.get("/api/deployments/coverage", params=params)
    except httpx.HTTPError as exc:
        raise GateError(f"Railyard is unreachable: {exc}") from exc
    if response.status_code != 200:
        raise _refused(response, "check")
    body = response.json()
    if body["covered"]:
        return Verdict(True, body["change_id"], f"Railyard: {body['detail']}")
    written_wrongly = body["reason"] == UNKNOWN_SUBSYSTEM
    return Verdict(
        False,
        None,
        f"Railyard: deployment of {subsystem} is NOT authorised"
        f" ({body['reason']}): {body['detail']}"
        + ("; check the step's --subsystem" if written_wrongly else ""),
        EXIT_REFUSED if written_wrongly else EXIT_NOT_COVERED,
    )


def report(
    client: httpx.Client,
    subsystem: str,
    version: str,
    change_id: str | None,
    idempotency_key: str | None = None,
    deployed_at: datetime | None = None,
) -> dict[str, Any]:
    """Record the deployment; returns Railyard's answer (linked, or flagged unauthorised).
    With `idempotency_key` (the CI job's id), a re-run of the same step is recorded once.
    `deployed_at`: when it began (default: now, as Railyard receives it)."""
    body: dict[str, Any] = {"subsystem": subsystem, "version": version}
    if change_id:
        body["change_id"] = change_id
    if deployed_at is not None:
        body["deployed_at"] = deployed_at.isoformat()
    try:
        response = client.post(
            "/api/deployments",
            json=body,
            # Without a key of the pipeline's, one per call: the call's own retries are
            # recorded once, a re-run of the step is a new report.
            headers={"Idempotency-Key": idempotency_key or f"gate-{uuid.uuid4().hex}"},
        )
    except httpx.HTTPError as exc:
        raise GateError(f"Railyard is unreachable: {exc}", retry=True) from exc
    if response.status_code != 201:
        raise _refused(response, "report")
    answer: dict[str, Any] = response.json()
    return answer


def reported(client: httpx.Client, idempotency_key: str) -> dict[str, Any] | None:
    """What Railyard answered when this pipeline reported a deployment under
    `idempotency_key`, or None when it reported none under it."""
    try:
        response = client.get(
            "/api/deployments/reported", params={"idempotency_key": idempotency_key}
        )
    except httpx.HTTPError as exc:
        raise GateError(f"Railyard is unreachable: {exc}") from exc
    if response.status_code in (401, 403, 404):
        # None reported; or a token that may not ask, which the check then refuses in
        # words (its one question of who the token is).
        return None
    if response.status_code != 200:
        raise _refused(response, "check")
    answer: dict[str, Any] = response.json()
    return answer


def _deploy(command: list[str], say: Callable[[str], None]) -> int:
    """Runs the deployment command; its exit code, or a shell's for one that could not
    start: 127 not found, 126 found but not executable (no permission, or not a program:
    a shell script without its #! line, a text file)."""
    try:
        completed = subprocess.run(command, check=False)  # noqa: S603  # the pipeline's own command
    except OSError as exc:
        cannot_run = isinstance(exc, PermissionError) or exc.errno == errno.ENOEXEC
        say(f"could not start the deployment command {command[0]!r}: {exc.strerror};"
            " nothing deployed, not reported")  # fmt: skip
        return EXIT_NOT_EXECUTABLE if cannot_run else EXIT_NOT_FOUND
    if completed.returncode != 0:
        say(f"deployment command failed (exit {completed.returncode}); not reported")
    return completed.returncode


@dataclass(frozen=True)
class _Done:
    code: int


def _done_before(client: httpx.Client, key: str, say: Callable[[str], None]) -> _Done | None:
    """The exit of the run that already reported a deployment under `key`, said, or None."""
    earlier = reported(client, key)
    if earlier is None:
        return None
    said = (
        f"UNAUTHORISED: {why(client, earlier)}"
        if earlier["unauthorised"]
        else f"under {named(client, earlier['change_id'])}"
    )
    say(
        f"already deployed and reported under the idempotency key {key}"
        f" (deployment {earlier['id']}, {said}); not deployed again (a key is one step's:"
        " another version or subsystem needs a key of its own)"
    )
    return _Done(EXIT_NOT_COVERED if earlier["unauthorised"] else 0)


def run(
    client: httpx.Client,
    subsystem: str,
    version: str,
    command: list[str],
    say: Callable[[str], None],
    change_id: str | None = None,
    idempotency_key: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Check, run the deployment command if covered, then report it, saying each step as
    it happens (the verdict before the command's own output). Returns the exit code.

    The deployment is reported as begun when the command started (a deployment begun in
    the window and finished after it is the window's), under one idempotency key however
    often the report is tried; a report Railyard cannot take after the command ran is
    tried again, then the step exits EXIT_NOT_REPORTED saying how to record it by hand.

    A step re-run under the key its first run reported under deploys nothing again: it
    says what was recorded then and exits as that run did (it ran the command again,
    then could not report it under the same key)."""
    if idempotency_key is not None and (done := _done_before(client, idempotency_key, say)):
        return done.code
    verdict = check(client, subsystem, change_id)
    say(verdict.message)
    if not verdict.covered:
        return verdict.exit_code
    began = datetime.now(UTC)
    if failed := _deploy(command, say):
        return failed
    key = idempotency_key or f"gate-{uuid.uuid4().hex}"
    for wait in (*REPORT_RETRIES_S, None):
        try:
            answer = report(client, subsystem, version, verdict.change_id, key, began)
            break
        except GateError as exc:
            if exc.retry and wait is not None:
                say(f"{exc}; trying again in {wait:g} s")
                sleep(wait)
                continue
            say(
                f"DEPLOYED, but not recorded: {exc}. Record it with: railyard gate report"
                f" --subsystem {subsystem!r} --version {version!r} --deployed-at"
                f" {began.isoformat()} --change-id {verdict.change_id} --idempotency-key {key}"
            )
            return EXIT_NOT_REPORTED
    if answer["unauthorised"]:
        say(f"deployed, but Railyard recorded it as UNAUTHORISED: {why(client, answer)}")
        return EXIT_NOT_COVERED
    say(
        f"reported {subsystem} {version} as deployment {answer['id']}"
        f" under {named(client, answer['change_id'])}"
    )
    return 0


def why(client: httpx.Client, answer: dict[str, Any]) -> str:
    """Why a report was taken as unauthorised, in words, naming the change it claimed
    (and its window, when it was deployed outside it)."""
    reason = str(answer.get("reason"))
    said = UNAUTHORISED_BECAUSE.get(reason, reason.replace("_", " "))
    claimed = answer.get("claimed_change_id")
    if claimed:
        said += f" ({named(client, claimed, window=reason == 'outside_window')})"
    return said


def named(client: httpx.Client, change_id: str, *, window: bool = False) -> str:
    """A change as people name it, CHG-7 “Patch the billing database” (with its window,
    in UTC, if asked); its id when it cannot be read."""
    try:
        answer = client.get(f"/api/changes/{change_id}")
    except httpx.HTTPError:
        return f"change {change_id}"
    if answer.status_code != 200:
        return f"change {change_id}"
    change = answer.json()
    said = f"{change.get('reference') or 'change'} “{change.get('title', '')}”"
    if window and change.get("window_start") and change.get("window_end"):
        start, end = (
            f"{datetime.fromisoformat(change[k]).astimezone(UTC):%Y-%m-%d %H:%M}"
            for k in ("window_start", "window_end")
        )
        said += f", window {start} to {end} UTC"
    return said


def client_for(url: str, token: str, timeout_s: float = 15.0) -> httpx.Client:
    return httpx.Client(
        base_url=url.rstrip("/"), timeout=timeout_s, headers={"Authorization": f"Bearer {token}"}
    )
