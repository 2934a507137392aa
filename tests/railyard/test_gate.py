"""The deployment gate a pipeline runs: no approved change, no deployment."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import railyard.gate_cli
from railyard.cli import app
from railyard.gate import (
    EXIT_NOT_COVERED,
    EXIT_NOT_EXECUTABLE,
    EXIT_NOT_FOUND,
    EXIT_NOT_REPORTED,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    check,
    report,
    run,
)
from tests.change_control.builders import approve, raise_change
from tests.conftest import Api

runner = CliRunner()


def pipeline_client(api: Api) -> Any:
    client = api.client
    client.headers["Authorization"] = f"Bearer {api.people.tokens['pipeline']}"
    return client


def gated(client: Any, *args: Any, **kwargs: Any) -> tuple[int, list[str]]:
    """`run`, with the lines it says as it goes collected."""
    lines: list[str] = []
    code = run(client, args[0], args[1], args[2], lines.append, *args[3:], **kwargs)
    return code, lines


def approved_billing_change(api: Api, **overrides: Any) -> str:
    change_id = raise_change(api, **overrides)
    approve(api, change_id, "cab.carl")
    return change_id


def test_a_pipeline_without_an_approved_change_is_stopped_with_a_reason(api: Api) -> None:
    verdict = check(pipeline_client(api), "Billing")
    assert not verdict.covered
    assert "NOT authorised" in verdict.message
    assert "no approved production change covers Billing" in verdict.message


def test_a_pipeline_stopped_for_a_change_still_in_review_is_told_which(api: Api) -> None:
    change_id = raise_change(api)
    verdict = check(pipeline_client(api), "Billing")
    assert not verdict.covered
    assert "no approved production change covers Billing" in verdict.message
    # By the reference people use, and the id a pipeline's --change-id takes.
    assert f"change CHG-1 ({change_id}) “Patch the billing database”" in verdict.message
    assert "still in review: have the CAB approve it before deploying" in verdict.message


def test_an_approved_change_in_its_window_lets_the_pipeline_through(api: Api) -> None:
    change_id = approved_billing_change(api)
    verdict = check(pipeline_client(api), "billing")
    assert verdict.covered
    assert verdict.change_id == change_id
    assert f"covered by approved change CHG-1 ({change_id}) “" in verdict.message


def test_a_claimed_change_that_does_not_cover_the_subsystem_is_named(api: Api) -> None:
    change_id = approved_billing_change(api)
    verdict = check(pipeline_client(api), "CRM", change_id)
    assert not verdict.covered
    assert "subsystem_not_in_change" in verdict.message


def test_an_unknown_subsystem_is_named_as_a_mistake_in_the_step(api: Api) -> None:
    """`gate check --subsystem Nope` exited 1, "not covered", as if an approval were
    missing: the step is written wrongly (exit 2), and `gate run` deploys nothing."""
    verdict = check(pipeline_client(api), "Mainframe")
    assert "unknown_subsystem" in verdict.message
    assert "check the step's --subsystem" in verdict.message
    assert verdict.exit_code == EXIT_REFUSED
    code, _ = gated(pipeline_client(api), "Mainframe", "1", [sys.executable, "-c", "pass"])
    assert code == EXIT_REFUSED
    assert api.get("/api/deployments", "rm").json()["total"] == 0


def test_run_deploys_and_reports_only_when_covered(api: Api) -> None:
    client = pipeline_client(api)
    deploy = [sys.executable, "-c", "print('deploying')"]
    code, lines = gated(client, "Billing", "4.2.0", deploy)
    assert code == EXIT_NOT_COVERED
    assert api.get("/api/deployments", "rm").json()["total"] == 0  # nothing ran or reported
    change_id = approved_billing_change(api)
    code, lines = gated(client, "Billing", "4.2.0", deploy)
    assert code == 0, lines
    (deployment,) = api.get("/api/deployments", "rm").json()["items"]
    assert deployment["change_id"] == change_id
    assert deployment["unauthorised"] is False


def test_a_rerun_report_with_the_pipelines_key_is_recorded_once(api: Api) -> None:
    """A CI step re-run after a timeout sends the same job id: one deployment, one answer."""
    approved_billing_change(api)
    client = pipeline_client(api)
    first = report(client, "Billing", "4.2.2", None, idempotency_key="ci-job-8812")
    again = report(client, "Billing", "4.2.2", None, idempotency_key="ci-job-8812")
    assert again == first
    assert api.get("/api/deployments", "rm").json()["total"] == 1


def test_a_rerun_step_under_its_key_does_not_deploy_again(api: Api, tmp_path: Path) -> None:
    """`gate run` re-run with the job's key ran the deployment command a second time, then
    could not report it (the key was used, for a report begun at another time) and exited
    4 printing a command that was refused too. It now asks first: not deployed again, the
    first run's answer said, exit as the first run did."""
    change_id = approved_billing_change(api)
    client = pipeline_client(api)
    ran = tmp_path / "ran"
    deploy = [sys.executable, "-c", f"open({str(ran)!r}, 'a').write('x')"]
    code, _ = gated(client, "Billing", "4.3.0", deploy, idempotency_key="ci-job-9001")
    assert code == 0
    code, lines = gated(client, "Billing", "4.3.0", deploy, idempotency_key="ci-job-9001")
    assert code == 0, lines
    assert ran.read_text() == "x"  # the command ran once
    (deployment,) = api.get("/api/deployments", "rm").json()["items"]
    assert lines == [
        "already deployed and reported under the idempotency key ci-job-9001 (deployment"
        f" {deployment['id']}, under CHG-1 “Patch the billing database”); not deployed again"
        " (a key is one step's: another version or subsystem needs a key of its own)"
    ]
    assert deployment["change_id"] == change_id
    # Another key is another deployment; a key no deployment used is not one.
    assert gated(client, "Billing", "4.3.1", deploy, idempotency_key="ci-job-9002")[0] == 0
    assert ran.read_text() == "xx"
    missing = client.get("/api/deployments/reported", params={"idempotency_key": "nope"})
    assert (missing.status_code, missing.json()["rule"]) == (404, "deployment_not_reported")


