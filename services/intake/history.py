"""A request's events as lines of its history, in words a reader knows (worded again
each time the history is read, so older lines read like new ones)."""

from __future__ import annotations

from shared.words import Wording, opt, words

summary = Wording(
    {
        "ChangeRequest.Submitted": lambda d: (
            f"submitted for {d['department']} ({words(d['category'])}, size {d['size_estimate']})"
        ),
        "ChangeRequest.Edited": lambda d: "edited the request",
        "ChangeRequest.InformationRequested": lambda d: f"asked for information: {d['question']}",
        "ChangeRequest.InformationProvided": lambda d: f"answered: {d['answer']}",
        "ChangeRequest.Accepted": lambda d: (
            f"accepted: owner {d['owner']}, {d['size_points']} points,"
            f" {words(d['class_of_service'])}" + opt(" by ", d.get("fixed_date"))
        ),
        "ChangeRequest.Rejected": lambda d: f"rejected: {d['reason']}",
        "ChangeRequest.Deferred": lambda d: (
            f"deferred: {d['reason']}" + opt(" (until ", d.get("until"), ")")
        ),
        "ChangeRequest.MarkedDuplicate": lambda d: f"marked as a duplicate of {d['duplicate_of']}",
        "ChangeRequest.Withdrawn": lambda d: f"withdrawn: {d['reason']}",
        "ChangeRequest.OwnerAssigned": lambda d: (
            f"owner changed from {d.get('previous') or 'nobody'} to {d['owner']}"
        ),
        "ChangeRequest.Replanned": lambda d: (
            f"re-planned: {d['size_points']} points, {words(d['class_of_service'])}"
            + opt(" by ", d.get("fixed_date"))
        ),
        "ChangeRequest.Delivered": lambda d: "delivered to production",
        "ChangeRequest.Rated": lambda d: f"rated {d['score']}/5" + opt(": ", d.get("comment")),
        "ChangeRequest.Commented": lambda d: f"commented: {d['text']}",
    }
)
"""A request's event as one line of its history."""
