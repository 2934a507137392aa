"""The deployment gate a pipeline runs: no approved change, no deployment.

`railyard gate check` asks Railyard whether an approved production change covers the
subsystem now and fails (exit 1) with a message naming what is missing; `railyard gate
report` tells Railyard what was deployed; `railyard gate run -- <deploy command>` does
check, deploy and report in one step. It talks to Railyard over HTTP with a pipeline
token, so it needs nothing but this package on the build agent.
"""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

EXIT_NOT_COVERED = 1
EXIT_UNREACHABLE = 3
# A deployment command that could not be started exits as a shell's would.
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


class GateError(Exception):
    """Railyard could not answer (unreachable, refused the token, bad input)."""

    def __init__(self, message: str, exit_code: int = EXIT_UNREACHABLE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Verdict:
    covered: bool
    change_id: str | None
    message: str


def _problem(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict) and "detail" in body:
        return f"{body.get('rule', 'error')}: {body['detail']}"
    return f"HTTP {response.status_code}"


def check(client: httpx.Client, subsystem: str, change_id: str | None = None) -> Verdict:
    params = {"subsystem": subsystem, **({"change_id": change_id} if change_id else {})}
    try:
        response = client.get("/api/deployments/coverage", params=params)
    except httpx.HTTPError as exc:
        raise GateError(f"Railyard is unreachable: {exc}") from exc
    if response.status_code != 200:
        raise GateError(f"Railyard refused the check: {_problem(response)}")
    body = response.json()
    if body["covered"]:
        return Verdict(True, body["change_id"], f"Railyard: {body['detail']}")
    return Verdict(
        False,
        None,
        f"Railyard: deployment of {subsystem} is NOT authorised"
        f" ({body['reason']}): {body['detail']}",
    )


def report(
    client: httpx.Client,
    subsystem: str,
    version: str,
    change_id: str | None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Record the deployment; returns Railyard's answer (linked, or flagged unauthorised).
    With `idempotency_key` (the CI job's id), a re-run of the same step is recorded once."""
    try:
        response = client.post(
            "/api/deployments",
            json={
                "subsystem": subsystem,
                "version": version,
                **({"change_id": change_id} if change_id else {}),
            },
            # Without a key of the pipeline's, one per call: the call's own retries are
            # recorded once, a re-run of the step is a new report.
            headers={"Idempotency-Key": idempotency_key or f"gate-{uuid.uuid4().hex}"},
        )
    except httpx.HTTPError as exc:
        raise GateError(f"Railyard is unreachable: {exc}") from exc
    if response.status_code != 201:
        raise GateError(f"Railyard refused the report: {_problem(response)}")
    answer: dict[str, Any] = response.json()
    return answer


def run(
    client: httpx.Client,
    subsystem: str,
    version: str,
    command: list[str],
    change_id: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[int, list[str]]:
    """Check, run the deployment command if covered, then report it. Returns the exit code
    and the lines to print."""
    verdict = check(client, subsystem, change_id)
    lines = [verdict.message]
    if not verdict.covered:
        return EXIT_NOT_COVERED, lines
    try:
        completed = subprocess.run(command, check=False)  # noqa: S603  # the pipeline's own command
    except OSError as exc:  # not found, not executable: what a shell reports as 127 / 126
        code = EXIT_NOT_EXECUTABLE if isinstance(exc, PermissionError) else EXIT_NOT_FOUND
        lines.append(f"could not start the deployment command {command[0]!r}: {exc.strerror};"
                     " nothing deployed, not reported")  # fmt: skip
        return code, lines
    if completed.returncode != 0:
        lines.append(f"deployment command failed (exit {completed.returncode}); not reported")
        return completed.returncode, lines
    answer = report(client, subsystem, version, verdict.change_id, idempotency_key)
    if answer["unauthorised"]:
        lines.append(f"deployed, but Railyard recorded it as UNAUTHORISED: {answer['reason']}")
        return EXIT_NOT_COVERED, lines
    lines.append(
        f"reported {subsystem} {version} as deployment {answer['id']}"
        f" under change {answer['change_id']}"
    )
    return 0, lines


def client_for(url: str, token: str, timeout_s: float = 15.0) -> httpx.Client:
    return httpx.Client(
        base_url=url.rstrip("/"), timeout=timeout_s, headers={"Authorization": f"Bearer {token}"}
    )
