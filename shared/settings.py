"""Configuration from environment variables, validated once at start-up.

Every variable is prefixed `RAILYARD_` except `DATABASE_URL`, the conventional name that
hosting platforms and docker-compose already set.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SUBSYSTEMS = (
    "Billing",
    "CRM",
    "Call Centre Desktop",
    "Order Management",
    "Provisioning",
    "Customer Portal",
    "Data Warehouse",
)

ServiceName = Literal["intake", "release", "change_control", "metrics", "notify"]
ALL_SERVICES: tuple[ServiceName, ...] = (
    "intake",
    "release",
    "change_control",
    "metrics",
    "notify",
)


def check_port(value: int) -> int:
    """A port a server can listen on or reach (raises ValueError naming it otherwise)."""
    if not 1 <= value <= 65535:
        raise ValueError(f"{value} is not a port: give one from 1 to 65535")
    return value


class Settings(BaseSettings):
    """Everything an operator may set. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="RAILYARD_", extra="ignore", frozen=True, populate_by_name=True
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "RAILYARD_DATABASE_URL"),
        description="PostgreSQL URL; when unset the embedded SQLite store is used.",
    )
    db_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    data_dir: Path = Path("var")
    sqlite_file: str = "railyard.sqlite3"
    create_schema: bool = Field(
        default=True,
        description="Create tables at start-up. Turn off when a migrate step owns the schema.",
    )
    pool_size: int = Field(default=8, ge=1, le=200)
    startup_wait_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="At start-up, wait this long for the database's first connection.",
    )
    write_lock_timeout_s: int = Field(default=5, ge=1, le=600)
    statement_timeout_ms: int = Field(default=15_000, ge=100, le=3_600_000)

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    services: Annotated[tuple[ServiceName, ...], NoDecode] = ALL_SERVICES
    run_followers: bool = Field(
        default=True,
        description="Run projections and reactions in this process (off when a worker runs them).",
    )
    follower_poll_s: float = Field(default=0.2, gt=0, le=60)

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    timezone: str = "UTC"
    subsystems: Annotated[tuple[str, ...], NoDecode] = DEFAULT_SUBSYSTEMS

    # Change control: how many distinct CAB approvals each risk needs (README).
    cab_approvals_low: int = Field(default=1, ge=1, le=20)
    cab_approvals_medium: int = Field(default=2, ge=1, le=20)
    cab_approvals_high: int = Field(default=3, ge=1, le=20)
    cab_operations_approver_for: Annotated[
        tuple[Literal["low", "medium", "high"], ...], NoDecode
    ] = Field(
        default=("high",),
        description="Risks whose approvals must include a CAB member from operations.",
    )
    cab_emergency_approvals: int = Field(default=1, ge=1, le=20)

    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)
    feed_max_page: int = Field(default=1000, ge=10, le=10_000)
    read_your_writes_max_lag: int = Field(
        default=5_000,
        ge=0,
        description="A read catches its view up first when it is at most this many events behind.",
    )

    production: bool = Field(
        default=False,
        description="Production mode: webhook URLs must be https; cookies are Secure.",
    )
    secret_key: str | None = Field(
        default=None,
        min_length=32,
        description="Key for signing secrets; when unset one is generated and kept in the"
        " database.",
    )
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "Railyard <railyard@localhost>"
    triage_target_days: int = Field(
        default=5,
        ge=1,
        le=365,
        description="Days (calendar, both counted) a request may wait for triage before it"
        " is flagged as past the target.",
    )
    digest_hour: int = Field(
        default=8, ge=0, le=23, description="Daily digest hour, business time."
    )
    webhook_backoff_s: float = Field(default=5.0, gt=0, le=3600)
    webhook_max_backoff_s: float = Field(default=3600.0, gt=0, le=86_400)
    webhook_retry_for_s: float = Field(
        default=86_400.0,
        gt=0,
        le=30 * 86_400,
        description="Retry a failing delivery for this long, then park it as a dead letter.",
    )
    dispatch_poll_s: float = Field(default=0.5, gt=0, le=60)
    session_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Signs the browser session cookie; generated under data_dir when unset.",
    )
    session_max_age_s: int = Field(default=12 * 3600, ge=300, le=30 * 24 * 3600)
    password_scrypt: Annotated[tuple[int, int, int], NoDecode] = Field(
        default=(2**14, 8, 5),
        description="scrypt's n, r and p for passwords (OWASP's minimum by default); a"
        " password hashed otherwise is hashed again at its next sign-in.",
    )
    signin_limit_per_user: int = Field(
        default=10, ge=1, le=10_000, description="Failed sign-ins per username per 5 minutes."
    )
    signin_limit_per_address: int = Field(
        default=30, ge=1, le=100_000, description="Sign-in attempts per client address per 5 min."
    )
    token_failure_limit_per_address: int = Field(
        default=60,
        ge=1,
        le=100_000,
        description="Unknown, revoked or expired API tokens and calendar secrets per client"
        " address per 5 minutes.",
    )
    feed_limit_per_user: int = Field(
        default=1200, ge=1, le=1_000_000, description="Feed pages per user per minute."
    )
    feed_stream_limit_per_user: int = Field(
        default=60, ge=1, le=100_000, description="Live-tail connections per user per minute."
    )

    @field_validator("services", mode="before")
    @classmethod
    def _split_services(cls, value: object) -> object:
        if isinstance(value, str):
            names = tuple(part.strip() for part in value.split(",") if part.strip())
            if names == ("all",):
                return ALL_SERVICES
            unknown = [name for name in names if name not in ALL_SERVICES]
            if unknown or not names:
                # Named with the value given, not as "RAILYARD_SERVICES.1: Input should be".
                raise ValueError(
                    f"{value!r} names {', '.join(map(repr, unknown)) or 'no service'}: the"
                    f" services are {', '.join(ALL_SERVICES)} (comma-separated), or all"
                )
            return names
        return value

    @field_validator("subsystems", mode="before")
    @classmethod
    def _split_subsystems(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cab_operations_approver_for", mode="before")
    @classmethod
    def _split_risks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("password_scrypt", mode="before")
    @classmethod
    def _split_scrypt(cls, value: object) -> object:
        if isinstance(value, str):
            parts = tuple(part.strip() for part in value.split(","))
            if len(parts) != 3:
                raise ValueError(f"three numbers n,r,p as in 16384,8,5, not {value!r}")
            return parts
        return value

    @field_validator("password_scrypt")
    @classmethod
    def _scrypt_sane(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        n, r, p = value
        if n < 2 or n & (n - 1):
            raise ValueError(f"n must be a power of two (16384 is 2**14), not {n}")
        if not 1 <= r <= 64 or not 1 <= p <= 64:
            raise ValueError("r and p must be between 1 and 64")
        if 128 * n * r > 2**28:
            raise ValueError("n and r ask for more than 256 MiB for each password hashed")
        return value

    @field_validator("subsystems")
    @classmethod
    def _subsystems_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one subsystem is needed")
        if len({v.casefold() for v in value}) != len(value):
            raise ValueError("subsystem names must be unique")
        return value

    @field_validator("port", "smtp_port")
    @classmethod
    def _a_port(cls, value: int) -> int:
        return check_port(value)

    @field_validator("data_dir")
    @classmethod
    def _a_directory(cls, value: Path, info: ValidationInfo) -> Path:
        """Where the SQLite store can be: a directory, or one that can be made there.
        (Whether the system lets it be made is known only by making it: the commands say.)"""
        if info.data.get("database_url"):
            return value  # not used
        for folder in (value, *value.parents):
            if folder.exists() and not folder.is_dir():
                made = "" if folder == value else f"{value} cannot be made there: "
                raise ValueError(
                    f"{made}{folder} is a file, not a directory: name a directory for the"
                    " SQLite store (unset, ./var)"
                )
            if folder.exists():
                break
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        try:
            urlsplit(value).port  # noqa: B018  # read for the ValueError a bad port raises
        except ValueError:
            raise ValueError(
                "the port is not a number (postgresql://user@host:5432/database)"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def public_base(self) -> str:
        """Where people open Railyard (links in emails and notifications), no trailing /."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / self.sqlite_file

    @property
    def backend(self) -> Literal["sqlite", "postgres"]:
        return "postgres" if self.database_url else "sqlite"


class SettingsError(Exception):
    """A configuration value is wrong; the message names the variable and the problem."""


def load_settings(**overrides: object) -> Settings:
    """Read the environment, turning pydantic's report into one readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # overrides are validated by pydantic
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            # An alias (DATABASE_URL) is reported under its own name, already in capitals.
            named = field.upper() in ("DATABASE_URL", "RAILYARD_DATABASE_URL")
            variable = "DATABASE_URL" if field == "database_url" or named else None
            variable = variable or f"RAILYARD_{field.upper()}"
            message = error["msg"]
            if error["type"] in ("too_short", "string_too_short"):  # a secret: no "items"
                message = f"must be at least {error['ctx']['min_length']} characters long"
            elif error["type"] == "value_error":  # our own words, without "Value error, "
                message = str(error["ctx"]["error"])
            lines.append(f"{variable}: {message}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None


@lru_cache(maxsize=1)
def settings_from_environment() -> Settings:
    return load_settings()
