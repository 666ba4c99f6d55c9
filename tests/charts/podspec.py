"""Pure checks on Kubernetes objects as plain dicts: pod specs the API server would accept, references that resolve.

Every check returns the problems it found as sentences (empty: none), so a test can assert `== []` and show them all.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Manifest = Mapping[str, Any]

_TEMPLATED = frozenset({"StatefulSet", "Deployment", "DaemonSet", "ReplicaSet", "Job"})


@dataclass(frozen=True)
class PodSpec:
    owner: str
    """`StatefulSet/nats`: where the spec comes from, for messages."""
    spec: Mapping[str, Any]
    claims: frozenset[str] = frozenset()
    """A StatefulSet's volumeClaimTemplates: containers mount them by name like volumes."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The pods' labels (what Services and monitors select)."""

    def volume_names(self) -> list[str]:
        return [v["name"] for v in self.spec.get("volumes") or []]


def pod_specs(manifests: Iterable[Manifest]) -> list[PodSpec]:
    """The pod spec of every workload (StatefulSet/Deployment/DaemonSet/ReplicaSet/Job/CronJob templates, Pods)."""
    found = []
    for manifest in manifests:
        kind = manifest.get("kind")
        template: Any = None
        claims = frozenset(
            t["metadata"]["name"] for t in (manifest.get("spec") or {}).get("volumeClaimTemplates") or []
        )
        if kind == "Pod":
            template = manifest
        elif kind == "CronJob":
            template = manifest["spec"]["jobTemplate"]["spec"]["template"]
        elif kind in _TEMPLATED:
            template = manifest["spec"]["template"]
        if template is not None and template.get("spec") is not None:
            labels = (template.get("metadata") or {}).get("labels") or {}
            found.append(PodSpec(f"{kind}/{manifest['metadata']['name']}", template["spec"], claims, labels))
    return found


def containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Init containers first, then the others: every container the kubelet starts."""
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def container(pod: PodSpec, name: str) -> Mapping[str, Any]:
    matching = [c for c in containers(pod.spec) if c["name"] == name]
    if len(matching) != 1:
        raise LookupError(f"{pod.owner} has {len(matching)} containers named {name!r}")
    return matching[0]


def _duplicates(items: Iterable[str]) -> list[str]:
    return sorted(item for item, count in Counter(items).items() if count > 1)


def pod_spec_problems(pod: PodSpec) -> list[str]:
    """What the API server refuses: repeated volume or container names, a mountPath twice, a mount of no volume."""
    spec = pod.spec
    volumes = pod.volume_names()
    problems = [f"{pod.owner}: volume {name!r} is declared more than once" for name in _duplicates(volumes)]
    everyone = containers(spec)
    problems += [
        f"{pod.owner}: container name {name!r} is used more than once"
        for name in _duplicates(c["name"] for c in everyone)
    ]
    for each in everyone:
        mounts = each.get("volumeMounts") or []
        problems += [
            f"{pod.owner}: container {each['name']!r} mounts {path} more than once (mountPath must be unique)"
            for path in _duplicates(m["mountPath"] for m in mounts)
        ]
        problems += [
            f"{pod.owner}: container {each['name']!r} mounts volume {m['name']!r}, which the pod does not declare"
            for m in mounts
            if m["name"] not in volumes and m["name"] not in pod.claims
        ]
    return problems


def repeated_flags(pod: PodSpec) -> list[str]:
    """`--flag=value` given twice to one container: harmless to the parser, but two sources of one setting."""
    problems = []
    for each in containers(pod.spec):
        words = [*(each.get("command") or []), *(each.get("args") or [])]
        flags = [w for w in words if isinstance(w, str) and w.startswith("-") and "=" in w]
        problems += [f"{pod.owner}: container {each['name']!r} gets {flag} twice" for flag in _duplicates(flags)]
    return problems


def is_under(path: str, directory: str) -> bool:
    """`/etc/nats-certs/tls.crt` is under `/etc/nats-certs`; `/etc/nats-certs-old/x` is not."""
    directory = directory.rstrip("/") or "/"
    return path == directory or path.startswith(directory if directory == "/" else directory + "/")


