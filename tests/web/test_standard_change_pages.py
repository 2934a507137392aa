"""The catalogue of standard changes in the browser: a release manager publishes a
low-risk template, IT staff raise a change from it with its plans filled in, and a
retired template offers no more; a template that is not low risk is refused."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Web

RETIRE = re.compile(r'action="/standard-changes/([0-9a-f-]{36})/retire"')


def template_form(**overrides: str | list[str]) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "name": "Restart the CRM application servers",
        "description": "When the CRM answers slowly after a patch.",
        "subsystems": ["CRM"],
        "implementation_plan": "Drain node 1, restart it, then node 2.",
        "backout_plan": "Nothing to back out: a restart changes nothing.",
        "impact": "minor",
        "likelihood": "unlikely",
        "affected_users": "none",
        "backout_tested": "yes",
    }
    form.update(overrides)
    return form


def publish(web: Web, as_: str = "rm", **overrides: str | list[str]) -> str:
    """Publishes a template; returns the page after it."""
    with web.client() as client:
        csrf = web.sign_in(client, as_)
        answer = client.post(
            "/standard-changes", data={"csrf_token": csrf, **template_form(**overrides)}
        )
    assert answer.status_code == 200, answer.text
    return answer.text


def test_it_staff_raise_a_change_from_a_published_template_with_its_plans_filled_in(
    web: Web,
) -> None:
    page = publish(web)
    assert "The template is published" in page
    found = RETIRE.search(page)
    assert found is not None
    template_id = found.group(1)
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        catalogue = client.get("/standard-changes").text
        form = client.get(f"/changes/new?template_id={template_id}").text
    assert f'href="/changes/new?template_id={template_id}">Raise one</a>' in catalogue
    assert "Publish a template" not in catalogue  # IT staff raise; they do not publish
    assert 'value="Restart the CRM application servers"' in form
    assert f'<option value="{template_id}" selected>' in form
    assert '<option value="standard" selected>' in form
    assert ">Drain node 1, restart it, then node 2.</textarea>" in form
    assert 'value="CRM" checked' in form


def test_a_standard_change_raised_from_its_templates_form_as_filled_in_is_raised(
    web: Web,
) -> None:
    """The form filled the template's plans in, and sending them back was refused as a
    plan of the change's own ("a standard change takes its plans and risk from its
    template"): every standard change raised from the catalogue failed. As shown (the
    browser sends a textarea's lines with CR LF) it is raised; a plan edited is refused
    saying what to do instead."""
    from tests.web.test_change_pages import raise_form

    found = RETIRE.search(publish(web))
    assert found is not None
    template_id = found.group(1)
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        form = client.get(f"/changes/new?template_id={template_id}").text
        assert "Drain node 1, restart it, then node 2.</textarea>" in form
        assert 'name="implementation_plan" maxlength="20000" readonly>' in form
        assert 'name="impact"' not in form  # its risk is the template's
        sent = raise_form(
            change_type="standard",
            template_id=template_id,
            title="Restart the CRM application servers",
            subsystems=["CRM"],
            implementation_plan="Drain node 1, restart it, then node 2.\r\n",
            backout_plan="Nothing to back out: a restart changes nothing.",
            test_evidence="",
        )
        for risk in ("impact", "likelihood", "affected_users", "backout_tested"):
            del sent[risk]
        raised = client.post(
            "/changes/new", data={"csrf_token": csrf, **sent}, follow_redirects=False
        )
        assert raised.status_code == 303, raised.text
        change_id = raised.headers["location"].split("/changes/")[1].split("?")[0]
        detail = client.get(f"/api/changes/{change_id}").json()
        assert (detail["change_type"], detail["status"]) == ("standard", "approved")
        assert detail["implementation_plan"] == "Drain node 1, restart it, then node 2."
        # Its page says it waits for nobody (it said it waited for the CAB, needing 1).
        page = client.get(raised.headers["location"]).text
        assert "approved by its standard template: start it in its window." in page
        assert "waits for the CAB" not in page
        assert "needs 1" not in page
        assert "Approvals: none yet" not in page
        assert "dev.alice</strong> followed a pre-approved standard template" in page
        # Revised (its window moved), it is approved again by its template, as it says.
        later = (datetime.fromisoformat(str(sent["window_end"])) + timedelta(hours=1)).isoformat()
        revised = client.post(
            f"/changes/{change_id}/revise",
            data={"csrf_token": csrf, **{**sent, "window_end": later}},
        )
        assert "The change is revised, and approved by its standard template" in revised.text
        assert "waits for the CAB" not in revised.text
        assert "its template approves it again" in revised.text
        assert client.get(f"/api/changes/{change_id}").json()["revision"] == 2
        sent["implementation_plan"] = "Restart both nodes at once."
        refused = client.post("/changes/new", data={"csrf_token": csrf, **sent})
    assert refused.status_code == 422
    assert "as published: to plan it otherwise, raise a normal change" in refused.text


def test_a_retired_template_is_no_longer_offered(web: Web) -> None:
    page = publish(web)
    found = RETIRE.search(page)
    assert found is not None
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        client.post(
            f"/standard-changes/{found.group(1)}/retire",
            data={"csrf_token": csrf, "reason": "Replaced by the autoscaler"},
        )
        after = client.get("/standard-changes").text
        raising = client.get(f"/changes/new?template_id={found.group(1)}").text
    assert "No standard change is in the catalogue yet." in after
    assert "Replaced by the autoscaler" in after
    assert 'value="Restart the CRM application servers"' not in raising


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"impact": "major", "likelihood": "likely"}, "A standard change is low risk"),
        ({"subsystems": []}, "Name the subsystems"),
        ({"impact": ""}, "Answer the four risk questions"),
        ({"backout_plan": ""}, "backout_plan"),
    ],
)
def test_a_refused_template_says_why_and_keeps_what_was_typed(
    web: Web, overrides: dict[str, str | list[str]], message: str
) -> None:
    before = web.events()
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        answer = client.post(
            "/standard-changes", data={"csrf_token": csrf, **template_form(**overrides)}
        )
    assert answer.status_code == 422
    assert "Not saved." in answer.text
    assert message in answer.text
    assert 'value="Restart the CRM application servers"' in answer.text
    assert web.events() == before


def test_a_template_of_a_name_in_use_is_refused_in_a_sentence_and_keeps_what_was_typed(
    web: Web,
) -> None:
    """The second "Restart the CRM application servers" (in another case) made two
    templates nobody could tell apart when raising a change from one."""
    publish(web)
    before = web.events()
    with web.client() as client:
        csrf = web.sign_in(client, "admin")
        answer = client.post(
            "/standard-changes",
            data={
                "csrf_token": csrf,
                **template_form(name="restart the CRM application servers", description="Twin"),
            },
        )
    assert answer.status_code == 409
    assert "Not saved." in answer.text
    assert (
        "A standard template named &#39;Restart the CRM application servers&#39; is in use:"
        " choose another name, or retire or rename that one first."
    ) in answer.text
    assert 'value="restart the CRM application servers"' in answer.text  # as typed
    assert web.events() == before


@pytest.mark.parametrize("username", ["dev.alice", "cab.carl", "vp.sales"])
def test_only_release_managers_and_admins_publish_or_retire(web: Web, username: str) -> None:
    page = publish(web)
    found = RETIRE.search(page)
    assert found is not None
    before = web.events()
    with web.client() as client:
        csrf = web.sign_in(client, username)
        published = client.post("/standard-changes", data={"csrf_token": csrf, **template_form()})
        retired = client.post(
            f"/standard-changes/{found.group(1)}/retire", data={"csrf_token": csrf, "reason": "x"}
        )
    assert (published.status_code, retired.status_code) == (403, 403)
    assert web.events() == before


def revise(web: Web, client: TestClient, as_: str, template_id: str, **changed: str) -> Any:
    """`as_` posts the template's revision form, as `template_form` fills it but `changed`."""
    csrf = web.sign_in(client, as_)
    return client.post(
        f"/standard-changes/{template_id}",
        data={"csrf_token": csrf, **template_form(**changed)},
        follow_redirects=False,
    )


