"""The duplicate check's scoring of many titles at once gives every pair's own answer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bench._scenario import submission
from services.intake.open_titles import alike, similarity

# A small alphabet with spaces and capitals: titles that share much, and some that don't.
titles = st.text(alphabet="abcdeAB ", max_size=40)


def _one_by_one(title: str, others: list[str], threshold: float) -> list[tuple[int, float]]:
    scores = [(i, similarity(title, other)) for i, other in enumerate(others)]
    return [(i, s) for i, s in scores if s >= threshold]


@settings(max_examples=300, deadline=None)
@given(titles, st.lists(titles, max_size=12), st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0]))
def test_scoring_open_titles_at_once_suggests_exactly_what_pairwise_scoring_does(
    title: str, others: list[str], threshold: float
) -> None:
    assert alike(title, others, threshold) == _one_by_one(title, others, threshold)


def test_the_bound_changes_no_suggestion_among_realistic_titles() -> None:
    # The benchmark's titles: a few verbs, things and places, so many pairs are alike.
    opens = [submission(c, n)["title"] for c in range(16) for n in range(20)]
    for n in range(40):
        title = submission(99, n)["title"]
        found = alike(title, opens, 0.5)
        assert found == _one_by_one(title, opens, 0.5)
        assert found, "every benchmark title has some open title alike"


def test_titles_longer_than_difflibs_autojunk_length_keep_their_answers() -> None:
    # From 200 characters SequenceMatcher treats frequent characters as junk: its ratio
    # only falls, so the bound still holds.
    long = "replace the billing export " * 9
    others = [long[::-1], long.upper(), long[:150] + "x" * 80, "billing export"]
    for threshold in (0.2, 0.5, 0.9):
        assert alike(long, others, threshold) == _one_by_one(long, others, threshold)
