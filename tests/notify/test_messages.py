"""What people read in a notification: names as they are written, codes as words, a
question or an answer quoted apart from the sentence after it."""

from __future__ import annotations

from services.notify.messages import describe
from shared import contracts as c


def test_a_bundles_name_keeps_its_capitals_at_the_start_of_a_subject() -> None:
    item = {"name": "Monthly business release 2027-01-19"}
    moved = describe(c.BUNDLE_MOVED.type, {"deploy_date": "2027-01-26", "reason": "x"}, item, "/")
    assert moved.subject == "Bundle Monthly business release 2027-01-19 moved to 2027-01-26"
    cancelled = describe(c.BUNDLE_CANCELLED.type, {"reason": "merged"}, item, "/")
    assert cancelled.subject == "Bundle Monthly business release 2027-01-19 cancelled"


def test_codes_read_as_words_and_a_question_is_quoted() -> None:
    item = {"title": "Churn dashboard", "reference": "REQ-7"}
    submitted = describe(
        c.REQUEST_SUBMITTED.type,
        {"department": "Sales", "title": "Churn dashboard", "category": "business_project",
         "size_estimate": "M", "sponsor": "Val"},
        item,
        "/",
    )  # fmt: skip
    assert submitted.lines == ("Category business project, size M, sponsor Val.",)
    accepted = describe(
        c.REQUEST_ACCEPTED.type,
        {"owner": "dev.ana", "size_points": 5, "class_of_service": "fixed_date"},
        item,
        "/",
    )
    assert "Size 5 points, class of service fixed date." in accepted.lines
    asked = describe(c.REQUEST_INFO_REQUESTED.type, {"question": "Which? @vp.sales"}, item, "/")
    assert asked.lines == (
        "“Which? @vp.sales”",
        "The requesting department's answer returns it to triage.",
    )
