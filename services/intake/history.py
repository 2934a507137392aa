"""A request's events as lines of its history, in words a reader knows (worded again
each time the history is read, so older lines read like new ones)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _opt(prefix: str, value: object, suffix: str = "") -> str:
    return f"{prefix}{value}{suffix}" if value else ""


def _words(code: object) -> str:
    """`it_project` -> `IT project`, `fixed_date` -> `fixed date`."""
    text = str(code).replace("_", " ")
    return "IT" + text[2:] if text.startswith("it ") else text


# One line per event type that a person can read in a request's history.
SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "ChangeRequest.Submitted": lambda d: (
        f"submitted for {d['department']} ({_words(d['category'])}, size {d['size_estimate']})"
    ),
    "ChangeRequest.Edited": lambda d: "edited the request",
    "ChangeRequest.InformationRequested": lambda d: f"asked for information: {d['question']}",
    "ChangeRequest.InformationProvided": lambda d: f"answered: {d['answer']}",
    "ChangeRequest.Accepted": lambda d: (
        f"accepted: owner {d['owner']}, {d['size_points']} points,"
        f" {_words(d['class_of_service'])}" + _opt(" by ", d.get("fixed_date"))
    ),
    "ChangeRequest.Rejected": lambda d: f"rejected: {d['reason']}",
    "ChangeRequest.Deferred": lambda d: (
        f"deferred: {d['reason']}" + _opt(" (until ", d.get("until"), ")")
    ),
    "ChangeRequest.MarkedDuplicate": lambda d: f"marked as a duplicate of {d['duplicate_of']}",
    "ChangeRequest.Withdrawn": lambda d: f"withdrawn: {d['reason']}",
    "ChangeRequest.OwnerAssigned": lambda d: (
        f"owner changed from {d.get('previous') or 'nobody'} to {d['owner']}"
    ),
    "ChangeRequest.Replanned": lambda d: (
        f"re-planned: {d['size_points']} points, {_words(d['class_of_service'])}"
        + _opt(" by ", d.get("fixed_date"))
    ),
    "ChangeRequest.Delivered": lambda d: "delivered to production",
    "ChangeRequest.Rated": lambda d: f"rated {d['score']}/5" + _opt(": ", d.get("comment")),
}


def summary(event_type: str, data: dict[str, Any]) -> str:
    """A request's event as one line of its history."""
    render = SUMMARIES.get(event_type)
    return render(data) if render else event_type
