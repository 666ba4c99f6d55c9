"""Value keys a chart silently ignores: every leaf path the program passes must be one the chart's values.yaml has.

Helm renders unknown keys without a word, so `config.jetstream.memStore` would just leave the memory store
off. The chart's own values.yaml is the schema; the two lists below are the only exceptions, each checked
against the chart templates (nats 2.12.6, nack 0.33.2, surveyor 0.20.7).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

FREE_FORM: Mapping[str, tuple[str, ...]] = {
    "nats": (
        # nats.loadMergePatch: every `merge` is mergeOverwrite'd onto the templated object or config block, and
        # every `patch` is a JSON patch applied after it; `config.merge` is the whole nats.conf tree this way.
        "**.merge",
        "**.patch",
        # nats.env: env name -> string or EnvVar fields (`valueFrom`), each merged with its name into the list.
        "container.env",
        "reloader.env",
        "promExporter.env",
        "natsBox.container.env",
        # pod-template.yaml: topologyKey -> constraint, merged verbatim with the pods' labelSelector.
        "podTemplate.topologySpreadConstraints",
        # toYaml'd as they are.
        "container.resources",
        "global.labels",
    ),
    "nack": (
        # deployment-jetstream-controller.yml and _helpers.tpl toYaml these verbatim.
        "resources",
        "podAnnotations",
        "securityContext",
        "containerSecurityContext",
        "affinity",
        "nodeSelector",
        "global.labels",
    ),
    "surveyor": (
        # deployment.yaml, serviceMonitor.yaml and _helpers.tpl toYaml these verbatim.
        "resources",
        "podAnnotations",
        "podSecurityContext",
        "securityContext",
        "affinity",
        "nodeSelector",
        "serviceMonitor.labels",
        "serviceMonitor.annotations",
        "global.labels",
    ),
}
"""Per chart: subtrees the templates copy verbatim, so any key below them takes effect. `*` is one path
segment, `**` any number of them. A pattern only applies where values.yaml has the key itself."""

DOCUMENTED_IN_COMMENTS: Mapping[str, tuple[str, ...]] = {
    # values.yaml shows these only as commented-out examples; the templates read exactly these leaves.
    "nack": (
        "jetstream.nats.nkey.secret.name",  # deployment: the jsc-sys-nkey volume's secretName
        "jetstream.nats.nkey.secret.key",  # deployment: --nkey=/etc/jsc-nkey/<key>
    ),
    "surveyor": (
        "config.nkey.secret.name",  # deployment: the nkey volume's secretName
        "config.nkey.secret.key",  # deployment: --nkey=/nkey/<key>
    ),
}


def _matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and head in ("*", path[0]) and _matches(rest, path[1:])


def is_free_form(chart: str, path: tuple[str, ...]) -> bool:
    return any(_matches(tuple(p.split(".")), path) for p in FREE_FORM.get(chart, ()))


def schema(chart: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """values.yaml plus the comment-documented leaves (as None: any value)."""
    merged: dict[str, Any] = _copy(defaults)
    for dotted in DOCUMENTED_IN_COMMENTS.get(chart, ()):
        *parents, leaf = dotted.split(".")
        node = merged
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node.setdefault(leaf, None)
    return merged


def _copy(value: Any) -> Any:
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value


def unknown_keys(chart: str, values: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """Every value path the chart has no key for (or a map where it expects a value), as sentences."""
    return list(_walk(chart, values, schema(chart, defaults), ()))


def _walk(chart: str, values: Mapping[str, Any], known: Mapping[str, Any], path: tuple[str, ...]) -> Iterator[str]:
    for key, value in values.items():
        here = (*path, key)
        dotted = ".".join(here)
        if key not in known:
            siblings = ", ".join(sorted(known)) or "none"
            yield f"{chart}: {dotted} is not a value of the chart (it ignores it); known here: {siblings}"
            continue
        if is_free_form(chart, here):
            continue
        default = known[key]
        if isinstance(value, dict):
            if isinstance(default, dict):
                yield from _walk(chart, value, default, here)
            else:
                yield f"{chart}: {dotted} is a map, but the chart expects a single value there ({default!r})"
        elif isinstance(default, dict):
            yield f"{chart}: {dotted} is {value!r}, but the chart expects a map there"
