"""Which messagingMatchCriteria patterns Go's regexp.Compile (RE2 syntax) refuses, and which only match substrings.

An invalid pattern is only logged by event-manager and its criterion never matches, so each refusal is caught here.
"""

from __future__ import annotations

import pytest

from dsxbus.re2 import problem, unanchored

# Accepted


@pytest.mark.parametrize(
    "pattern",
    [
        r"^auth\.example\.com\.(login|logout)$",
        r"^auth\.example\.com\.(?:login|logout)$",
        r"^dsx\.events\.[a-z0-9-]+\..*$",
        "(?i)abc",
        "(?i:abc)",
        "(?i-s)abc",
        "a+?",
        "a{2,5}",
        "a{1000}",
        "[^]a]",
        "(?P<kind>login|logout)",
        "",
    ],
)
def test_common_re2_patterns_are_accepted(pattern: str) -> None:
    assert problem(pattern) is None


@pytest.mark.parametrize("pattern", ["[[:alpha:]]+", "[[:^space:]]", r"[[:digit:]_.\-]+"])
def test_posix_classes_are_accepted_though_python_reads_them_as_nested_sets(pattern: str) -> None:
    assert problem(pattern) is None


@pytest.mark.parametrize("pattern", [r"\pL+", r"\PN", r"\p{Greek}", r"\p{^Greek}", r"[\pL\d_]+"])
def test_unicode_classes_are_accepted_though_python_has_none(pattern: str) -> None:
    assert problem(pattern) is None


@pytest.mark.parametrize(
    "pattern",
    [
        r"^login\z",  # end of text; Python spells it \Z
        r"\Q1+1=2\E",  # quoted literal text
        r"\x{1F600}",  # code point in braces
        "a(?i)b",  # flags after the start
        "(?U)a+",  # ungreedy flag
        "(?<kind>login)",  # .NET-style name (Go 1.22)
        "(?P<1st>a)(?P<1st>b)",  # names Python refuses: leading digit, repeated
        r"\12",  # octal, not a backreference
        r"[\d-z]",  # a dash after a class is a literal
        "^*",  # repeated anchor
    ],
)
def test_re2_syntax_python_refuses_is_accepted(pattern: str) -> None:
    assert problem(pattern) is None


# Refused: constructs Python accepts


@pytest.mark.parametrize("pattern", ["^auth(?=\\.)", "^auth(?!\\.logout)"])
def test_lookahead_is_refused(pattern: str) -> None:
    assert "lookahead" in (problem(pattern) or "")


@pytest.mark.parametrize("pattern", ["(?<=auth\\.)login", "(?<!auth\\.)login"])
def test_lookbehind_is_refused(pattern: str) -> None:
    assert "lookbehind" in (problem(pattern) or "")


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(a)(b)(c)(d)(e)(f)(g)(h)(i)\9", r"(a)\18"])
def test_numbered_backreferences_are_refused(pattern: str) -> None:
    assert "backreferences" in (problem(pattern) or "")


def test_named_backreferences_are_refused() -> None:
    assert "named backreferences" in (problem("(?P<x>a)(?P=x)") or "")


def test_atomic_groups_are_refused() -> None:
    assert "atomic groups" in (problem("(?>a+)b") or "")


@pytest.mark.parametrize("pattern", ["a*+", "a++", "a?+", "a{2}+", "a{2,}+"])
def test_possessive_quantifiers_are_refused(pattern: str) -> None:
    assert "possessive" in (problem(pattern) or "")


def test_conditionals_are_refused() -> None:
    assert "conditionals" in (problem("(a)?(?(1)b|c)") or "")


def test_capital_z_is_refused_with_the_re2_spelling() -> None:
    assert problem(r"^login\Z") == r"invalid escape sequence \Z; RE2 spells end of text \z"


@pytest.mark.parametrize("pattern", ["a{1001}", "a{0,1001}", "a{1001,}"])
def test_repetition_counts_above_1000_are_refused(pattern: str) -> None:
    assert "above 1000" in (problem(pattern) or "")


def test_nested_repetition_counts_whose_product_passes_1000_are_refused() -> None:
    assert "multiply past 1000" in (problem("(a{100}){11}") or "")


def test_nested_repetition_counts_whose_product_is_1000_are_accepted() -> None:
    assert problem("(a{10}){100}") is None


def test_python_comments_are_refused() -> None:
    assert "comments" in (problem("(?#note)a") or "")


def test_python_only_flags_are_refused() -> None:
    assert "flags are i, m, s and U" in (problem("(?x)a b") or "")


@pytest.mark.parametrize("pattern", [r"caf\u00e9", r"\U0001F600"])
def test_python_code_point_escapes_are_refused_with_the_re2_spelling(pattern: str) -> None:
    assert "\\x{" in (problem(pattern) or "")


def test_a_backspace_escape_in_a_class_is_refused() -> None:
    assert problem(r"[\b]") == r"invalid escape sequence \b"


def test_an_unknown_posix_class_is_refused() -> None:
    assert problem("[[:letter:]]") == "unknown POSIX class [:letter:]"


def test_an_unknown_one_letter_unicode_class_is_refused() -> None:
    assert problem(r"\pX") == r"invalid Unicode class \pX"


# Refused: general syntax errors


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(login|logout", "missing )"),
        ("login)", "unbalanced parenthesis"),
        ("*login", "nothing to repeat"),
        ("a{2,1}", "min repeat greater than max repeat"),
    ],
)
def test_python_reports_structural_errors(pattern: str, reason: str) -> None:
    assert reason in (problem(pattern) or "")


def test_groups_nested_too_deeply_for_python_are_refused() -> None:
    assert problem("(" * 1100 + "a" + ")" * 1100) == "groups nest too deeply to check"


def test_an_unclosed_class_is_refused() -> None:
    assert problem("[a-z") == "missing closing ] in [a-z"


def test_a_reversed_class_range_is_refused() -> None:
    assert problem("[z-a]") == "invalid character class range z-a"


def test_a_trailing_backslash_is_refused() -> None:
    assert problem("login\\") == "trailing backslash at end of expression"


def test_a_repetition_right_after_another_is_refused() -> None:
    assert "right after another" in (problem("a**") or "")


# Anchoring


def test_a_pattern_anchored_at_both_ends_is_anchored() -> None:
    assert not unanchored(r"^auth\.example\.com\.(login|logout)$")


@pytest.mark.parametrize("pattern", [r"auth\.login$", r"^auth\.login", r"auth\.login", ""])
def test_a_missing_anchor_makes_a_substring_match(pattern: str) -> None:
    assert unanchored(pattern)


def test_an_escaped_dollar_is_not_an_anchor() -> None:
    assert unanchored(r"^price\$")


def test_a_top_level_alternation_needs_anchors_in_every_branch() -> None:
    assert unanchored(r"^auth\.login|auth\.logout$")


def test_a_top_level_alternation_anchored_in_every_branch_is_anchored() -> None:
    assert not unanchored(r"^auth\.login$|^auth\.logout$")


def test_a_bar_inside_a_class_is_not_an_alternation() -> None:
    assert not unanchored("^a[|]b$")


def test_leading_flags_do_not_hide_the_anchor() -> None:
    assert not unanchored("(?i)^login$")


def test_text_anchors_count_as_anchors() -> None:
    assert not unanchored(r"\Alogin\z")
