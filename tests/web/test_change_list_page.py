"""The list of every production change: what is open, what ended, what a person raised
or implements, of a type, on a subsystem, with words in its title; a page at a time;
an address it cannot read is named, not a failure."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest

from shared.web import listing
from tests.web.conftest import REFERENCE, Web
from tests.web.conftest import listed as shown
from tests.web.test_change_pages import raise_change


def listed(web: Web, address: str, as_: str = "cab.carl") -> list[str]:
    return shown(web, address, as_)


def reject(web: Web, change_id: str) -> None:
    answer = web.submit("cab.carl", f"/changes/{change_id}/reject", {"reason": "Not this quarter"})
    assert answer.status_code == 303, answer.text


def test_the_change_list_shows_open_changes_newest_first_and_ended_ones_when_asked(
    web: Web,
) -> None:
    """Open is the default (a completed change waiting for its review is still open); a
    rejected change is listed under ended and under every status, never as open."""
    raise_change(web, title="Patch the billing database")
    rejected = raise_change(web, title="Swap the load balancer")
    raise_change(web, title="Rotate the certificates")
    reject(web, rejected)
    assert listed(web, "/changes") == ["CHG-3", "CHG-1"]
    assert listed(web, "/changes?status=ended") == ["CHG-2"]
    assert listed(web, "/changes?status=rejected") == ["CHG-2"]
    assert listed(web, "/changes?status=all") == ["CHG-3", "CHG-2", "CHG-1"]
    assert listed(web, "/changes?status=in_review") == ["CHG-3", "CHG-1"]


def test_the_change_list_filters_by_person_type_subsystem_and_words(web: Web) -> None:
    """Each filter narrows the list, and they combine; a subsystem is matched whatever
    its case, as the catalogue spells it."""
    raise_change(web, title="Patch the billing database", subsystems=["Billing"])
    raise_change(
        web, "ops.olga", title="Restart the CRM cluster", subsystems=["CRM"],
        implementers=["ops.olga"], change_type="emergency",
    )  # fmt: skip
    raise_change(web, title="Index the CRM search", subsystems=["CRM", "Billing"])
    assert listed(web, "/changes?person=ops.olga") == ["CHG-2"]
    assert listed(web, "/changes?person=dev.alice") == ["CHG-3", "CHG-1"]
    assert listed(web, "/changes?type=emergency") == ["CHG-2"]
    assert listed(web, "/changes?subsystem=billing") == ["CHG-3", "CHG-1"]
    assert listed(web, "/changes?subsystem=CRM&q=search") == ["CHG-3"]
    assert listed(web, "/changes?q=nothing+like+this") == []


def test_mine_lists_what_the_viewer_raised_or_implements(web: Web) -> None:
    """The page's "raised or implemented by me" and My work both lead to the viewer's
    own changes: one dev.alice implements though ops.olga raised it counts."""
    raise_change(web, "ops.olga", title="Restart the CRM cluster", implementers=["ops.olga"])
    raise_change(web, "ops.olga", title="Patch the billing database", implementers=["dev.alice"])
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        page = client.get("/changes").text
        work = client.get("/my-work").text
    assert 'href="/changes?person=dev.alice">raised or implemented by me</a>' in page
    assert 'href="/changes?person=dev.alice">open</a>' in work
    assert listed(web, "/changes?person=dev.alice", as_="dev.alice") == ["CHG-2"]


def test_the_change_list_goes_a_page_at_a_time(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    """Newer and Older links keep the filters; a page past the last says so and leads
    back to the first."""
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    for n in range(5):
        raise_change(web, title=f"Patch number {n}")
    assert listed(web, "/changes") == ["CHG-5", "CHG-4"]
    assert listed(web, "/changes?page=3") == ["CHG-1"]
    with web.client() as client:
        web.sign_in(client, "vp.sales")  # every role reads the list
        second = client.get("/changes?q=patch&page=2").text
        past = client.get("/changes?page=9").text
    assert "3\u20134 of 5" in second  # an en dash
    assert 'href="/changes?q=patch" rel="prev">Newer</a>' in second
    assert 'href="/changes?q=patch&amp;page=3" rel="next">Older</a>' in second
    assert "Page 9 is past the last of 3" in past
    assert 'href="/changes">the first page</a>' in past


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "There is no status “bogus”: showing open changes."),
        ("type=urgent", "There is no change type “urgent”: showing every type."),
        ("subsystem=Mainframe", "There is no subsystem “Mainframe”: showing every one."),
        ("page=0", "“0” is not a page number: showing the first page."),
        ("page=-1", "“-1” is not a page number: showing the first page."),
        ("completed_to=31/03/2026", "“31/03/2026” is not a date (YYYY-MM-DD): showing any"),
    ],
)
def test_an_address_the_list_cannot_read_is_named_and_the_rest_answered(
    web: Web, query: str, message: str
) -> None:
    """A hand-typed or stale address is not a 422: the page says what it set aside and
    lists the open changes as asked otherwise."""
    raise_change(web, title="Patch the billing database")
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        page = client.get(f"/changes?{query}")
    assert page.status_code == 200
    assert message in page.text
    assert REFERENCE.findall(page.text) == ["CHG-1"]


@pytest.mark.parametrize("person", ["%", "_%", "dev.alic_"])
def test_a_person_is_matched_by_name_not_as_a_pattern(web: Web, person: str) -> None:
    """`%` and `_` in a name asked for are characters, not SQL wildcards: they match no
    one here, in the page and in the API alike (they matched every change)."""
    raise_change(web, title="Patch the billing database")
    assert listed(web, f"/changes?person={quote(person)}") == []
    with web.client() as client:
        found = client.get(
            "/api/changes", params={"person": person}, headers=web.people.headers("cab.carl")
        )
    assert found.json()["total"] == 0


def test_the_whole_list_downloads_as_csv_with_its_filters_and_no_formulas(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every matching change, not one page (read a chunk at a time), newest first; a
    title a spreadsheet would run as a formula is written as text."""
    monkeypatch.setattr(listing, "EXPORT_CHUNK", 2)
    for n in range(4):
        raise_change(web, title=f"Patch number {n}")
    raise_change(web, title='=HYPERLINK("http://evil")', subsystems=["CRM"])
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get("/changes?q=patch").text
        every = client.get("/changes.csv")
        crm = client.get("/changes.csv?subsystem=CRM")
    assert 'href="/changes.csv?q=patch" download>CSV</a>' in page
    assert every.headers["content-type"] == "text/csv; charset=utf-8"
    assert every.headers["content-disposition"].startswith('attachment; filename="changes-')
    rows = list(csv.DictReader(io.StringIO(every.text)))
    assert [r["Reference"] for r in rows] == ["CHG-5", "CHG-4", "CHG-3", "CHG-2", "CHG-1"]
    assert rows[0]["Title"] == '\'=HYPERLINK("http://evil")'
    assert rows[1]["Subsystems"] == "Billing"
    assert [r["Reference"] for r in csv.DictReader(io.StringIO(crm.text))] == ["CHG-5"]