def watched_files(pod: PodSpec, reloader: str = "reloader") -> list[str]:
    """The files the nats config reloader watches (`-config FILE`): a change to one reloads the server."""
    if reloader not in {c["name"] for c in containers(pod.spec)}:
        return []
    args = list(container(pod, reloader).get("args") or [])
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "-config"]


def reloader_watch_problems(pod: PodSpec, reloader: str = "reloader") -> list[str]:
    """Every file the config reloader watches is on one of its own mounts (else it cannot start)."""
    watched = watched_files(pod, reloader)
    if not watched:
        return []
    mounts = [m["mountPath"] for m in container(pod, reloader).get("volumeMounts") or []]
    return [
        f"{pod.owner}: the {reloader} watches {path}, but none of its mounts ({', '.join(mounts)}) holds it"
        for path in watched
        if not any(is_under(path, mount) for mount in mounts)
    ]


@dataclass(frozen=True)
class Inventory:
    """What exists in the namespace: objects by name, with Secret/ConfigMap contents by key."""

    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    service_accounts: frozenset[str] = frozenset({"default"})  # every namespace has one
    services: Mapping[str, frozenset[int]] = field(default_factory=dict)
    """Service name -> its ports."""

    def __or__(self, other: Inventory) -> Inventory:
        return Inventory(
            {**self.secrets, **other.secrets},
            {**self.config_maps, **other.config_maps},
            self.service_accounts | other.service_accounts,
            {**self.services, **other.services},
        )


def _decoded(data: Mapping[str, str] | None) -> dict[str, str]:
    return {key: base64.b64decode(value).decode(errors="replace") for key, value in (data or {}).items()}


def inventory(manifests: Iterable[Manifest]) -> Inventory:
    """The Secrets, ConfigMaps, ServiceAccounts and Services among `manifests` (as rendered or registered)."""
    secrets: dict[str, Mapping[str, str]] = {}
    config_maps: dict[str, Mapping[str, str]] = {}
    accounts: set[str] = set()
    services: dict[str, frozenset[int]] = {}
    for manifest in manifests:
        kind, name = manifest.get("kind"), manifest.get("metadata", {}).get("name")
        if kind == "Secret":
            secrets[name] = {**_decoded(manifest.get("data")), **(manifest.get("stringData") or {})}
        elif kind == "ConfigMap":
            config_maps[name] = {**(manifest.get("data") or {}), **_decoded(manifest.get("binaryData"))}
        elif kind == "ServiceAccount":
            accounts.add(name)
        elif kind == "Service":
            services[name] = frozenset(int(p["port"]) for p in manifest.get("spec", {}).get("ports") or [])
    return Inventory(secrets, config_maps, frozenset(accounts) | {"default"}, services)


@dataclass(frozen=True)
class _Ref:
    kind: str  # "Secret" | "ConfigMap"
    name: str
    keys: tuple[str, ...]
    optional: bool
    where: str


def _volume_refs(volume: Mapping[str, Any]) -> Iterator[_Ref]:
    where = f"volume {volume['name']!r}"
    sources: list[tuple[str, Mapping[str, Any]]] = []
    if "secret" in volume:
        secret = volume["secret"]
        sources.append(("Secret", {**secret, "name": secret.get("secretName")}))
    if "configMap" in volume:
        sources.append(("ConfigMap", volume["configMap"]))
    for source in (volume.get("projected") or {}).get("sources") or []:
        if "secret" in source:
            sources.append(("Secret", source["secret"]))
        if "configMap" in source:
            sources.append(("ConfigMap", source["configMap"]))
    for kind, ref in sources:
        keys = tuple(item["key"] for item in ref.get("items") or [])
        yield _Ref(kind, ref["name"], keys, bool(ref.get("optional")), where)


def _container_refs(each: Mapping[str, Any]) -> Iterator[_Ref]:
    for env in each.get("env") or []:
        source = env.get("valueFrom") or {}
        where = f"container {each['name']!r} env {env['name']}"
        for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            if key in source:
                ref = source[key]
                yield _Ref(kind, ref["name"], (ref["key"],), bool(ref.get("optional")), where)
    for env_from in each.get("envFrom") or []:
        where = f"container {each['name']!r} envFrom"
        for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            if key in env_from:
                ref = env_from[key]
                yield _Ref(kind, ref["name"], (), bool(ref.get("optional")), where)


