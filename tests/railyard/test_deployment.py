"""docker-compose.yml cannot run here (no Docker engine); what can be checked, is."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer.main
import yaml

from railyard.cli import app

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def cli_command(words: list[str]) -> tuple[Any, list[str]]:
    command: Any = typer.main.get_command(app)
    rest = list(words)
    while getattr(command, "commands", None) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        assert sub is not None, f"railyard has no command {rest[0]!r}"
        command, rest = sub, rest[1:]
    return command, rest


def test_compose_file_parses_and_has_postgres_with_a_health_check() -> None:
    services = compose()["services"]
    assert "healthcheck" in services["postgres"]
    from railyard.app import FACTORIES

    for name in (*FACTORIES, "worker", "migrate"):
        assert name in services, name


def test_every_command_compose_runs_exists_with_its_options() -> None:
    for name, service in compose()["services"].items():
        if "command" not in service:
            continue
        words = service["command"]
        words = shlex.split(words) if isinstance(words, str) else words
        assert words[0] == "railyard", name
        command, rest = cli_command(words[1:])
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for word in rest:
            if word.startswith("--"):
                assert word in known, f"{name}: railyard {words[1]} has no option {word}"


def test_service_names_in_compose_are_services_railyard_serves() -> None:
    from railyard.app import FACTORIES

    for name, service in compose()["services"].items():
        words = service.get("command", [])
        if "--service" in words:
            assert words[words.index("--service") + 1] in FACTORIES, name


def test_files_compose_mounts_and_builds_exist() -> None:
    assert (ROOT / "Dockerfile").is_file()
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_api_processes_do_not_create_the_schema_or_run_followers() -> None:
    """Only `migrate` creates tables and only the worker follows: no start-up races."""
    anchor = compose()["x-railyard"]["environment"]
    assert anchor["RAILYARD_CREATE_SCHEMA"] == "false"
    assert anchor["RAILYARD_RUN_FOLLOWERS"] == "false"


def test_processes_connect_as_the_role_migrate_grants_and_migrate_as_the_owner() -> None:
    """The API processes and the worker run with the least privilege migrate prepared."""
    services = compose()["services"]
    migrate = services["migrate"]["command"]
    role = migrate[migrate.index("--grant-to") + 1]
    anchor = compose()["x-railyard"]["environment"]
    assert anchor["DATABASE_URL"].startswith(f"postgresql://{role}:")
    assert not services["migrate"]["environment"]["DATABASE_URL"].startswith(
        f"postgresql://{role}:"
    )


def test_links_from_compose_name_the_public_address_not_where_containers_listen() -> None:
    """Every container listens on 0.0.0.0:8000; a link in an email or a webhook message
    must name where people reach Railyard, which the operator sets."""
    services = compose()["services"]
    anchor = compose()["x-railyard"]["environment"]
    assert anchor["RAILYARD_PUBLIC_URL"] == "${RAILYARD_PUBLIC_URL:-http://localhost:8000}"
    for name, service in services.items():
        if service.get("command", [])[:1] == ["railyard"] and name != "migrate":
            assert service["environment"]["RAILYARD_PUBLIC_URL"], name


def test_a_container_that_serves_no_http_is_not_health_checked_over_http() -> None:
    """The image's HEALTHCHECK asks :8000/healthz; the worker and migrate serve nothing
    there, so inheriting it would mark them unhealthy for ever."""
    assert "/healthz" in (ROOT / "Dockerfile").read_text()
    for name, service in compose()["services"].items():
        if service.get("image") != "railyard:latest":
            continue
        serves = service["command"][:2] == ["railyard", "serve"]
        check = service.get("healthcheck")
        if serves:
            assert check is None or "/healthz" in str(check.get("test")), name
        else:
            assert check is not None, f"{name} inherits the image's HTTP health check"
            assert check.get("disable") is True or "/healthz" not in str(check.get("test")), name