def test_a_failed_deployment_command_is_not_reported(api: Api) -> None:
    approved_billing_change(api)
    code, _ = gated(
        pipeline_client(api), "Billing", "4.2.1", [sys.executable, "-c", "raise SystemExit(7)"]
    )
    assert code == 7
    assert api.get("/api/deployments", "rm").json()["total"] == 0


def test_a_deployment_command_that_cannot_start_is_named_not_a_traceback(
    api: Api, tmp_path: Path
) -> None:
    approved_billing_change(api)
    client = pipeline_client(api)
    code, lines = gated(client, "Billing", "4.2.1", [str(tmp_path / "deploy.sh"), "--prod"])
    assert code == EXIT_NOT_FOUND
    assert lines[-1] == (
        f"could not start the deployment command '{tmp_path / 'deploy.sh'}':"
        " No such file or directory; nothing deployed, not reported"
    )
    script = tmp_path / "deploy.sh"
    script.write_text("#!/bin/sh\necho deployed\n")  # not made executable
    code, lines = gated(client, "Billing", "4.2.1", [str(script)])
    assert code == EXIT_NOT_EXECUTABLE
    assert "Permission denied; nothing deployed" in lines[-1]
    # Executable, but not a program (Exec format error): 126 as a shell says, not 127.
    text = tmp_path / "notes.txt"
    text.write_bytes(b"\x00\x01not a program\n")
    text.chmod(0o755)
    code, lines = gated(client, "Billing", "4.2.1", [str(text)])
    assert code == EXIT_NOT_EXECUTABLE, lines
    assert api.get("/api/deployments", "rm").json()["total"] == 0


