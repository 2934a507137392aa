"""A history line as the pages show it: escaped, the records it names linked."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from shared.web.history import linked


def test_a_reference_written_in_a_line_links_to_its_page() -> None:
    line = linked("commented: blocked by CHG-7, see REQ-12.")
    assert line == (
        'commented: blocked by <a href="/changes/CHG-7">CHG-7</a>,'
        ' see <a href="/requests/REQ-12">REQ-12</a>.'
    )


def test_only_a_whole_reference_links() -> None:
    for text in ("XREQ-3", "REQ-0", "REQ-", "req-3", "REQ-12a", "CHG_7"):
        assert linked(text) == escape(text)


def test_a_title_put_in_for_an_id_is_not_linked_again() -> None:
    line = linked(
        "scheduled abc", [{"id": "abc", "text": "Split REQ-3 <now>", "href": "/requests/abc"}]
    )
    assert line == 'scheduled <a href="/requests/abc">Split REQ-3 &lt;now&gt;</a>'


@given(st.text())
def test_whatever_is_typed_comes_back_escaped_with_links_only_where_references_are(
    text: str,
) -> None:
    line = str(linked(text))
    assert line.count("<a ") == line.count("</a>")
    without_links = line
    while "<a " in without_links:
        start = without_links.index("<a ")
        inner = without_links.index(">", start) + 1
        end = without_links.index("</a>", inner)
        without_links = without_links[:start] + without_links[inner:end] + without_links[end + 4 :]
    assert without_links == str(escape(text))
