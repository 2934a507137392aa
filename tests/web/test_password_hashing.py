"""Passwords are stored as scrypt hashes at OWASP's minimum cost, and a hash made with
other work factors (an older default, changed settings) is made again at its owner's next
sign-in, the only time the password is known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.application import acting_as
from shared.identity.domain import (
    OWASP_SCRYPT,
    ScryptCost,
    User,
    cost_of,
    password_matches,
    user_id,
)
from shared.platform import Platform
from shared.settings import Settings, SettingsError, load_settings
from shared.store.log import public_entry
from tests.conftest import TEST_SCRYPT, make_settings
from tests.web.conftest import PASSWORD, Web

TESTS = ScryptCost(*(int(part) for part in TEST_SCRYPT.split(",")))
OLDER = ScryptCost(2048, 8, 1)


def _rehashed(web: Web) -> list[Any]:
    return [e for e in web.platform.log.entries(0, 10_000) if e.type == "User.PasswordRehashed"]


def _give_older_hash(web: Web, username: str) -> None:
    """As if the password had been set under other settings."""
    log = web.platform.log
    user = log.get(user_id(username), User, username)
    with acting_as("admin"):
        user.set_password(PASSWORD, OLDER)
        log.save(user)


def _sign_in(web: Web, username: str, password: str = PASSWORD) -> int:
    with web.client() as client:
        page = client.get("/signin")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        answer = client.post(
            "/signin",
            data={"csrf_token": csrf, "username": username, "password": password},
            follow_redirects=False,
        )
    return answer.status_code


def test_passwords_are_hashed_at_owasps_scrypt_minimum_by_default(
    backend: str, tmp_path: Path
) -> None:
    default = Settings.model_fields["password_scrypt"].default
    assert ScryptCost(*default) == OWASP_SCRYPT
    assert not OWASP_SCRYPT.below_owasp
    assert not ScryptCost(2**17, 8, 1).below_owasp  # OWASP's first form
    assert ScryptCost(2**14, 8, 1).below_owasp  # what Railyard used before
    assert ScryptCost(2**14, 4, 5).below_owasp
    for settings in make_settings(backend, tmp_path, password_scrypt=default):
        platform = Platform.build(settings)
        try:
            with acting_as("admin"):
                platform.identity.register("vp.sales", "Val", ["requester"], "Sales")
                platform.identity.set_password("vp.sales", PASSWORD)
            stored = platform.directory.password_hash("vp.sales")
        finally:
            platform.close()
    assert (stored or "").startswith("scrypt$16384$8$5$")
    assert password_matches(PASSWORD, stored)
    assert not password_matches(PASSWORD + "!", stored)


def test_a_password_hashed_with_other_factors_is_hashed_again_at_its_next_sign_in(
    web: Web,
) -> None:
    _give_older_hash(web, "vp.sales")
    before = web.platform.directory.password_hash("vp.sales")
    assert cost_of(before or "") == OLDER

    assert _sign_in(web, "vp.sales", "not the password") == 401
    assert _rehashed(web) == []  # a wrong password changes nothing

    assert _sign_in(web, "vp.sales") == 303
    after = web.platform.directory.password_hash("vp.sales")
    assert cost_of(after or "") == TESTS
    assert password_matches(PASSWORD, after)
    [event] = _rehashed(web)
    assert event.actor == "vp.sales"
    assert public_entry(event)["data"]["password_hash"] == "[redacted]"

    assert _sign_in(web, "vp.sales") == 303  # once is enough
    assert len(_rehashed(web)) == 1


def test_a_rehash_that_fails_leaves_the_sign_in_and_the_old_hash_standing(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    _give_older_hash(web, "rm")

    def refused(username: str, password: str) -> bool:
        raise RuntimeError("the log is locked")

    monkeypatch.setattr(web.platform.identity, "rehash_password", refused)
    assert _sign_in(web, "rm") == 303
    stored = web.platform.directory.password_hash("rm")
    assert cost_of(stored or "") == OLDER
    assert _rehashed(web) == []


def test_a_deactivated_users_old_hash_is_never_rehashed(web: Web) -> None:
    _give_older_hash(web, "cab.carl")
    with acting_as("admin"):
        web.platform.identity.deactivate("cab.carl", "left the company")
    assert _sign_in(web, "cab.carl") == 401
    assert _rehashed(web) == []


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("1000,8,1", "n must be a power of two"),
        ("16384,8", "three numbers n,r,p"),
        ("2097152,8,1", "more than 256 MiB"),
        ("16384,0,5", "r and p must be between 1 and 64"),
    ],
)
def test_scrypt_factors_that_cannot_work_are_refused_at_start_up(
    value: str, named: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RAILYARD_PASSWORD_SCRYPT", value)
    with pytest.raises(SettingsError, match="RAILYARD_PASSWORD_SCRYPT") as refused:
        load_settings(data_dir=tmp_path)
    assert named in str(refused.value)
