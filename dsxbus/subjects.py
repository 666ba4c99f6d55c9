"""Wildcard-aware algebra of NATS subjects: validate, match, prefix, intersect."""

from __future__ import annotations

import re

# nats-server rejects whitespace inside a token; an empty token means a leading,
# trailing or doubled dot. Everything else is a legal token character.
_BAD_TOKEN_CHARS = re.compile(r"[\s]")

FILLER = "x"
"""The token a witness uses where a pattern says `*` or `>`: any token would do."""


def problem(pattern: str, *, wildcards: bool = True) -> str | None:
    """Why `pattern` is not a valid NATS subject (or wildcard pattern), or None if it is."""
    if not isinstance(pattern, str):
        return "is not text; write the subject in quotes"
    if pattern == "":
        return "is empty; a subject has at least one token"
    tokens = pattern.split(".")
    for index, token in enumerate(tokens):
        if token == "":
            return "has an empty token (a leading, trailing or doubled '.')"
        if _BAD_TOKEN_CHARS.search(token):
            return f"has whitespace in token {token!r}"
        if token in ("*", ">"):
            if not wildcards:
                return f"has the wildcard {token!r}; a concrete subject is needed here"
            if token == ">" and index != len(tokens) - 1:
                return "has '>' before the last token; '>' may only end a pattern"
        elif "*" in token or ">" in token:
            return f"has {token!r}: '*' and '>' must be whole tokens"
    return None


def is_valid(pattern: str, *, wildcards: bool = True) -> bool:
    return problem(pattern, wildcards=wildcards) is None


def is_literal(pattern: str) -> bool:
    return all(token not in ("*", ">") for token in pattern.split("."))


def matches(pattern: str, subject: str) -> bool:
    """Does the concrete `subject` fall under `pattern`?"""
    return intersects(pattern, subject) == subject if is_literal(subject) else False


def intersects(a: str, b: str) -> str | None:
    """A concrete subject that both patterns match (a witness), or None if they share none.

    This is NATS' SubjectsCollide with the proof attached: the witness is what an operator
    can publish to see the collision happen.
    """
    left, right = a.split("."), b.split(".")
    witness: list[str] = []
    for index in range(max(len(left), len(right))):
        x = left[index] if index < len(left) else None
        y = right[index] if index < len(right) else None
        if x is None or y is None:
            return None  # one pattern ended without `>`: it has no token left to match
        if x == ">" or y == ">":
            # `>` swallows one or more tokens: the other side's rest fits it.
            rest = right[index:] if x == ">" else left[index:]
            witness += [FILLER if t in ("*", ">") else t for t in rest]
            return ".".join(witness)
        if x == "*":
            witness.append(FILLER if y == "*" else y)
        elif y == "*" or x == y:
            witness.append(x)
        else:
            return None
    return ".".join(witness)


def concrete_subject(pattern: str) -> str:
    """A concrete subject the pattern matches: `sensor.>` -> `sensor.x` (its witness against itself)."""
    reason = problem(pattern)
    witness = intersects(pattern, pattern)
    if reason is not None or witness is None:  # a caller bug: patterns are validated on the way in
        raise ValueError(f"{pattern!r} is not a valid subject pattern: it {reason}")
    return witness


def collide(a: str, b: str) -> bool:
    return intersects(a, b) is not None


def is_subset(a: str, b: str) -> bool:
    """Does every subject that matches `a` also match `b`?"""
    left, right = a.split("."), b.split(".")
    for index, y in enumerate(right):
        if index >= len(left):
            return False
        x = left[index]
        if y == ">":
            return True
        if x == ">":
            return False
        if y != "*" and x != y:
            return False
    return len(left) == len(right)


def cpc_prefix(cluster_id: str) -> str:
    """The prefix under which the CSC's unified topic space carries one CPC's subjects."""
    return f"cpc.{cluster_id}."


def prefixed(cluster_id: str, pattern: str) -> str:
    return cpc_prefix(cluster_id) + pattern


def strip_prefix(cluster_id: str, subject: str) -> str | None:
    """`cpc.<id>.a.b` -> `a.b`; None when the subject is not under that CPC's prefix."""
    prefix = cpc_prefix(cluster_id)
    if subject.startswith(prefix) and len(subject) > len(prefix):
        return subject[len(prefix) :]
    return None


def mqtt_topic(subject: str) -> str:
    """The MQTT topic (filter) a NATS subject (pattern) is seen as: `a.*.>` -> `a/+/#`."""
    return "/".join({"*": "+", ">": "#"}.get(token, token) for token in subject.split("."))
