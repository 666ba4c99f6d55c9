"""NATS subject syntax, matching and prefixing, with intersection and subset checked against brute force."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dsxbus.subjects import (
    concrete_subject,
    cpc_jetstream_api,
    cpc_jetstream_api_owner,
    cpc_prefix,
    intersects,
    is_literal,
    is_subset,
    is_valid,
    matches,
    meet,
    mqtt_topic,
    prefix_owner,
    prefixed,
    problem,
    sourcing_deliveries,
    strip_prefix,
    uncovered,
)

patterns = st.builds(
    lambda tokens, tail: ".".join(tokens + [">"] * tail),
    st.lists(st.sampled_from(["a", "b", "*"]), min_size=1, max_size=3),
    st.booleans(),
) | st.just(">")


def oracle_matches(pattern: str, subject: str) -> bool:
    """Obviously right, not fast: the definition of a NATS wildcard match."""
    p, s = pattern.split("."), subject.split(".")
    if p[-1] == ">":  # one or more trailing tokens
        return len(s) >= len(p) and all(t in ("*", u) for t, u in zip(p[:-1], s, strict=False))
    return len(s) == len(p) and all(t in ("*", u) for t, u in zip(p, s, strict=True))


def every_subject(*pattern_list: str) -> Iterator[str]:
    """Every subject that can tell the patterns apart: no witness is longer, and "z" is a token none names."""
    named = {t for p in pattern_list for t in p.split(".")} - {"*", ">"}
    alphabet = sorted(named | {"z"})
    longest = max(p.count(".") for p in pattern_list) + 2
    for n in range(1, longest + 1):
        for tokens in itertools.product(alphabet, repeat=n):
            yield ".".join(tokens)


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "is empty"),
        (".a", "empty token"),
        ("a.", "empty token"),
        ("a..b", "empty token"),
        ("a b", "whitespace"),
        ("a.\tb", "whitespace"),
        ("a.>.b", "'>' may only end a pattern"),
        ("a*", "must be whole tokens"),
        ("a.b>", "must be whole tokens"),
        ("*x.b", "must be whole tokens"),
    ],
)
def test_an_invalid_subject_is_rejected_with_its_reason(pattern: str, reason: str) -> None:
    found = problem(pattern)
    assert found is not None and reason in found
    assert not is_valid(pattern)


def test_a_subject_that_is_not_text_asks_for_quotes() -> None:
    found = problem(12)  # type: ignore[arg-type]  # YAML turns an unquoted 12 into an int
    assert found is not None and "quotes" in found


@pytest.mark.parametrize("pattern", ["a", "a.b.c", ">", "*", "a.*", "a.>", "*.b.>", "$JS.API.>", "a-b_c.d1"])
def test_whole_token_wildcards_and_plain_tokens_are_valid(pattern: str) -> None:
    assert problem(pattern) is None


@pytest.mark.parametrize("pattern", ["a.*", "a.>", "*"])
def test_a_wildcard_is_refused_where_a_concrete_subject_is_needed(pattern: str) -> None:
    found = problem(pattern, wildcards=False)
    assert found is not None and "concrete subject" in found
    assert is_valid(pattern)


def test_a_literal_subject_has_no_wildcard_token() -> None:
    assert is_literal("a.b.c")
    assert not is_literal("a.*.c")
    assert not is_literal("a.>")


# --- matching -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.c", False),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.*", "a", False),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),  # `>` needs at least one more token
        (">", "a", True),
        ("*.b", "a.b", True),
        ("a.b", "a.*", False),  # a pattern is not a subject
    ],
)
def test_matches_follows_nats_wildcard_rules(pattern: str, subject: str, expected: bool) -> None:
    assert matches(pattern, subject) is expected


@given(patterns, patterns)
@example("a.>", "a")
@example(">", ">")
@example("*", "a.b")
@example("a.*", "*.b")
@example("*.>", "a")
def test_intersects_agrees_with_brute_force_and_its_witness_matches_both(a: str, b: str) -> None:
    witness = intersects(a, b)
    exists = any(oracle_matches(a, s) and oracle_matches(b, s) for s in every_subject(a, b))
    assert (witness is not None) == exists
    assert witness is None or (is_literal(witness) and oracle_matches(a, witness) and oracle_matches(b, witness))


@given(patterns, patterns)
@example("a.>", "a")
@example(">", ">")
@example("*", "a.b")
def test_intersects_is_symmetric_in_existence(a: str, b: str) -> None:
    assert (intersects(a, b) is None) == (intersects(b, a) is None)


@given(patterns, patterns)
@example("a.>", "a")
@example(">", ">")
@example("*", "a.b")
@example("a", "a.>")
@example("a.*", "a.>")
@example(">", "*")
@example("a.b.c", "a.*")
def test_is_subset_agrees_with_brute_force(a: str, b: str) -> None:
    expected = all(oracle_matches(b, s) for s in every_subject(a, b) if oracle_matches(a, s))
    assert is_subset(a, b) == expected


@given(patterns)
def test_matches_agrees_with_brute_force(pattern: str) -> None:
    for subject in every_subject(pattern):
        assert matches(pattern, subject) == oracle_matches(pattern, subject)


@pytest.mark.parametrize(
    ("a", "b", "witness"),
    [("a.>", "a.b", "a.b"), ("a.*.c", "a.b.*", "a.b.c"), ("cpc.>", ">", "cpc.x"), ("a.>", "a", None)],
)
def test_intersects_names_a_subject_an_operator_can_publish(a: str, b: str, witness: str | None) -> None:
    assert intersects(a, b) == witness


@given(patterns, patterns)
@example("a.>", "*.b")
@example(">", "a.*")
@example("a.>", "a")
@example("*.>", "a.*.>")
def test_meet_matches_exactly_the_subjects_both_patterns_match(a: str, b: str) -> None:
    both = meet(a, b)
    for subject in every_subject(a, b):
        expected = oracle_matches(a, subject) and oracle_matches(b, subject)
        assert (both is not None and oracle_matches(both, subject)) == expected, (both, subject)


@pytest.mark.parametrize(
    ("a", "b", "both"),
    [("a.>", "*.b", "a.b"), (">", "cpc.*.command.>", "cpc.*.command.>"), ("a.*", "*.>", "a.*"), ("a.b", "a.c", None)],
)
def test_meet_keeps_the_narrower_token_and_the_rest_after_a_tail(a: str, b: str, both: str | None) -> None:
    assert meet(a, b) == both


@given(patterns, st.lists(patterns, max_size=4))
@example("a.*", ["a.b", "a.*"])
@example("a.>", ["a.*"])
@example("a.>", ["a.*", "a.*.>"])
@example("*", ["a", "b"])
@example(">", [">"])
@example("a.b", [])
def test_uncovered_agrees_with_brute_force_and_its_witness_escapes_every_cover(pattern: str, covers: list[str]) -> None:
    witness = uncovered(pattern, covers)
    escapes = [
        s
        for s in every_subject(pattern, *covers)
        if oracle_matches(pattern, s) and not any(oracle_matches(c, s) for c in covers)
    ]
    assert (witness is not None) == bool(escapes), (pattern, covers, escapes[:3])
    if witness is not None:
        assert is_literal(witness) and oracle_matches(pattern, witness)
        assert not any(oracle_matches(c, witness) for c in covers)


def test_a_pattern_is_covered_by_covers_together_that_none_covers_alone() -> None:
    assert not is_subset("a.*", "a.b")
    assert uncovered("a.*", ["a.b", "a.*"]) is None
    assert uncovered("a.*", ["a.b", "a.c"]) == "a.x"


def test_a_tail_is_not_covered_by_a_single_token_wildcard() -> None:
    assert uncovered("a.>", ["a.*"]) == "a.x.x"


def test_the_witness_avoids_every_token_the_covers_name() -> None:
    assert uncovered("cpc.*.command.>", ["cpc.x.>"]) == "cpc.xx.command.xx"


# --- prefixes and MQTT --------------------------------------------------------------------------


def test_a_cpc_prefix_puts_the_cluster_id_under_cpc() -> None:
    assert cpc_prefix("1") == "cpc.1."
    assert prefixed("a", "sensor.>") == "cpc.a.sensor.>"


@pytest.mark.parametrize(
    ("cluster_id", "subject", "stripped"),
    [
        ("1", "cpc.1.command.restart", "command.restart"),
        ("1", "cpc.12.command.restart", None),  # another CPC whose id starts the same
        ("1", "cpc.2.command", None),
        ("1", "cpc.1.", None),  # nothing after the prefix
        ("1", "command.restart", None),
    ],
)
def test_strip_prefix_only_takes_this_cpcs_own_prefix(cluster_id: str, subject: str, stripped: str | None) -> None:
    assert strip_prefix(cluster_id, subject) == stripped


@given(patterns, st.sampled_from(["1", "a", "x9"]))
def test_strip_prefix_undoes_prefixed(pattern: str, cluster_id: str) -> None:
    assert strip_prefix(cluster_id, prefixed(cluster_id, pattern)) == pattern


@pytest.mark.parametrize(
    ("subject", "owner"),
    [
        ("cpc.a.sensor.>", ("a", "sensor.>")),
        ("cpc.7.>", ("7", ">")),
        ("cpc.*.command.>", None),  # no one CPC: a wildcard id
        ("cpc.a", None),  # nothing after the id
        ("csc2cpc.a.x", None),
    ],
)
def test_prefix_owner_names_the_cpc_a_prefixed_subject_belongs_to(subject: str, owner: tuple[str, str] | None) -> None:
    assert prefix_owner(subject) == owner


@given(patterns, st.sampled_from(["1", "a", "x9"]))
def test_prefix_owner_undoes_prefixed(pattern: str, cluster_id: str) -> None:
    assert prefix_owner(prefixed(cluster_id, pattern)) == (cluster_id, pattern)


def test_each_cpc_has_its_own_sourcing_deliveries_and_jetstream_api_on_the_csc() -> None:
    assert sourcing_deliveries("a") == "csc2cpc.a.>"
    assert cpc_jetstream_api("a") == "$JS.CPC-a.API.>"


@pytest.mark.parametrize(
    ("subject", "owner"),
    [
        ("$JS.CPC-a.API.>", "a"),
        ("$JS.CPC-12.API.>", "12"),
        ("$JS.CPC-A.API.>", None),  # not a cluster id
        ("$JS.CPC-a.API.STREAM.>", None),
        ("$JS.CSC.API.>", None),
        ("$JS.a.API.>", None),
    ],
)
def test_the_jetstream_api_names_its_cpc_only_in_the_exact_shape(subject: str, owner: str | None) -> None:
    assert cpc_jetstream_api_owner(subject) == owner


@pytest.mark.parametrize(
    ("subject", "topic"),
    [("a.b.c", "a/b/c"), ("a.*.>", "a/+/#"), (">", "#"), ("cpc.1.command.*", "cpc/1/command/+")],
)
def test_an_mqtt_client_sees_slashes_plus_and_hash(subject: str, topic: str) -> None:
    assert mqtt_topic(subject) == topic


@pytest.mark.parametrize(("pattern", "subject"), [("sensor.>", "sensor.x"), ("a.*.c", "a.x.c"), ("a.b", "a.b")])
def test_a_concrete_subject_is_literal_and_matches_its_pattern(pattern: str, subject: str) -> None:
    assert concrete_subject(pattern) == subject
    assert matches(pattern, concrete_subject(pattern))


def test_an_invalid_pattern_has_no_concrete_subject() -> None:
    with pytest.raises(ValueError, match="not a valid subject pattern"):
        concrete_subject("a.>.b")
