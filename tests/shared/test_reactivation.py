"""An admin undoes a deactivation: the person is back with the password they had, while
the tokens and sessions the deactivation ended stay ended (on SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.conftest import Api

PROBLEM = "application/problem+json"


def test_a_reactivated_person_works_again_with_new_tokens_only(api: Api) -> None:
    old = api.people.headers("dev.alice")
    assert (
        api.post("/api/users/dev.alice/deactivate", "admin", json={"reason": "left"}).status_code
        == 200
    )
    back = api.post("/api/users/dev.alice/reactivate", "admin", json={"reason": "rehired"})
    assert back.status_code == 200, back.text
    assert api.get("/api/users/dev.alice", "admin").json()["active"] is True
    assert api.client.get("/api/requests", headers=old).status_code == 401
    issued = api.post("/api/users/dev.alice/tokens", "admin", json={"label": "again"})
    assert issued.status_code == 201, issued.text
    fresh = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert api.client.get("/api/me", headers=fresh).json()["username"] == "dev.alice"
    history = [e.type for e in api.platform.log.entries(0, 100_000)]
    assert history[-3:] == ["User.Deactivated", "User.Reactivated", "User.TokenIssued"]


def test_reactivating_an_active_person_is_409_and_writes_nothing(api: Api) -> None:
    before = len(api.platform.log.entries(0, 100_000))
    again = api.post("/api/users/dev.alice/reactivate", "admin", json={"reason": "x"})
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["rule"] == "user_active"
    assert len(api.platform.log.entries(0, 100_000)) == before


def test_only_an_admin_reactivates_and_a_reason_is_given(api: Api) -> None:
    api.post("/api/users/dev.alice/deactivate", "admin", json={"reason": "left"})
    before = len(api.platform.log.entries(0, 100_000))
    refused = api.post("/api/users/dev.alice/reactivate", "rm", json={"reason": "mine"})
    assert refused.status_code == 403
    assert refused.json()["rule"] == "role_required"
    reasonless = api.post("/api/users/dev.alice/reactivate", "admin", json={})
    assert reasonless.status_code == 422
    assert "reason" in reasonless.text
    assert len(api.platform.log.entries(0, 100_000)) == before
