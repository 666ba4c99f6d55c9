"""The subject index finds exactly the patterns `subjects.collide` says collide, whatever the patterns."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dsxbus import subjects
from dsxbus.subjectindex import SubjectIndex

tokens = st.sampled_from(["a", "b", "*"])
patterns = st.builds(
    lambda head, tail: ".".join([*head, *tail]),
    st.lists(tokens, min_size=1, max_size=4),
    st.sampled_from([[], [">"]]),
) | st.just(">")


@given(st.lists(patterns, max_size=12), patterns)
def test_the_index_finds_exactly_the_colliding_patterns(stored: list[str], query: str) -> None:
    expected = [i for i, pattern in enumerate(stored) if subjects.collide(query, pattern)]
    assert SubjectIndex(stored).colliding(query) == expected


def test_a_literal_finds_its_own_branch_the_star_branch_and_the_wildcard_tails() -> None:
    index = SubjectIndex(["a.b", "a.*", "a.>", ">", "a.c", "b.b", "a.b.c"])
    assert index.colliding("a.b") == [0, 1, 2, 3]


def test_a_tail_wildcard_takes_every_longer_pattern_but_not_the_shorter_ones() -> None:
    index = SubjectIndex(["a", "a.b", "a.b.c", "a.>", "b.c"])
    assert index.colliding("a.>") == [1, 2, 3]


def test_a_pattern_collides_with_itself_and_the_index_keeps_repeats_apart() -> None:
    index = SubjectIndex(["x.y", "x.y"])
    assert index.colliding("x.y") == [0, 1]
    assert len(index) == 2
