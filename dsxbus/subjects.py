"""Wildcard-aware algebra of NATS subjects (validate, match, intersect), and the subjects dsx-bus generates per CPC."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dsxbus import naming

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


# --- the subjects dsx-bus generates for each CPC ------------------------------------------------------------------

PREFIX_ROOT = "cpc"
"""The first token of every subject the CSC carries for a CPC (`cpc.<id>.X`)."""
SOURCING_ROOT = "csc2cpc"
"""The first token of every CPC's MQTT stream sourcing deliveries on the CSC (`csc2cpc.<id>.>`)."""


UPSOURCING_ROOT = "cpc2csc"
"""The first token of the CSC's MQTT stream sourcing deliveries from each CPC (`cpc2csc.<id>.>`)."""


def upsourcing_prefix(cluster_id: str) -> str:
    """The deliver prefix of the CSC's MQTT stream sources from CPC `cluster_id`."""
    return f"{UPSOURCING_ROOT}.{cluster_id}"


def upsourcing_deliveries(cluster_id: str) -> str:
    """`cpc2csc.<id>.>`: every delivery of the CSC's MQTT stream sources from one CPC, on the CPC and on the CSC."""
    return f"{upsourcing_prefix(cluster_id)}.>"


UPLINK_ROOT = "uplink2csc"
"""The first token of the CSC's own MQTT streams' deliveries from each CPC's uplink streams (`uplink2csc.<id>.>`)."""


def uplink_prefix(cluster_id: str) -> str:
    """The deliver prefix of the CSC's MQTT stream sources of CPC `cluster_id`'s uplink streams (its account)."""
    return f"{UPLINK_ROOT}.{cluster_id}"


def uplink_deliveries(cluster_id: str) -> str:
    """`uplink2csc.<id>.>`: every delivery from CPC `cluster_id`'s uplink streams to the CSC account's MQTT streams."""
    return f"{uplink_prefix(cluster_id)}.>"


def cpc_prefix(cluster_id: str) -> str:
    """The prefix under which the CSC's unified topic space carries one CPC's subjects."""
    return f"{PREFIX_ROOT}.{cluster_id}."


def prefixed(cluster_id: str, pattern: str) -> str:
    return cpc_prefix(cluster_id) + pattern


def strip_prefix(cluster_id: str, subject: str) -> str | None:
    """`cpc.<id>.a.b` -> `a.b`; None when the subject is not under that CPC's prefix."""
    prefix = cpc_prefix(cluster_id)
    if subject.startswith(prefix) and len(subject) > len(prefix):
        return subject[len(prefix) :]
    return None


def prefix_owner(subject: str) -> tuple[str, str] | None:
    """`cpc.a.sensor.>` -> ("a", "sensor.>"): the CPC id and the rest of a prefixed subject (a wildcard id: None)."""
    parts = subject.split(".", 2)
    if len(parts) == 3 and parts[0] == PREFIX_ROOT and parts[1] not in ("*", ">"):
        return parts[1], parts[2]
    return None


def sourcing_prefix(cluster_id: str) -> str:
    """The deliver prefix of a CPC's MQTT stream sources from the CSC."""
    return f"{SOURCING_ROOT}.{cluster_id}"


def sourcing_deliveries(cluster_id: str) -> str:
    """`csc2cpc.<id>.>`: every delivery of a CPC's MQTT stream sources, on the CSC and on the CPC."""
    return f"{sourcing_prefix(cluster_id)}.>"


def jetstream_api(domain: str) -> str:
    """`$JS.<domain>.API`: where a client reaches the JetStream API of domain `<domain>` (or of an import so named)."""
    return f"$JS.{domain}.API"


def cpc_domain(cluster_id: str) -> str:
    """`CPC-<id>`: the name under which the CSC account imports one CPC's JetStream API."""
    return f"{naming.CPC}-{cluster_id}"


def cpc_jetstream_api(cluster_id: str) -> str:
    """`$JS.CPC-<id>.API.>`: one CPC's JetStream API as the CSC account (and that CPC's leaf) reaches it."""
    return f"{jetstream_api(cpc_domain(cluster_id))}.>"


