"""Reading what a stack declares: Kubernetes objects, chart values, rendered configs, the auth-callout's files."""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from dsxbus import deployed

CPC_COMPONENT = "dsx-bus:cpc:CpcEventBus"
CSC_COMPONENT = "dsx-bus:csc:CscEventBus"
PERMISSIONS_FILE = "permissions.json"
AUTH_CALLOUT_CONFIG_FILE = "config.yaml"
NATS_CONF_FILE = "nats.conf"
ALL_STACKS = "*"


def plain(value: object) -> Any:
    """A proxied property as plain dicts and lists; raises UnknownValueError at the first value unknown in preview."""
    if isinstance(value, Mapping):
        return {str(key): plain(value[key]) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(item) for item in value]
    return value


def prop(props: Mapping[str, Any], *path: str) -> Any:
    """props[a][b]...: None where a level is missing or not an object."""
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return plain(value)


def strings_in(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


@dataclass(frozen=True)
class K8sObject:
    """A Kubernetes object (or chart, or component) as a policy sees it."""

    type: str
    name: str
    """The Pulumi resource name."""
    urn: str
    props: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def object_name(self) -> str:
        """metadata.name, a chart's release name, else the Pulumi name."""
        given = prop(self.props, "metadata", "name")
        if not given and self.type.startswith("kubernetes:helm.sh/"):
            given = prop(self.props, "name")
        return given if isinstance(given, str) and given else self.name

    @property
    def namespace(self) -> str:
        given = prop(self.props, "metadata", "namespace")
        return given if isinstance(given, str) else ""

    @property
    def label(self) -> str:
        """How messages name it: `TLSRoute nats-mqtt-mtls` (Pulumi name in brackets when it differs)."""
        shown = self.object_name
        return f"{self.kind} {shown}" + (f" ({self.name})" if self.name != shown else "")

    def is_k8s(self, kind: str) -> bool:
        return self.type.startswith("kubernetes:") and self.type.endswith(f":{kind}")

    def file(self, key: str) -> str | None:
        """A ConfigMap's data[key] (None if absent or not a ConfigMap)."""
        if not self.is_k8s("ConfigMap"):
            return None
        value = prop(self.props, "data", key)
        return value if isinstance(value, str) else None


def same_namespace(a: K8sObject, b: K8sObject) -> bool:
    # An object without a namespace lands in the provider's default one: assume it is the same.
    return not a.namespace or not b.namespace or a.namespace == b.namespace


def object_of(args: ResourceValidationArgs) -> K8sObject:
    return K8sObject(args.resource_type, args.name, args.urn, args.props)


def objects_of(args: StackValidationArgs) -> list[K8sObject]:
    return [K8sObject(r.resource_type, r.name, r.urn, r.props) for r in args.resources]


def config_of(args: ResourceValidationArgs | StackValidationArgs) -> Mapping[str, Any]:
    return args.get_config() or {}


class Later:
    """What a stack policy cannot read yet (unknown in preview): the rest is checked, this is reported at the end.

    Raising UnknownValueError makes the analyzer report an advisory "can't run policy ... during preview" with
    this message, after any violation already reported from the values that are known.
    """

    def __init__(self) -> None:
        self.unknown: list[str] = []

    @contextmanager
    def reading(self, what: str) -> Iterator[None]:
        try:
            yield
        except UnknownValueError as exc:
            self.unknown.append(f"{what}: {exc.message}")

    def settle(self) -> None:
        if self.unknown:
            error = UnknownValueError(UNKNOWN_STRING_VALUE, [])
            error.message = (
                "cannot check yet, "
                + "; ".join(self.unknown)
                + ". It is checked when the values are known (pulumi up)."
            )
            raise error


def current_stack() -> str:
    # The engine starts every policy pack with the stack's name in PULUMI_STACK.
    return os.environ.get("PULUMI_STACK", "")


def for_this_stack(by_stack: object) -> list[str] | None:
    """A policy config value keyed by stack name (`*` for every stack): this stack's list, None if not given."""
    if not isinstance(by_stack, Mapping):
        return None
    chosen: list[str] | None = None
    for key in (ALL_STACKS, current_stack()):
        value = by_stack.get(key)
        if isinstance(value, Sequence) and not isinstance(value, str):
            chosen = [*(chosen or []), *(str(item) for item in value)]
    return chosen


def is_chart(resource: K8sObject) -> bool:
    return resource.type.startswith("kubernetes:helm.sh/") and resource.kind in ("Chart", "Release")


@dataclass(frozen=True)
class NatsConfig:
    """The NATS server config a nats chart or Helm Release deploys (values.config.merge) or a rendered nats.conf."""

    where: str
    tree: dict[str, Any]
    chart: dict[str, Any] | None
    """The chart's own `config` values (cluster, jetstream switches) beside the merge; None for nats.conf."""


def nats_config_of(resource: K8sObject) -> NatsConfig | None:
    if is_chart(resource):
        config = prop(resource.props, "values", "config")
        merge = config.get("merge") if isinstance(config, dict) else None
        if isinstance(merge, dict):
            return NatsConfig(f"{resource.label} values.config.merge", merge, config)
        return None
    text = resource.file(NATS_CONF_FILE)
    tree = deployed.chart_nats_conf(text) if text is not None else None
    return NatsConfig(f"{resource.label} {NATS_CONF_FILE}", tree, None) if tree is not None else None


def secret_value(secret: K8sObject, key: str) -> str | None:
    """A Secret's value for `key` (stringData, else base64 data); None if absent or not text."""
    value = prop(secret.props, "stringData", key)
    if isinstance(value, str):
        return value
    encoded = prop(secret.props, "data", key)
    if not isinstance(encoded, str):
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Env:
    value: str | None
    """The value, or None when it comes from an object outside this stack (set, but not readable here)."""
    source: str


def pod_spec(workload: K8sObject) -> dict[str, Any]:
    spec = prop(workload.props, "spec", "template", "spec")
    return spec if isinstance(spec, dict) else {}


def containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in (pod.get(key) or [])
        if isinstance(c, dict)
    ]


