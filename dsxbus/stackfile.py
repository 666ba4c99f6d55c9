"""Read `dsx-bus:eventBus` from a Pulumi.<stack>.yaml (or any mapping) without Pulumi, all problems at once."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dsxbus import checks
from dsxbus.config import EventBus
from dsxbus.errors import CONFIG_KEY, ConfigError, Problem, key_path

PROJECT = "dsx-bus"


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a repeated CPC id must be an error, not a silent drop."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice in one mapping; keep one", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


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
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, f"cannot read the stack file ({exc.strerror})")], stack) from None
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(str(path), None, f"not valid YAML: {exc}")], path.name) from None
    config = (document or {}).get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict) or CONFIG_KEY not in config:
        raise ConfigError(
            [Problem(CONFIG_KEY, None, f"missing from {path.name}: add `config: {{{CONFIG_KEY}: ...}}`")],
            path.name,
        )
    context = config.get("kubernetes:context")
    bus, warnings = parse(config[CONFIG_KEY], source=path.name)
    return Stack(stack, bus, warnings, context if isinstance(context, str) else None)


def parse(raw: object, source: str = "") -> tuple[EventBus, tuple[Problem, ...]]:
    """Validate one `dsx-bus:eventBus` value; raise ConfigError listing every problem."""
    if isinstance(raw, str):  # `pulumi config set` without --path stores JSON text
        with contextlib.suppress(yaml.YAMLError):
            raw = yaml.safe_load(raw)
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
