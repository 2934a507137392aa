"""A record's history as people read it: each line's ids of requests and production
changes shown as links to their pages, by title."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

from shared.contracts import CHANGE_REFERENCES, REQUEST_REFERENCES

REFERENCES = {"request_id": "/requests/", "duplicate_of": "/requests/", "change_id": "/changes/"}
"""Fields of an event's data that name another record, and where its page is."""
PAGES = {REQUEST_REFERENCES.prefix: "/requests/", CHANGE_REFERENCES.prefix: "/changes/"}
"""Where the page of a record a written reference names is, by its prefix."""
WRITTEN = re.compile(rf"\b({'|'.join(PAGES)})-[1-9][0-9]{{0,8}}\b")
"""A reference as people write one in a comment or a reason: REQ-12, CHG-7."""


def referenced(history: Iterable[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """The request ids and the change ids these history lines name."""
    requests: set[str] = set()
    changes: set[str] = set()
    for line in history:
        data = line.get("data") or {}
        for field, path in REFERENCES.items():
            if data.get(field):
                (changes if path == "/changes/" else requests).add(str(data[field]))
    return requests, changes


def with_links(
    history: list[dict[str, Any]], requests: Mapping[str, str], changes: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each line with its `links`: the records it names whose titles are known."""
    for line in history:
        data = line.get("data") or {}
        links = []
        for field, path in REFERENCES.items():
            record_id = str(data.get(field) or "")
            titles = changes if path == "/changes/" else requests
            if record_id in titles:
                links.append({"id": record_id, "text": titles[record_id], "href": path + record_id})
        line["links"] = links
    return history


def linked(summary: str, links: Iterable[Mapping[str, str]] = ()) -> Markup:
    """The line, escaped, with each id it names replaced by a link to that record, and
    each reference written in it (REQ-12, CHG-7) a link to that record's page."""
    # References written in the text first: a record's title put in below may hold one.
    out = _references_linked(summary)
    for link in links:
        anchor = Markup('<a href="{}">{}</a>').format(link["href"], link["text"])
        out = out.replace(escape(link["id"]), anchor)
    return out


def _references_linked(text: str) -> Markup:
    """The text, escaped, each reference written in it a link to its record's page."""
    out, start = Markup(), 0
    for match in WRITTEN.finditer(text):
        link = Markup('<a href="{}{}">{}</a>').format(PAGES[match[1]], match[0], match[0])
        out += escape(text[start : match.start()]) + link
        start = match.end()
    return out + escape(text[start:])
