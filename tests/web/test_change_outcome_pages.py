"""A completed change says how it went wherever its state is shown: the page's head and
the change list's status column read "Completed: failed", styled as a failure, not a
grey "Completed" with the outcome only further down; a closed one ("Closed: succeeded",
a success needing no review closes at once) keeps saying it."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import Web
from tests.web.test_change_pages import approved_now


def completed(web: Web, outcome: str) -> str:
    change_id = approved_now(web)
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        client.post(f"/changes/{change_id}/start", data={"csrf_token": csrf})
        done = client.post(
            f"/changes/{change_id}/complete",
            data={"csrf_token": csrf, "outcome": outcome, "notes": "The replica refused it"},
            follow_redirects=False,
        )
    assert done.status_code == 303, done.text
    return change_id


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        ("failed", "Completed: failed"),
        ("rolled_back", "Completed: rolled back"),
        ("succeeded", "Closed: succeeded"),
    ],
)
def test_a_completed_changes_head_and_list_row_say_its_outcome(
    web: Web, outcome: str, said: str
) -> None:
    """The head pill and the list's status column name the outcome, styled by it."""
    change_id = completed(web, outcome)
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        page = client.get(f"/changes/{change_id}").text
        listing = client.get("/changes?status=all").text
    head = re.search(r'<div class="page-head">.*?</div>', page, re.S)
    assert head is not None
    assert f'<span class="pill {outcome}">{said}</span>' in head.group(0)
    assert '<span class="pill completed">' not in head.group(0)
    row = re.search(r'<td data-label="Status">(.*?)</td>', listing, re.S)
    assert row is not None
    assert row.group(1) == f'<span class="pill {outcome}">{said}</span>'
