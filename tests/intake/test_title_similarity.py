"""The duplicate check's scoring of many titles at once suggests exactly what scoring
every pair and sorting would (decision 0092)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench._scenario import submission
from services.intake import open_titles
from services.intake.open_titles import most_alike, similarity

# A small alphabet with spaces and capitals: titles that share much, and some that don't.
titles = st.text(alphabet="abcdeAB ", max_size=40)


def every_pair(
    title: str, others: list[str], threshold: float, limit: int | None
) -> list[tuple[int, float]]:
    scores = [(i, similarity(title, other)) for i, other in enumerate(others)]
    kept = [(i, s) for i, s in scores if s >= threshold]
    kept.sort(key=lambda k: (-round(k[1], 3), others[k[0]]))  # stable: then by place
    return kept[:limit]


@settings(max_examples=400, deadline=None)
@given(
    titles,
    st.lists(titles, max_size=14),
    st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0]),
    st.sampled_from([None, 1, 2, 5]),
)
def test_the_most_alike_titles_are_those_scoring_every_pair_would_pick(
    title: str, others: list[str], threshold: float, limit: int | None
) -> None:
    assert most_alike(title, others, threshold, limit) == every_pair(
        title, others, threshold, limit
    )


def test_the_bounds_change_no_suggestion_among_realistic_titles() -> None:
    # The benchmark's titles: a few verbs, things and places, so many pairs are alike,
    # many tie, and some are the same title twice.
    opens = [submission(c, n)["title"] for c in range(16) for n in range(20)]
    for n in range(40):
        title = submission(99, n)["title"]
        for limit in (None, 5):
            found = most_alike(title, opens, 0.5, limit)
            assert found == every_pair(title, opens, 0.5, limit)
            assert found, "every benchmark title has some open title alike"


def test_titles_longer_than_difflibs_autojunk_length_keep_their_answers() -> None:
    # From 200 characters SequenceMatcher treats frequent characters as junk: its ratio
    # only falls, so the bound still holds.
    long = "replace the billing export " * 9
    others = [long[::-1], long.upper(), long[:150] + "x" * 80, "billing export"]
    for threshold in (0.2, 0.5, 0.9):
        assert most_alike(long, others, threshold) == every_pair(long, others, threshold, None)


def test_words_sharing_a_signature_character_change_no_suggestion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The word overlap's compiled pass reads one character per word; two words landing on
    # the same one only let more titles through to the exact overlap.
    opens = [submission(c, n)["title"] for c in range(16) for n in range(20)]
    titles = [submission(99, n)["title"] for n in range(20)]
    expected = [most_alike(title, opens, 0.5, 5) for title in titles]
    open_titles._prepared.cache_clear()
    monkeypatch.setattr(open_titles, "_signature", lambda words: "x" * len(words))
    try:
        assert [most_alike(title, opens, 0.5, 5) for title in titles] == expected
        assert [most_alike(title, opens, 0.5, None) for title in titles] == [
            every_pair(title, opens, 0.5, None) for title in titles
        ]
    finally:
        open_titles._prepared.cache_clear()
