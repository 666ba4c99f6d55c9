"""Read `dsx-bus:eventBus` from a Pulumi.<stack>.yaml (or any mapping) without Pulumi, all problems at once."""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dsxbus import checks
from dsxbus.config import EventBus
from dsxbus.errors import CONFIG_KEY, ConfigError, Problem, key_path

PROJECT = "dsx-bus"


MAX_FILE_BYTES = 1 << 20
"""A stack file is a few KB (a CSC listing 1,000 CPCs is ~40 KB); a bigger one is not a stack file."""
MAX_DEPTH = 50
"""Nesting levels in one document; the deepest real key (a Sveltos template's data) is at 10."""
MAX_NODES = 200_000
"""YAML nodes once every alias is expanded. A 624-byte alias bomb expands to billions: refused before it is built."""

_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


class _StackFileLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a repeated key (PyYAML keeps the last of two), a key that is a list or mapping,
    and documents nested deeper than MAX_DEPTH (PyYAML recurses per level: 1,000 levels end in RecursionError)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels; no stack setting is",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _mapping(loader: _StackFileLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable) or isinstance(key, list | dict):
            raise yaml.constructor.ConstructorError(
                None, None, "a key is a list or mapping; keys are names or ids", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice in one mapping; keep one", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StackFileLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in the document with every alias expanded, counted over the node graph (aliases share nodes), so a
    bomb is measured without being built. Raises ValueError past MAX_NODES or for an alias inside its own anchor."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    # Iterative post-order walk: a deep graph must not recurse either.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not done:
            if id(node) in open_nodes:
                raise ValueError("not valid YAML here: an alias (*name) refers to a node that contains it, a loop")
            open_nodes.add(id(node))
            stack.append((node, True))
            for child in children:
                if id(child) in open_nodes:
                    raise ValueError("not valid YAML here: an alias (*name) refers to a node that contains it, a loop")
                stack.append((child, False))
            continue
        open_nodes.discard(id(node))
        size = 1 + sum(sizes[id(child)] for child in children)
        if size > MAX_NODES:
            raise ValueError(
                f"not valid YAML here: its aliases (*name) expand to more than {MAX_NODES:,} values; write them out"
            )
        sizes[id(node)] = size
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def read_yaml(text: str) -> object:
    """One YAML document as plain Python values; ValueError, in one line, for anything a stack file cannot be."""
    try:
        loader = _StackFileLoader(text)  # the reader checks every character at once: a NUL fails here
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise ValueError(f"not valid YAML: {_one_line(exc)}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def _one_line(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = "; ".join(" ".join(str(part).split()) for part in (exc.context, exc.problem) if part)
    return f"{where}{what}"


def decode(data: bytes) -> str:
    """Stack files are UTF-8 (as Pulumi writes them); anything else is named, with where it stops being UTF-8."""
    for bom, encoding in _BOMS.items():
        if data.startswith(bom):
            raise ValueError(
                f"not UTF-8: it is {encoding} (it starts with a {encoding} byte-order mark); save it as UTF-8"
            )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"not UTF-8: byte {data[exc.start]:#04x} at offset {exc.start} (line {line}); save it as UTF-8"
        ) from None


@dataclass(frozen=True)
class Stack:
    """One validated stack: its name, the cluster's config, and warnings worth showing."""

    name: str
    bus: EventBus
    warnings: tuple[Problem, ...]
    kubernetes_context: str | None = None


def stack_file(project_dir: Path, stack: str) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def stack_names(project_dir: Path) -> list[str]:
    """Every stack with a Pulumi.<stack>.yaml in the project directory, sorted (CSC first is not assumed)."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def load_stack(project_dir: Path, stack: str) -> Stack:
    path = stack_file(project_dir, stack)
    try:
        document = read_yaml(decode(_read_bytes(path)))
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, f"cannot read the stack file ({exc.strerror})")], stack) from None
    except ValueError as exc:
        raise ConfigError([Problem(str(path), None, f"{exc}")], path.name) from None
    config = (document or {}).get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict) or CONFIG_KEY not in config:
        raise ConfigError(
            [Problem(CONFIG_KEY, None, f"missing from {path.name}: add `config: {{{CONFIG_KEY}: ...}}`")],
            path.name,
        )
    context = config.get("kubernetes:context")
    bus, warnings = parse(config[CONFIG_KEY], source=path.name)
    return Stack(stack, bus, warnings, context if isinstance(context, str) else None)


def _read_bytes(path: Path) -> bytes:
    if path.exists() and not path.is_file():  # a FIFO would block the read forever, a directory fails it
        raise ValueError("not a regular file")
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024} KiB: a stack file is a few KB")
    return data


def parse(raw: object, source: str = "") -> tuple[EventBus, tuple[Problem, ...]]:
    """Validate one `dsx-bus:eventBus` value; raise ConfigError listing every problem."""
    if isinstance(raw, str):  # `pulumi config set` without --path stores JSON text
        with contextlib.suppress(ValueError):
            raw = read_yaml(raw)
    if not isinstance(raw, Mapping):
        raise ConfigError([Problem(CONFIG_KEY, raw, "must be a mapping of event bus settings")], source)
    try:
        bus = EventBus.model_validate(raw)
    except ValidationError as exc:
        schema = [_problem(error) for error in exc.errors()]
        raise ConfigError(schema + _rule_problems_without(raw, exc), source) from None
    found = checks.problems(bus)
    errors = [p for p in found if not p.warning]
    if errors:
        raise ConfigError(found, source)
    return bus, tuple(found)


def _rule_problems_without(raw: Mapping[str, Any], exc: ValidationError) -> list[Problem]:
    """Domain-rule errors among the keys that did parse, so one run reports every problem.

    The keys with schema errors are dropped and the rest validated again; rule findings about a
    dropped key are left out (it was already reported, and its absence would be misreported).
    """
    dropped = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    try:
        partial = EventBus.model_validate({k: v for k, v in raw.items() if k not in dropped})
    except ValidationError:
        return []  # a required key is among the broken ones: the schema errors are all we can say
    prefixes = tuple(key_path(key) for key in dropped)
    return [p for p in checks.problems(partial) if not p.warning and not p.key.startswith(prefixes)]


def _problem(error: Mapping[str, Any]) -> Problem:
    loc = tuple(error["loc"])
    value = error.get("input")
    kind = error["type"]
    if kind == "missing":
        return Problem(key_path(*loc), None, "required: set it")
    if kind == "extra_forbidden":
        return Problem(
            key_path(*loc),
            value,
            "not a dsx-bus setting; check the spelling (see the README's config reference)",
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind.startswith(("literal_error", "enum")):
        message = message.replace("Input should be", "use")
    return Problem(key_path(*loc), value, message)
