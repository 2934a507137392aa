"""What a process keeps of the open requests between duplicate checks, changed as requests
open, close and are renamed, is what preparing them all afresh gives (decision 0102)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.open_titles import Choices, OpenTitle, OpenTitles, most_alike

ids = st.sampled_from([f"r-{n}" for n in range(6)])
titles = st.text(alphabet="abc AB", max_size=12)
changes = st.lists(
    st.one_of(
        st.tuples(st.just("put"), ids, titles, st.sampled_from(["submitted", "accepted"])),
        st.tuples(st.just("remove"), ids, st.just(""), st.just("")),
    ),
    max_size=25,
)


State = tuple[list[str], list[OpenTitle], list[str], list[str], list[frozenset[str]], list[str]]


def state(kept: OpenTitles) -> State:
    c = kept.choices
    return [row[0] for row in kept.rows], kept.rows, c.titles, c.folded, c.words, c.signatures


def afresh(rows: list[OpenTitle]) -> State:
    return state(OpenTitles(rows))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ids, titles), max_size=6, unique_by=lambda t: t[0]), changes)
def test_open_titles_changed_in_place_equal_them_prepared_afresh(
    start: list[tuple[str, str]], steps: list[tuple[str, str, str, str]]
) -> None:
    # The reference: a dict in the order requests opened, as the view's fold keeps them.
    expected: dict[str, OpenTitle] = {i: (i, t, "Sales", "submitted") for i, t in start}
    kept = OpenTitles(expected.values())
    before = tuple(list(part) for part in state(kept))
    changed = kept.changed()
    for action, request_id, title, status in steps:
        if action == "put":
            expected[request_id] = (request_id, title, "Sales", status)
            changed.put((request_id, title, "Sales", status))
        else:
            expected.pop(request_id, None)
            changed.remove(request_id)
    assert state(changed) == afresh(list(expected.values()))
    assert tuple(state(kept)) == before  # what other threads read is never changed
    for request_id in {i for i, *_ in start} | {s[1] for s in steps}:
        assert changed.get(request_id) == expected.get(request_id)


def test_prepared_choices_score_as_the_titles_themselves() -> None:
    others = ["Bill shock alerts", "bill alerts by SMS", "SMS bill shock", "Payroll export"]
    choices = Choices(others)
    choices.append("alerts for bill shock")
    choices.delete(3)
    choices.replace(0, "Bill shock alerts by SMS")
    titles = ["Bill shock alerts by SMS", "bill alerts by SMS", "SMS bill shock"]
    titles.append("alerts for bill shock")
    for limit in (None, 1, 3):
        assert most_alike("bill shock", choices, 0.3, limit) == most_alike(
            "bill shock", titles, 0.3, limit
        )