def cpc_jetstream_api_owner(subject: str) -> str | None:
    """`$JS.CPC-a.API.>` -> `a`: the CPC whose JetStream API this is; None for any other subject."""
    tokens = subject.split(".")
    if len(tokens) != 4:
        return None
    cluster_id = tokens[1].removeprefix(cpc_domain(""))
    valid = re.fullmatch(naming.CLUSTER_ID_PATTERN, cluster_id) is not None
    return cluster_id if valid and subject == cpc_jetstream_api(cluster_id) else None


def mqtt_topic(subject: str) -> str:
    """The MQTT topic (filter) a NATS subject (pattern) is seen as: `a.*.>` -> `a/+/#`."""
    return "/".join({"*": "+", ">": "#"}.get(token, token) for token in subject.split("."))


def meet(a: str, b: str) -> str | None:
    """The pattern of exactly the subjects both patterns match, or None if they share none.

    Token by token the narrower side wins; where one side says `>`, the other side's rest is kept
    (`a.>` with `*.b` -> `a.b`). `intersects` gives one witness; this gives all of them, so that a
    deny list can be weighed against the whole overlap.
    """
    left, right = a.split("."), b.split(".")
    tokens: list[str] = []
    for index in range(max(len(left), len(right))):
        x = left[index] if index < len(left) else None
        y = right[index] if index < len(right) else None
        if x is None or y is None:
            return None
        if x == ">":
            return ".".join(tokens + right[index:])
        if y == ">":
            return ".".join(tokens + left[index:])
        if x == "*":
            tokens.append(y)
        elif y == "*" or x == y:
            tokens.append(x)
        else:
            return None
    return ".".join(tokens)


def uncovered(pattern: str, covers: Iterable[str]) -> str | None:
    """A concrete subject `pattern` matches and none of `covers` does (a witness), or None if the covers take it all.

    Exact, not a sufficient test: `a.>` is covered by `a.*` and `a.*.>` together but by neither alone
    (`is_subset` on each says no), and not by `a.*` (`a.x.x` escapes). The search walks the subject token
    by token and keeps the covers still matching the prefix. Where `pattern` allows any token, only the
    literals those covers name at that position and one token none of them names can make a difference
    (every other token behaves exactly like that fresh one), and no cover constrains a subject longer than
    itself, so the search is finite and complete. It branches once per literal at each wildcard
    position: exponential only in the length of the patterns, which NATS subjects keep short.
    """
    target = _shape(pattern)
    shapes = [_shape(cover) for cover in covers]
    named = {t for tokens, _ in (target, *shapes) for t in tokens if t != "*"}
    fresh = FILLER
    while fresh in named:
        fresh += FILLER
    found = _escape(target, shapes, [], fresh)
    return ".".join(found) if found is not None else None


_Shape = tuple[tuple[str, ...], bool]
"""A pattern as its tokens before any `>`, and whether it ends in `>` (one or more further tokens)."""


def _shape(pattern: str) -> _Shape:
    tokens = tuple(pattern.split("."))
    return (tokens[:-1], True) if tokens[-1] == ">" else (tokens, False)


def _escape(target: _Shape, alive: list[_Shape], prefix: list[str], fresh: str) -> list[str] | None:
    """Extend `prefix` (which `target` and every cover in `alive` match so far) to a subject no cover matches."""
    at = len(prefix)
    fixed, open_ended = target
    # A subject may end here when the target is complete (a `>` needs at least one token of its own).
    if (at > len(fixed) if open_ended else at == len(fixed)) and not any(
        (at > len(tokens) if tail else at == len(tokens)) for tokens, tail in alive
    ):
        return prefix
    if at >= len(fixed) and not open_ended:
        return None
    if any(tail and at >= len(tokens) for tokens, tail in alive):
        return None  # a cover's `>` is reached: every longer subject is covered
    if at < len(fixed) and fixed[at] != "*":
        candidates = [fixed[at]]
    else:
        named = sorted({tokens[at] for tokens, _ in alive if at < len(tokens) and tokens[at] != "*"})
        candidates = [fresh, *named]
    for token in candidates:
        still = [(tokens, tail) for tokens, tail in alive if at < len(tokens) and tokens[at] in ("*", token)]
        found = _escape(target, still, [*prefix, token], fresh)
        if found is not None:
            return found
    return None