def reference_problems(pod: PodSpec, available: Inventory) -> list[str]:
    """Every Secret, ConfigMap (and key) and ServiceAccount the pod names exists; optional refs may be missing."""
    spec = pod.spec
    problems = []
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if account not in available.service_accounts:
        problems.append(f"{pod.owner}: ServiceAccount {account!r} does not exist")
    refs = [r for v in spec.get("volumes") or [] for r in _volume_refs(v)]
    refs += [r for c in containers(spec) for r in _container_refs(c)]
    refs += [_Ref("Secret", s["name"], (), False, "imagePullSecrets") for s in spec.get("imagePullSecrets") or []]
    for ref in refs:
        objects = available.secrets if ref.kind == "Secret" else available.config_maps
        if ref.optional:
            continue
        if ref.name not in objects:
            problems.append(f"{pod.owner}: {ref.where} names {ref.kind} {ref.name!r}, which does not exist")
            continue
        problems += [
            f"{pod.owner}: {ref.where} names key {key!r} of {ref.kind} {ref.name!r}, which has only "
            f"{', '.join(sorted(objects[ref.name])) or 'no keys'}"
            for key in ref.keys
            if key not in objects[ref.name]
        ]
    return problems


def route_problems(route: Manifest, available: Inventory) -> list[str]:
    """Every backendRef of a Gateway API route is a port of an existing Service."""
    owner = f"{route.get('kind')}/{route['metadata']['name']}"
    problems = []
    for rule in route.get("spec", {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            if ref.get("kind", "Service") != "Service" or ref.get("group", "") != "":
                problems.append(f"{owner}: backend {ref} is not a core Service")
                continue
            ports = available.services.get(ref["name"])
            if ports is None:
                problems.append(f"{owner}: backend Service {ref['name']!r} does not exist")
            elif int(ref["port"]) not in ports:
                shown = ", ".join(str(p) for p in sorted(ports))
                problems.append(f"{owner}: Service {ref['name']!r} has no port {ref['port']} (it has {shown})")
    return problems


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _port_names(pod: PodSpec) -> set[str]:
    return {p["name"] for c in containers(pod.spec) for p in c.get("ports") or [] if "name" in p}


def service_problems(service: Manifest, pods: Iterable[PodSpec]) -> list[str]:
    """A Service selects at least one pod, and every named targetPort is a port name of the pods it selects."""
    owner = f"Service/{service['metadata']['name']}"
    spec = service.get("spec") or {}
    selector = spec.get("selector") or {}
    if not selector:
        return []  # endpoints managed elsewhere
    selected = [p for p in pods if _selects(selector, p.labels)]
    if not selected:
        return [f"{owner}: its selector {dict(selector)} matches no pod"]
    return [
        f"{owner}: port {port.get('name', port['port'])} targets {port['targetPort']!r}, a port no selected pod names"
        for port in spec.get("ports") or []
        if isinstance(port.get("targetPort"), str) and not all(port["targetPort"] in _port_names(p) for p in selected)
    ]


def monitor_problems(monitor: Manifest, manifests: Iterable[Manifest]) -> list[str]:
    """A ServiceMonitor selects a Service exposing each endpoint port; a PodMonitor selects a pod."""
    owner = f"{monitor['kind']}/{monitor['metadata']['name']}"
    spec = monitor.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    objects = list(manifests)
    if monitor["kind"] == "PodMonitor":
        if not any(_selects(selector, p.labels) for p in pod_specs(objects)):
            return [f"{owner}: its selector {dict(selector)} matches no pod"]
        return []
    services = [
        m
        for m in objects
        if m.get("kind") == "Service" and _selects(selector, (m.get("metadata") or {}).get("labels") or {})
    ]
    if not services:
        return [f"{owner}: its selector {dict(selector)} matches no Service"]
    names = {p.get("name") for s in services for p in (s.get("spec") or {}).get("ports") or []}
    return [
        f"{owner}: endpoint port {e['port']!r} is not a port of the Services it selects"
        for e in spec.get("endpoints") or []
        if "port" in e and e["port"] not in names
    ]
