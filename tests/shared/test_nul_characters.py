"""The NUL character (U+0000), which PostgreSQL's text cannot hold: refused wherever
people type or send text (a form's: tests/web/test_intake_pages.py), and, should an event
ever carry one, the views still follow the log (a view that could not take an event would
stop every page reading it)."""

from __future__ import annotations

import uuid
from pathlib import Path

from shared import contracts
from tests.builders import request_payload
from tests.conftest import Api
from tests.foreign import publish

PROBLEM = "application/problem+json"


def test_text_holding_a_nul_character_is_refused_naming_its_field(api: Api) -> None:
    for payload, field in (
        (request_payload(title="Bill\x00shock"), "title"),
        (request_payload(subsystems=["Billing", "CR\x00M"]), "subsystems[1]"),
    ):
        answer = api.post("/api/requests", "vp.sales", json=payload)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["rule"] == "nul_character"
        assert f"{field} holds the NUL character" in answer.json()["detail"]
    assert api.get("/api/requests", "vp.sales").json()["items"] == []


def test_an_address_holding_a_nul_character_is_refused(api: Api) -> None:
    for address in ("/api/requests?q=a%00b", "/api/requests/a%00b"):
        answer = api.get(address, "vp.sales")
        assert answer.status_code == 422, address
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["rule"] == "nul_in_address"
    # A person's browser is told so as a page (it showed the problem's raw JSON).
    page = api.client.get("/dashboard?period=%00", headers={"Accept": "text/html"})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "The address holds the NUL character (%00)" in page.text


def test_an_event_carrying_a_nul_character_does_not_stop_the_views(api: Api) -> None:
    """Recorded before text was checked, or by a tool: the log keeps it as it is, the
    views show U+FFFD in its place."""
    change = uuid.uuid4()
    publish(api.platform.log, contracts.CHANGE_RAISED, change, 1, actor="dev.alice",
            change_type="normal", title="Patch\x00the CRM", bundle_id=None,
            subsystems=["CRM"], window_start="2027-01-12T20:00:00+00:00",
            window_end="2027-01-13T02:00:00+00:00", requester="dev.alice",
            implementers=["ops.olga"], risk="low")  # fmt: skip
    api.client.app.state.followers.run_once()  # type: ignore[attr-defined]
    assert api.client.app.state.followers.last_error is None  # type: ignore[attr-defined]
    answer = api.get(f"/api/changes/{change}", "cab.carl")
    assert answer.status_code == 200, answer.text
    assert answer.json()["title"] in ("Patch\ufffdthe CRM", "Patch\x00the CRM")  # SQLite keeps it
    assert api.post("/api/requests", "vp.sales", json=request_payload()).status_code == 201


def test_an_imported_row_holding_a_nul_character_is_rejected(tmp_path: Path) -> None:
    from railyard.importer import Defaults, Reader
    from shared.settings import load_settings

    path = tmp_path / "history.csv"
    path.write_text("key,title,submitted_at\nOLD-1,Bill\x00shock,2025-01-02\n", encoding="utf-8")
    reader = Reader(load_settings(database_url=None, data_dir=tmp_path), Defaults())
    (rejected,) = list(reader.read(path))
    assert "NUL character" in rejected.reason  # type: ignore[union-attr]
