"""Which of many subject patterns collide with a given one, without testing every pair.

A trie over the patterns' tokens, walked with NATS' wildcard rules: a literal token follows its own branch and the
`*` branch; a `*` follows every branch; a `>` takes everything below (one token or more); a stored `>` takes any
query with a token left. Cross-layer lists of thousands of entries are then checked in time that grows with the
collisions found, not with the square of the lists (`crosslayer.check`; `benchmarks/cross_layer_checks.py`). Each
pair found is the same as `subjects.collide` says (a hypothesis property in tests/unit/test_subjectindex.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    """Next token -> node; `*` is a child like any other token."""
    ends: list[int] = field(default_factory=list)
    """Patterns that end here."""
    rest: list[int] = field(default_factory=list)
    """Patterns whose next (last) token is `>`: they take one token or more from here."""

    def everything(self) -> Iterator[int]:
        """Every pattern below this node that has at least one token after it."""
        yield from self.rest
        for child in self.children.values():
            yield from child.ends
            yield from child.everything()


class SubjectIndex:
    """Subject patterns by position, for `colliding` queries."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._root = _Node()
        self._size = 0
        for position, pattern in enumerate(patterns):
            self._add(position, pattern.split("."))
            self._size = position + 1

    def __len__(self) -> int:
        return self._size

    def _add(self, position: int, tokens: Sequence[str]) -> None:
        node = self._root
        for token in tokens[:-1]:
            node = node.children.setdefault(token, _Node())
        last = tokens[-1]
        if last == ">":
            node.rest.append(position)
        else:
            node.children.setdefault(last, _Node()).ends.append(position)

    def colliding(self, pattern: str) -> list[int]:
        """The positions of every stored pattern some concrete subject matches together with `pattern`, ascending."""
        found: set[int] = set()
        self._walk(self._root, pattern.split("."), 0, found)
        return sorted(found)

    def _walk(self, node: _Node, query: list[str], index: int, found: set[int]) -> None:
        if index == len(query):
            found.update(node.ends)
            return
        # A stored `>` here takes the query's remaining tokens (there is at least one).
        found.update(node.rest)
        token = query[index]
        if token == ">":
            found.update(node.everything())
            return
        branches = node.children.values() if token == "*" else (node.children.get(token), node.children.get("*"))
        for child in branches:
            if child is not None:
                self._walk(child, query, index + 1, found)