def test_a_revised_template_fills_the_next_change_raised_from_it(web: Web) -> None:
    page = publish(web)
    found = RETIRE.search(page)
    assert found is not None
    template_id = found.group(1)
    assert f'action="/standard-changes/{template_id}"' in page  # its revision form
    assert ">Drain node 1, restart it, then node 2.</textarea>" in page  # filled as it stands
    with web.client() as client:
        revised = revise(
            web, client, "admin", template_id, implementation_plan="Drain, restart, check."
        )
        assert revised.headers["location"] == "/standard-changes?done=revised"
        assert "The template is revised" in client.get("/standard-changes?done=revised").text
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        form = client.get(f"/changes/new?template_id={template_id}").text
    assert "Drain, restart, check." in form


def test_a_revision_that_is_no_longer_low_risk_is_refused_in_place(web: Web) -> None:
    found = RETIRE.search(publish(web))
    assert found is not None
    before = web.events()
    with web.client() as client:
        refused = revise(
            web,
            client,
            "rm",
            found.group(1),
            impact="major",
            likelihood="likely",
            name="Restart it all",
        )
    assert refused.status_code in (409, 422)
    assert "<details open>" in refused.text
    assert "A standard change is low risk" in refused.text
    assert 'value="Restart it all"' in refused.text
    assert web.events() == before
