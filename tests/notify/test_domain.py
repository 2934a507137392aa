"""Subscriptions and endpoints: the rules, without a database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.notify.domain import (
    Channel,
    Subscriptions,
    Topic,
    WebhookEndpoint,
    check_filter,
    effective_channel,
    matches,
)
from services.notify.signing import SignatureError, sign, verify
from shared.domain import InvalidCommand, RuleViolation, attributed_to


@pytest.fixture(autouse=True)
def acting() -> Iterator[None]:
    with attributed_to("admin"):
        yield


def register(
    url: str = "https://hooks.example.com/railyard", *, https: bool = False, **kwargs: object
) -> WebhookEndpoint:
    values: dict[str, object] = {
        "event_types": ["*"],
        "description": "",
        "max_in_flight": 4,
        "timeout_s": 5.0,
    }
    values.update(kwargs)
    return WebhookEndpoint.register(url, require_https=https, **values)  # type: ignore[arg-type]


def test_production_requires_https_webhooks() -> None:
    with pytest.raises(InvalidCommand) as refused:
        register("http://hooks.example.com/x", https=True)
    assert refused.value.rule == "https_required"
    assert register("http://127.0.0.1:9000/x").url.startswith("http://")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://localhost:8443/x",
        "https://10.1.2.3/x",
        "https://192.168.0.10/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
    ],
)
def test_personal_webhook_cannot_point_at_internal_hosts_in_production(url: str) -> None:
    subscriptions = Subscriptions(username="vp.sales")
    with pytest.raises(InvalidCommand) as refused:
        subscriptions.set_webhook(url, require_https=True)
    assert refused.value.rule == "internal_webhook_address"
    subscriptions.set_webhook(url, require_https=False)  # outside production: a test receiver


def test_personal_webhook_may_point_at_public_hosts_in_production() -> None:
    subscriptions = Subscriptions(username="vp.sales")
    subscriptions.set_webhook("https://hooks.example.com/me", require_https=True)
    assert subscriptions.webhook_url == "https://hooks.example.com/me"


def test_webhook_urls_carry_no_credentials() -> None:
    with pytest.raises(InvalidCommand) as refused:
        register("https://user:pw@hooks.example.com/x")
    assert refused.value.rule == "credentials_in_url"


def test_event_filters_name_event_types() -> None:
    assert check_filter(["ChangeRequest.Accepted", "ProductionChange.*"]) == [
        "ChangeRequest.Accepted",
        "ProductionChange.*",
    ]
    with pytest.raises(InvalidCommand):
        check_filter(["accepted"])
    with pytest.raises(InvalidCommand):
        check_filter([])


def test_filters_match_exact_types_whole_aggregates_or_everything() -> None:
    assert matches("ChangeRequest.Accepted", ["ChangeRequest.Accepted"])
    assert matches("ChangeRequest.Accepted", ["ChangeRequest.*"])
    assert matches("User.Registered", ["*"])
    assert not matches("ChangeRequest.Rejected", ["ChangeRequest.Accepted"])


def test_removed_endpoint_refuses_changes() -> None:
    endpoint = register()
    endpoint.remove()
    with pytest.raises(RuleViolation):
        endpoint.pause("x")


def test_rotating_the_secret_bumps_its_version() -> None:
    endpoint = register()
    assert endpoint.rotate_secret() == 2


def test_role_defaults_apply_until_a_person_chooses() -> None:
    assert effective_channel(Topic.DEPARTMENT_REQUESTS, {}, ["requester"]) == Channel.EMAIL
    assert effective_channel(Topic.APPROVALS, {}, ["requester"]) == Channel.OFF
    assert effective_channel(Topic.APPROVALS, {}, ["cab_member"]) == Channel.EMAIL
    assert effective_channel(Topic.NEW_SUBMISSIONS, {}, ["release_manager"]) == Channel.EMAIL
    chosen = {Topic.DEPARTMENT_REQUESTS.value: Channel.DIGEST.value}
    assert effective_channel(Topic.DEPARTMENT_REQUESTS, chosen, ["requester"]) == Channel.DIGEST


def test_webhook_channel_needs_a_webhook_url() -> None:
    subscriptions = Subscriptions(username="vp.sales")
    with pytest.raises(RuleViolation) as refused:
        subscriptions.choose(Topic.DEPARTMENT_REQUESTS, Channel.WEBHOOK)
    assert refused.value.rule == "webhook_url_required"
    subscriptions.set_webhook("https://chat.example.com/hook", require_https=True)
    subscriptions.choose(Topic.DEPARTMENT_REQUESTS, Channel.WEBHOOK)
    with pytest.raises(RuleViolation):
        subscriptions.set_webhook(None, require_https=True)


def test_a_signature_verifies_and_refuses_tampering_and_replays() -> None:
    body = b'{"position": 7}'
    header = sign("whsec_x", body, timestamp=1_000)
    assert verify("whsec_x", header, body, now=1_010) == 1_000
    with pytest.raises(SignatureError, match="does not match"):
        verify("whsec_x", header, body + b" ", now=1_010)
    with pytest.raises(SignatureError, match="does not match"):
        verify("whsec_other", header, body, now=1_010)
    with pytest.raises(SignatureError, match="replay"):
        verify("whsec_x", header, body, now=1_000 + 3_600)
    with pytest.raises(SignatureError):
        verify("whsec_x", "garbage", body)


def test_personal_webhook_name_resolving_to_an_internal_address_is_refused_at_delivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from services.notify import dispatch

    def resolve(host: str, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        address = "10.0.0.5" if host == "rebound.example.com" else "93.184.215.14"
        return [(2, 1, 6, "", (address, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert dispatch._resolves_internally("https://rebound.example.com/hook")
    assert not dispatch._resolves_internally("https://hooks.example.com/hook")