class _ByName:
    """Objects of one kind by object_name, answering "the first of them named N beside this workload" as a scan of
    the list in order would, unknowns included: it raises for the first object whose name (or, once its name
    matches, whose namespace) is unknown in preview before the one it finds, and for no other."""

    def __init__(self, objects: list[K8sObject]) -> None:
        self._named: dict[str, list[tuple[int, K8sObject]]] = {}
        self._unknown: tuple[int, K8sObject] | None = None
        for index, candidate in enumerate(objects):
            try:
                name = candidate.object_name
            except UnknownValueError:
                self._unknown = self._unknown or (index, candidate)
                continue
            self._named.setdefault(name, []).append((index, candidate))

    def first(self, name: object, near: K8sObject) -> K8sObject | None:
        stop = self._unknown[0] if self._unknown is not None else None
        for index, candidate in self._named.get(name, []) if isinstance(name, str) else []:
            if stop is not None and index > stop:
                break
            if same_namespace(candidate, near):
                return candidate
        if self._unknown is not None:
            _ = self._unknown[1].object_name  # raises, as the scan would have on reaching it
        return None


class Environment:
    """The env vars of a set of workloads; each value read (through this stack's Secrets and ConfigMaps) only when
    asked for, so an unrelated value that is unknown in preview (a generated seed) never blocks a check."""

    def __init__(self, workloads: list[K8sObject], resources: list[K8sObject]) -> None:
        self._resources = resources
        self._by_kind: dict[str, _ByName] = {}
        self._items: dict[str, tuple[K8sObject, dict[str, Any]]] = {}
        for workload in workloads:
            for container in containers(pod_spec(workload)):
                for item in container.get("env") or []:
                    if isinstance(item, dict) and isinstance(item.get("name"), str):
                        self._items[item["name"]] = (workload, item)

    def _named(self, kind: str) -> _ByName:
        # Built on first use: a CSC's auth-callout reads one env var per CPC, each through the same Secrets.
        if kind not in self._by_kind:
            self._by_kind[kind] = _ByName([r for r in self._resources if r.is_k8s(kind)])
        return self._by_kind[kind]

    def get(self, name: str) -> Env | None:
        if name not in self._items:
            return None
        workload, item = self._items[name]
        ref = item.get("valueFrom") or {}
        if not ref:
            return Env(str(item.get("value") or ""), "a literal value")
        for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            selector = ref.get(field)
            if not isinstance(selector, dict):
                continue
            holder_name, key = selector.get("name"), str(selector.get("key"))
            holder = self._named(kind).first(holder_name, workload)
            if holder is None:
                return Env(None, f"{kind} {holder_name} key {key}")
            value = secret_value(holder, key) if kind == "Secret" else prop(holder.props, "data", key)
            return Env(value if isinstance(value, str) else "", f"{kind} {holder.object_name} key {key}")
        return Env(None, "the pod itself")


def mounts(workload: K8sObject, config_map: K8sObject) -> bool:
    volumes = pod_spec(workload).get("volumes") or []
    return same_namespace(workload, config_map) and any(
        isinstance(v, dict) and (v.get("configMap") or {}).get("name") == config_map.object_name for v in volumes
    )


@dataclass(frozen=True)
class AuthCalloutFiles:
    """One auth-callout: its permissions.json ConfigMap, the Deployments mounting it, its config.yaml ConfigMaps."""

    permissions: K8sObject
    document: dict[str, Any]
    deployments: list[K8sObject]
    configs: list[K8sObject]


def permissions_document(config_map: K8sObject) -> dict[str, Any] | None:
    """The auth-callout's permissions.json in a ConfigMap, None when there is none or it is not a JSON object.

    An unreadable file is not ours to judge: the auth-callout reports it at start.
    """
    text = config_map.file(PERMISSIONS_FILE)
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def auth_callouts(resources: list[K8sObject], later: Later) -> list[AuthCalloutFiles]:
    found = []
    for config_map in resources:
        with later.reading(config_map.label):
            document = permissions_document(config_map)
            if document is None:
                continue
            deployments = [r for r in resources if r.is_k8s("Deployment") and mounts(r, config_map)]
            configs = [
                r
                for r in resources
                if r.file(AUTH_CALLOUT_CONFIG_FILE) is not None
                and (any(mounts(d, r) for d in deployments) or (not deployments and same_namespace(r, config_map)))
            ]
            found.append(AuthCalloutFiles(config_map, document, deployments, configs))
    return found


def nkey_entries(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    nkey = document.get("nkey")
    return {k: v for k, v in nkey.items() if isinstance(v, dict)} if isinstance(nkey, dict) else {}
