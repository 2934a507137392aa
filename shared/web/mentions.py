"""Saying, after a comment, which of its @names name nobody: they were accepted without a
word, and the person meant heard nothing."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request

from shared.domain import MENTION, mentioned
from shared.identity.views import Directory


def nobody_named(text: str, directory: Directory) -> str:
    """`&nobody=a,b` for the address the comment's page is shown at: the @names of `text`
    that name no one ('' when every one names someone)."""
    unknown = [name for name in mentioned(text) if directory.user(name) is None]
    return f"&nobody={quote(','.join(unknown))}" if unknown else ""


def told_nobody(request: Request) -> str:
    """What the page says of the names `nobody_named` carried ('' for none): only names of
    the form a username has are repeated, so the address cannot put other words here."""
    names = [
        n for n in request.query_params.get("nobody", "").split(",") if MENTION.fullmatch("@" + n)
    ][:10]
    if not names:
        return ""
    listed = ", ".join(f"@{n}" for n in names)
    return (
        f" {listed} {'names' if len(names) == 1 else 'name'} nobody here, so nobody was told:"
        " people are named by their username, such as @dev.ana"
    )
