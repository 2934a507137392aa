"""A record's history as people read it: each line's ids of requests and production
changes shown as links to their pages, by title."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

REFERENCES = {"request_id": "/requests/", "duplicate_of": "/requests/", "change_id": "/changes/"}
"""Fields of an event's data that name another record, and where its page is."""


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
    """The line, escaped, with each id it names replaced by a link to that record."""
    out = escape(summary)
    for link in links:
        anchor = Markup('<a href="{}">{}</a>').format(link["href"], link["text"])
        out = out.replace(escape(link["id"]), anchor)
    return out