@pytest.fixture
def cli_against(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    @contextmanager
    def client_for(url: str, token: str) -> Iterator[Any]:
        client = api.client
        client.headers["Authorization"] = f"Bearer {token}"
        yield client

    monkeypatch.setattr(railyard.gate_cli, "client_for", client_for)
    return api


def test_the_gate_command_fails_the_pipeline_with_a_message(cli_against: Api) -> None:
    token = cli_against.people.tokens["pipeline"]
    result = runner.invoke(
        app,
        ["gate", "check", "--url", "http://railyard", "--token", token, "--subsystem", "Billing"],
    )
    assert result.exit_code == EXIT_NOT_COVERED
    assert "NOT authorised" in result.output


def test_the_gate_command_passes_and_prints_the_change(cli_against: Api) -> None:
    change_id = approved_billing_change(cli_against)
    token = cli_against.people.tokens["pipeline"]
    result = runner.invoke(
        app,
        ["gate", "check", "--url", "http://railyard", "--token", token, "--subsystem", "Billing"],
    )
    assert result.exit_code == 0, result.output
    assert change_id in result.stdout


def test_a_bad_token_is_a_readable_error(cli_against: Api) -> None:
    result = runner.invoke(
        app,
        [
            "gate",
            "check",
            "--url",
            "http://railyard",
            "--token",
            "ry_nope",
            "--subsystem",
            "Billing",
        ],
    )
    assert result.exit_code == 3
    assert "authentication_required" in result.output


def test_a_change_title_with_square_brackets_is_printed_not_read_as_markup(
    cli_against: Api,
) -> None:
    """ "Rotate certs in [/etc/ssl]" crashed the step (rich read it as a closing tag) and a
    pipeline took the crash for a refusal; "[billing]" vanished from the message."""
    approved_billing_change(cli_against, title="Rotate certs in [/etc/ssl] on [billing] hosts")
    token = cli_against.people.tokens["pipeline"]
    result = runner.invoke(
        app,
        ["gate", "check", "--url", "http://railyard", "--token", token, "--subsystem", "Billing"],
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "Rotate certs in [/etc/ssl] on [billing] hosts" in " ".join(result.output.split())


def test_a_deployment_is_reported_as_begun_when_its_command_started(api: Api) -> None:
    """Reported at its end, a deployment begun inside the window and finished after it
    was recorded as UNAUTHORISED (outside_window)."""
    approved_billing_change(api)
    slow = [sys.executable, "-c", "import time; time.sleep(2)"]
    before = datetime.now(UTC)
    code, lines = gated(pipeline_client(api), "Billing", "4.2.3", slow)
    assert code == 0, lines
    (deployment,) = api.get("/api/deployments", "rm").json()["items"]
    began = datetime.fromisoformat(deployment["deployed_at"])
    assert before - timedelta(seconds=1) <= began < before + timedelta(seconds=1.5)


class Unrecorded:
    """Railyard answering checks but failing every report (`status`), as when it is
    restarting, or the pipeline's token was revoked while it deployed."""

    def __init__(self, client: Any, status: int) -> None:
        self.client, self.status, self.reports = client, status, 0

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.get(*args, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        self.reports += 1
        problem = {"rule": "unavailable", "detail": "restarting"}
        return httpx.Response(self.status, json=problem)


@pytest.mark.parametrize(("status", "tries"), [(503, 4), (401, 1)])
def test_a_deployment_railyard_could_not_record_says_so_and_how_to_record_it(
    api: Api, status: int, tries: int
) -> None:
    """It was lost with exit 3, as if nothing had been deployed: a failing Railyard is
    tried again; then the step exits 4 naming the report to send by hand."""
    change_id = approved_billing_change(api)
    client = Unrecorded(pipeline_client(api), status)
    waits: list[float] = []
    deploy = [sys.executable, "-c", "print('deploying')"]
    code, lines = gated(
        client, "Billing", "4.2.4", deploy, idempotency_key="ci-9", sleep=waits.append
    )
    assert code == EXIT_NOT_REPORTED == 4
    assert client.reports == tries
    assert len(waits) == tries - 1
    assert lines[-1].startswith("DEPLOYED, but not recorded: Railyard refused the report")
    assert "railyard gate report --subsystem 'Billing' --version '4.2.4' --deployed-at" in lines[-1]
    assert f"--change-id {change_id} --idempotency-key ci-9" in lines[-1]


def test_the_report_a_step_could_not_send_is_recorded_as_it_says(cli_against: Api) -> None:
    """The command the step prints records the deployment, dated when it began."""
    change_id = approved_billing_change(cli_against)
    client = Unrecorded(pipeline_client(cli_against), 503)
    deploy = [sys.executable, "-c", "print('deploying')"]
    code, lines = gated(client, "Billing", "4.2.5", deploy, sleep=lambda _: None)
    assert code == EXIT_NOT_REPORTED
    advice = shlex.split(lines[-1].split("Record it with: ")[1])
    token = cli_against.people.tokens["pipeline"]
    result = runner.invoke(app, [*advice[1:], "--url", "http://railyard", "--token", token])
    assert result.exit_code == 0, result.output
    (deployment,) = cli_against.get("/api/deployments", "rm").json()["items"]
    assert (deployment["change_id"], deployment["version"]) == (change_id, "4.2.5")
    began = advice[advice.index("--deployed-at") + 1]
    # Kept to the second, as every instant of change control is.
    recorded = datetime.fromisoformat(deployment["deployed_at"])
    assert recorded == datetime.fromisoformat(began).replace(microsecond=0)


def gate_cli(api: Api, *words: str, user: str = "pipeline") -> Any:
    token = api.people.tokens[user]
    given = ["--url", "http://railyard", "--token", token]
    return runner.invoke(app, ["gate", words[0], *given, *words[1:]])


def test_gate_check_of_a_subsystem_the_catalogue_lacks_exits_2(cli_against: Api) -> None:
    result = gate_cli(cli_against, "check", "--subsystem", "Nope")
    assert result.exit_code == EXIT_REFUSED, result.output
    assert "'Nope' is not in the subsystem catalogue" in result.output


def test_a_report_railyard_refuses_for_what_it_says_exits_2_not_as_unreachable(
    cli_against: Api,
) -> None:
    """deployed_in_future exited 3, which the README gives to an unreachable Railyard or
    a refused token: a pipeline retried a report that could never be taken."""
    future = "2030-01-01T00:00:00+00:00"
    result = gate_cli(
        cli_against, "report", "--subsystem", "Billing", "--version", "1", "--deployed-at", future
    )
    assert result.exit_code == EXIT_REFUSED == 2, result.output
    assert "Railyard refused the report: deployed_in_future" in result.output


def test_a_token_of_another_role_is_refused_as_a_token_problem(cli_against: Api) -> None:
    """A release manager's token passed the check, the deployment ran, and its report was
    refused (403): deployed, not recorded. It is refused before, as a bad token is."""
    approved_billing_change(cli_against)
    checked = gate_cli(cli_against, "check", "--subsystem", "Billing", user="rm")
    assert checked.exit_code == EXIT_UNREACHABLE == 3, checked.output
    assert "the token (RAILYARD_TOKEN) is rm's (release_manager), not a pipeline" in " ".join(
        checked.output.split()
    )
    ran = gate_cli(
        cli_against, "run", "--subsystem", "Billing", "--version", "1", "--", "false", user="rm"
    )
    assert ran.exit_code == 3, ran.output
    reported = gate_cli(
        cli_against, "report", "--subsystem", "Billing", "--version", "1", user="rm"
    )
    assert reported.exit_code == 3, reported.output
    assert "role_required" in reported.output
    assert "must be an active pipeline user's" in " ".join(reported.output.split())


def test_what_the_gate_recorded_names_the_change_and_why_in_words(cli_against: Api) -> None:
    """It printed the change's id, and "UNAUTHORISED change: outside_window" without the
    change or its window (the notification of the same report said it all)."""
    change_id = approved_billing_change(cli_against)
    reference = cli_against.get(f"/api/changes/{change_id}", "rm").json()["reference"]
    covered = gate_cli(cli_against, "report", "--subsystem", "Billing", "--version", "1",
                       "--change-id", change_id)  # fmt: skip
    assert covered.exit_code == 0, covered.output
    said = " ".join(covered.output.split())
    assert f"under {reference} “" in said
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    outside = gate_cli(cli_against, "report", "--subsystem", "Billing", "--version", "2",
                       "--change-id", change_id, "--deployed-at", yesterday)  # fmt: skip
    assert outside.exit_code == EXIT_NOT_COVERED, outside.output
    said = " ".join(outside.output.split())
    assert "UNAUTHORISED change: it was deployed outside the claimed change's window" in said
    assert f"({reference} “" in said
    assert " UTC)" in said


def test_a_pipeline_may_name_its_change_as_the_gate_prints_it(cli_against: Api) -> None:
    """The gate printed CHG-1; given back as --change-id, it was recorded as unauthorised,
    "the change it claimed does not exist"."""
    change_id = approved_billing_change(cli_against)
    reference = cli_against.get(f"/api/changes/{change_id}", "rm").json()["reference"]
    checked = gate_cli(cli_against, "check", "--subsystem", "Billing", "--change-id", reference)
    assert checked.exit_code == 0, checked.output
    reported = gate_cli(cli_against, "report", "--subsystem", "Billing", "--version", "3",
                        "--change-id", reference.lower())  # fmt: skip
    assert reported.exit_code == 0, reported.output
    (deployment,) = cli_against.get("/api/deployments", "rm").json()["items"]
    assert (deployment["change_id"], deployment["claimed_change_id"]) == (change_id, change_id)


def test_deployed_at_is_shown_and_refused_with_an_example_timestamp(cli_against: Api) -> None:
    """`--help` and a refusal of `--deployed-at 2026-12-06` showed Python's format strings
    (%Y-%m-%dT%H:%M:%S.%f%z); `2026-12-06T21:30:00Z`, as pipelines write UTC, was refused."""
    shown = " ".join(runner.invoke(app, ["gate", "report", "--help"]).output.split())
    assert "2026-12-06T21:30:00+00:00" in shown
    assert "%Y" not in shown
    day = gate_cli(
        cli_against, "report", "--subsystem", "Billing", "--version", "1", "--deployed-at",
        "2026-12-06",
    )  # fmt: skip
    assert day.exit_code == 2
    assert "2026-12-06T21:30:00+00:00" in day.output
    assert "%Y" not in day.output
    approved_billing_change(cli_against)
    began = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)  # after approval
    utc = gate_cli(
        cli_against, "report", "--subsystem", "Billing", "--version", "1", "--deployed-at",
        began.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )  # fmt: skip
    assert utc.exit_code == 0, utc.output
    (deployment,) = cli_against.get("/api/deployments", "rm").json()["items"]
    assert datetime.fromisoformat(deployment["deployed_at"]) == began
