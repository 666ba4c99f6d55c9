"""Container image references: is a reference pinned to one build?"""

from __future__ import annotations

from collections.abc import Collection


def tag_of(reference: str) -> str | None:
    """`nats:2.12.6-alpine` -> `2.12.6-alpine`; `registry:5000/nats` -> None (a registry port is not a tag)."""
    name = reference.split("@", 1)[0]
    repository, _, tag = name.rpartition(":")
    if not repository or "/" in tag:
        return None
    return tag


def pin_problem(reference: str, floating_tags: Collection[str] = ("latest",)) -> str | None:
    """Why `reference` may pull a different image tomorrow, or None if it names one build (tag or digest)."""
    if "@sha256:" in reference:
        return None
    tag = tag_of(reference)
    if tag is None:
        return "has no tag, so every pull takes whatever ':latest' is then"
    if tag in floating_tags:
        return f"uses the floating tag {tag!r}, which moves with every release"
    return None
