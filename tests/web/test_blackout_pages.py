"""The release manager's blackout windows in the browser: declared, shown with the
changes they hold back, lifted with a reason; refused forms keep what was typed; other
roles read them and cannot change them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.web.conftest import Web
from tests.web.test_change_pages import raise_change

BLACKOUT_ID = re.compile(r'action="/blackouts/([0-9a-f-]{36})/lift"')


def blackout_form(**overrides: str | list[str]) -> dict[str, str | list[str]]:
    """Six hours from the top of this hour: over the window `raise_change` plans."""
    start = datetime.now().replace(minute=0, second=0, microsecond=0)
    form: dict[str, str | list[str]] = {
        "name": "Month-end billing run",
        "start": start.isoformat(timespec="minutes"),
        "end": (start + timedelta(hours=6)).isoformat(timespec="minutes"),
        "subsystems": ["Billing"],
        "reason": "Invoices go out",
    }
    form.update(overrides)
    return form


def declare(client: Any, csrf: str) -> str:
    """Declares the usual blackout as the signed-in release manager; returns its id."""
    client.post("/blackouts", data={"csrf_token": csrf, **blackout_form()})
    found = BLACKOUT_ID.search(client.get("/blackouts").text)
    assert found is not None
    return found.group(1)


def approve(web: Web, change_id: str) -> str:
    answer = web.submit("cab.carl", f"/changes/{change_id}/approve", {"revision": "1"})
    return answer.text if answer.status_code != 303 else "approved"


def test_a_declared_blackout_holds_back_the_change_it_overlaps_until_it_is_lifted(
    web: Web,
) -> None:
    """Declared from the page, the blackout is listed with the change it holds back, and
    the CAB's approval of that change is refused; lifted with a reason, it moves to the
    lifted ones and the approval goes through."""
    change_id = raise_change(web, title="Patch the billing database")
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        declared = client.post(
            "/blackouts", data={"csrf_token": csrf, **blackout_form()}, follow_redirects=False
        )
        assert declared.headers["location"].startswith("/blackouts?done=declared&blackout=")
        page = client.get(declared.headers["location"]).text
    assert "The blackout is declared" in page
    assert "Month-end billing run" in page
    assert f'Holds back: <span class="ref">CHG-1</span> <a href="/changes/{change_id}">' in page
    assert "in force" in page
    assert "blackout" in approve(web, change_id).lower()

    found = BLACKOUT_ID.search(page)
    assert found is not None
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        lifted = client.post(
            f"/blackouts/{found.group(1)}/lift",
            data={"csrf_token": csrf, "reason": "The billing run moved to Sunday"},
            follow_redirects=False,
        )
        assert lifted.headers["location"] == "/blackouts?done=lifted"
        after = client.get("/blackouts").text
    assert "No blackout is in force or to come." in after
    assert "lifted: The billing run moved to Sunday" in after
    assert approve(web, change_id) == "approved"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"end": "2020-01-01T00:00"}, "The window ends before it starts: give an end after"),
        ({"start": ""}, "A blackout has a start and an end."),
        ({"start": "next tuesday"}, "The start is not a date and time"),
        ({"subsystems": ["Mainframe"]}, "Mainframe"),
        ({"name": ""}, "name"),
    ],
)
def test_a_refused_blackout_says_why_and_keeps_what_was_typed(
    web: Web, overrides: dict[str, str | list[str]], message: str
) -> None:
    before = web.events()
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        answer = client.post("/blackouts", data={"csrf_token": csrf, **blackout_form(**overrides)})
    assert answer.status_code in (400, 422)
    assert "Not saved." in answer.text
    assert message in answer.text
    assert 'value="Invoices go out"' not in answer.text  # a textarea keeps it as its text
    assert ">Invoices go out</textarea>" in answer.text
    assert web.events() == before


def test_lifting_needs_a_reason_and_a_lifted_blackout_stays_lifted(web: Web) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        lift = f"/blackouts/{declare(client, csrf)}/lift"
        without = client.post(lift, data={"csrf_token": csrf, "reason": " "})
        client.post(lift, data={"csrf_token": csrf, "reason": "Not needed"})
        again = client.post(lift, data={"csrf_token": csrf, "reason": "Twice"})
    assert without.status_code == 422
    assert "reason" in without.text
    assert again.status_code == 409
    assert "was lifted" in again.text


@pytest.mark.parametrize("username", ["dev.alice", "cab.carl", "vp.sales"])
def test_other_roles_read_the_blackouts_and_cannot_declare_or_lift_them(
    web: Web, username: str
) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        client.post("/blackouts", data={"csrf_token": csrf, **blackout_form()})
        found = BLACKOUT_ID.search(client.get("/blackouts").text)
    assert found is not None
    before = web.events()
    with web.client() as client:
        csrf = web.sign_in(client, username)
        page = client.get("/blackouts").text
        declared = client.post("/blackouts", data={"csrf_token": csrf, **blackout_form()})
        lifted = client.post(
            f"/blackouts/{found.group(1)}/lift", data={"csrf_token": csrf, "reason": "x"}
        )
    assert "Month-end billing run" in page
    assert "Declare a blackout" not in page
    assert 'action="/blackouts/' not in page  # no Lift buttons
    assert (declared.status_code, lifted.status_code) == (403, 403)
    assert web.events() == before


def test_a_blackout_moved_off_a_changes_window_lets_the_cab_approve_it(web: Web) -> None:
    """Its form opens filled in with the blackout as it stands (in the business time
    zone); moved a day later and narrowed to CRM, it no longer holds the change back."""
    change_id = raise_change(web, title="Patch the billing database")
    form = blackout_form()
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        client.post("/blackouts", data={"csrf_token": csrf, **form})
        page = client.get("/blackouts").text
        found = BLACKOUT_ID.search(page)
        assert found is not None
        blackout_id = found.group(1)
        assert f'action="/blackouts/{blackout_id}"' in page
        assert f'value="{form["start"]}"' in page  # as declared, for the form to move
        assert "blackout" in approve(web, change_id).lower()
        moved = blackout_form(
            start=str(datetime.fromisoformat(str(form["start"])) + timedelta(days=1))[:16],
            end=str(datetime.fromisoformat(str(form["end"])) + timedelta(days=1))[:16],
            subsystems=["CRM"],
        )
        saved = client.post(
            f"/blackouts/{blackout_id}",
            data={"csrf_token": csrf, **moved},
            follow_redirects=False,
        )
        assert saved.headers["location"] == f"/blackouts?done=changed&blackout={blackout_id}"
        after = client.get(saved.headers["location"]).text
    assert "The blackout is saved" in after
    assert "It holds back no open change." in after
    assert "Holds back" not in after
    assert approve(web, change_id) == "approved"


def test_a_refused_move_is_named_on_its_own_blackout_with_what_was_typed(web: Web) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        blackout_id = declare(client, csrf)
        before = web.events()
        refused = client.post(
            f"/blackouts/{blackout_id}",
            data={"csrf_token": csrf, **blackout_form(name="Renamed", end="2020-01-01T00:00")},
        )
    assert refused.status_code == 422
    assert "<details open>" in refused.text
    assert "The window ends before it starts" in refused.text
    assert 'value="Renamed"' in refused.text
    assert web.events() == before


def test_declaring_a_blackout_over_an_approved_change_says_at_once_that_it_holds_it_back(
    web: Web,
) -> None:
    """The notice names the change (linked), not first the CAB's refusal later."""
    change_id = raise_change(web, title="Deploy the December release")
    assert approve(web, change_id) == "approved"
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        declared = client.post(
            "/blackouts", data={"csrf_token": csrf, **blackout_form()}, follow_redirects=False
        )
        page = client.get(declared.headers["location"]).text
    notice = re.search(r'<p class="notice" role="status">(.*?)</p>', page, re.S)
    assert notice is not None
    assert notice.group(1) == (
        "The blackout is declared: changes overlapping it cannot be approved. It holds back"
        ' <a href="/changes/CHG-1">CHG-1</a> “Deploy the December release”: none may be'
        " approved or started while it stands."
    )
