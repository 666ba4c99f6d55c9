"""Load a rendered nats.conf with the deployed nats-server, given exactly what its container would have.

The pod's mounts are materialised under a temporary root (ConfigMap and Secret contents, empty dirs) and the
container's env is passed as the server's whole environment, since nats-server expands `$VAR` from it.
Only root could create `/etc/nats-certs/...` itself, so `relocate` rewrites the absolute paths the conf
names, and only those under one of the container's mounts, to the same path under the root. A path the
conf names outside every mount stays as written, so `nats-server -t` fails on it as the pod would.
"""

from __future__ import annotations

import json
import posixpath
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dsxbus import natsconf, render
from tests.charts.podspec import Inventory, PodSpec, container, is_under

_QUOTED_PATH = re.compile(r'"(/[^"\n]*)"')
_INCLUDE = re.compile(r"(?m)^(\s*include\s+)(/[^;\s]+)(\s*;)")
_DEPENDENT = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_BARE_VARIABLE = re.compile(r"(?m)(^\s*|:\s*)(\$[A-Za-z_][A-Za-z0-9_]*)(\s*,?\s*)$")


def relocate(text: str, mount_paths: Iterable[str], root: Path) -> str:
    """`"/etc/nats-certs/tls.crt"` -> `"<root>/etc/nats-certs/tls.crt"` when `/etc/nats-certs` is a mount.

    Quoted strings and `include` directives only; anything not under a mount is left alone.
    """
    mounts = [m for m in mount_paths if m.startswith("/")]

    def moved(path: str) -> str:
        return f"{root}{path}" if any(is_under(path, m) for m in mounts) else path

    text = _QUOTED_PATH.sub(lambda m: f'"{moved(m[1])}"', text)
    return _INCLUDE.sub(lambda m: f"{m[1]}{moved(m[2])}{m[3]}", text)


def volume_files(volume: Mapping[str, Any], available: Inventory) -> dict[str, str]:
    """File name -> content of a volume as the kubelet fills it (all keys, or the listed items)."""
    sources: list[tuple[Mapping[str, str], Mapping[str, Any]]] = []
    if "secret" in volume:
        sources.append((available.secrets.get(volume["secret"].get("secretName"), {}), volume["secret"]))
    if "configMap" in volume:
        sources.append((available.config_maps.get(volume["configMap"].get("name"), {}), volume["configMap"]))
    for source in (volume.get("projected") or {}).get("sources") or []:
        if "secret" in source:
            sources.append((available.secrets.get(source["secret"]["name"], {}), source["secret"]))
        if "configMap" in source:
            sources.append((available.config_maps.get(source["configMap"]["name"], {}), source["configMap"]))
    files: dict[str, str] = {}
    for data, ref in sources:
        items = ref.get("items")
        if items:
            files.update({item["path"]: data[item["key"]] for item in items if item["key"] in data})
        else:
            files.update(data)
    return files


def materialise(pod: PodSpec, name: str, available: Inventory, root: Path) -> list[str]:
    """Write every mount of container `name` under `root`; returns the mount paths."""
    volumes = {v["name"]: v for v in pod.spec.get("volumes") or []}
    paths = []
    for mount in container(pod, name).get("volumeMounts") or []:
        target = root / mount["mountPath"].lstrip("/")
        files = volume_files(volumes.get(mount["name"], {}), available)  # claims and emptyDirs: empty
        if mount.get("subPath"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files.get(mount["subPath"], ""))
        else:
            target.mkdir(parents=True, exist_ok=True)
            for file_name, content in files.items():
                (target / file_name).parent.mkdir(parents=True, exist_ok=True)
                (target / file_name).write_text(content)
        paths.append(mount["mountPath"])
    return paths


@dataclass(frozen=True)
class PodIdentity:
    """What the downward API would say about one replica."""

    name: str
    namespace: str
    node: str = "node-1"
    ip: str = "10.0.0.10"


def _field(path: str, pod: PodIdentity) -> str:
    known = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "spec.nodeName": pod.node,
        "status.podIP": pod.ip,
    }
    return known.get(path, "")


def environment(each: Mapping[str, Any], available: Inventory, pod: PodIdentity) -> dict[str, str]:
    """The container's env as the kubelet builds it; a Secret value no stack provides (an unknown or empty
    key) gets a stand-in of the right nkey kind from `render.dummy_variables`."""
    env: dict[str, str] = {}
    wanting: set[str] = set()
    for source in each.get("envFrom") or []:
        ref = source.get("secretRef") or source.get("configMapRef") or {}
        objects = available.secrets if "secretRef" in source else available.config_maps
        env.update({f"{source.get('prefix', '')}{k}": v for k, v in objects.get(str(ref.get("name")), {}).items()})
    for variable in each.get("env") or []:
        name = variable["name"]
        source = variable.get("valueFrom")
        value: str | None
        if source is None:
            # $(VAR) names an earlier variable of the same container; unknown ones stay as written.
            value = _DEPENDENT.sub(lambda m: env.get(m[1], m[0]), str(variable.get("value", "")))
        elif "fieldRef" in source:
            value = _field(source["fieldRef"]["fieldPath"], pod)
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = available.secrets.get(ref["name"], {}).get(ref["key"]) or None
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            value = available.config_maps.get(ref["name"], {}).get(ref["key"]) or None
        else:
            value = ""
        if value is None:
            wanting.add(name)
        else:
            env[name] = value
    env.update(render.dummy_variables(wanting, {}))
    return env


def config_test(binary: str, conf: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`nats-server -t -c conf` with `env` as its entire environment (the pod's, nothing of ours)."""
    return subprocess.run(
        [binary, "-t", "-c", str(conf)], capture_output=True, text=True, env=dict(env), timeout=20, check=False
    )


@dataclass(frozen=True)
class Loaded:
    written: str
    """nats.conf exactly as the chart wrote it into its ConfigMap."""
    conf: Path
    """Where it was loaded from, its paths relocated under the root."""
    result: subprocess.CompletedProcess[str]

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


def load(pod: PodSpec, available: Inventory, binary: str, root: Path, identity: PodIdentity) -> Loaded:
    """What the `nats` container of `pod` would do at start, as `nats-server -t`: its mounts under `root`,
    the conf its `--config` names, its env."""
    each = container(pod, "nats")
    args = list(each.get("args") or [])
    conf_path = args[args.index("--config") + 1]
    mounts = materialise(pod, "nats", available, root)
    conf = root / conf_path.lstrip("/")
    written = conf.read_text()
    conf.write_text(relocate(written, mounts, root))
    return Loaded(written, conf, config_test(binary, conf, environment(each, available, identity)))


_INCLUDE_LINE = re.compile(r"(?m)^\s*include\s+([^;]+);\s*$")
_CONF_ENTRY = re.compile(r'^(\s*)([A-Za-z_][A-Za-z0-9_-]*|"(?:[^"\\]|\\.)*"): (.*)$')


def entries_json(text: str) -> str:
    """Entries as natsconf.render_entries writes them (`key: value`, one a line, no commas), as JSON members."""
    lines = [line for line in text.splitlines() if line.strip()]
    out = []
    for at, line in enumerate(lines):
        entry = _CONF_ENTRY.match(line)
        if entry:
            key = entry[2] if entry[2].startswith('"') else json.dumps(entry[2])
            line = f"{entry[1]}{key}: {entry[3]}"
        following = lines[at + 1].strip() if at + 1 < len(lines) else "}"
        if not line.endswith(("{", "[")) and not following.startswith(("}", "]")):
            line += ","
        out.append(line)
    return "\n".join(out)


def document(text: str, read: Callable[[str], str | None] | None = None) -> Any:
    """The chart's nats.conf as data: it is JSON but for bare `$VAR` values and `include` lines. `read`: the text
    of an included file, by its path as written; without it, include lines are dropped."""

    def included(line: re.Match[str]) -> str:
        if read is None:
            return ""
        content = read(line[1].strip())
        if content is None:
            raise FileNotFoundError(f"nats.conf includes {line[1]}, which the pod does not have")
        return entries_json(content) + ","

    # A dropped include (or the last included entry) leaves a dangling comma before the closing brace.
    joined = re.sub(r",(\s*[}\]])", r"\1", _INCLUDE_LINE.sub(included, text))
    return json.loads(_BARE_VARIABLE.sub(lambda m: f'{m[1]}"{m[2]}"{m[3]}', joined))


def pod_document(text: str, pod: PodSpec, available: Inventory) -> Any:
    """`document` of a nats.conf the chart wrote, with the files it includes as its `nats` container has them
    (their paths relative to the chart's config dir)."""

    def read(include: str) -> str | None:
        path = posixpath.normpath(posixpath.join(natsconf.CHART_CONFIG_DIR, include))
        return mounted_file(pod, "nats", available, path)

    return document(text, read)


def mounted_file(pod: PodSpec, name: str, available: Inventory, path: str) -> str | None:
    """The content container `name` of `pod` sees at the absolute `path`; None if no mount provides it."""
    volumes = {v["name"]: v for v in pod.spec.get("volumes") or []}
    for mount in container(pod, name).get("volumeMounts") or []:
        if not mount.get("subPath") and is_under(path, mount["mountPath"]):
            files = volume_files(volumes.get(mount["name"], {}), available)
            return files.get(posixpath.relpath(path, mount["mountPath"]))
    return None


def undefined_accounts(conf: Mapping[str, Any]) -> list[str]:
    """Account names the conf refers to but does not define. `nats-server -t` checks imports only; a leaf
    remote, the auth callout or the system account naming a missing account fails at server start."""
    accounts = conf.get("accounts") or {}
    refs: list[tuple[str, str]] = []
    if "system_account" in conf:
        refs.append(("system_account", conf["system_account"]))
    callout = (conf.get("authorization") or {}).get("auth_callout") or {}
    if "account" in callout:
        refs.append(("authorization.auth_callout.account", callout["account"]))
    for i, remote in enumerate((conf.get("leafnodes") or {}).get("remotes") or []):
        if "account" in remote:
            refs.append((f"leafnodes.remotes[{i}].account", remote["account"]))
    for owner, account in accounts.items():
        for item in (account or {}).get("imports") or []:
            for kind in ("stream", "service"):
                if kind in item:
                    refs.append((f"accounts.{owner}.imports {kind} {item[kind].get('subject')}", item[kind]["account"]))
        for item in (account or {}).get("exports") or []:
            refs += [
                (f"accounts.{owner}.exports {item.get('stream') or item.get('service')}", a)
                for a in item.get("accounts") or []
            ]
    return [
        f"{where} names account {name!r}, which nats.conf does not define"
        for where, name in refs
        if name not in accounts
    ]


_FILE_KEYS = frozenset({"cert_file", "key_file", "ca_file"})


def certificate_files(conf: Any) -> set[str]:
    """Every cert/key/CA file the conf names, at any depth (leaf remotes' `tls` included)."""
    if isinstance(conf, dict):
        found = {v for k, v in conf.items() if k in _FILE_KEYS and isinstance(v, str)}
        return found.union(*(certificate_files(v) for v in conf.values()))
    if isinstance(conf, list):
        return set().union(*(certificate_files(v) for v in conf))
    return set()


def _host_port(url: str) -> tuple[str, int | None]:
    split = urlsplit(url)
    return split.hostname or "", split.port


def leaf_tls_problems(confs: Mapping[str, Any], services: Mapping[str, str], namespace: str) -> list[str]:
    """A leaf remote dialling a TLS leaf listener of the same namespace has TLS settings of its own.

    `confs`: release -> its nats.conf as data; `services`: Service name -> the release whose pods it selects.
    A remote without `tls` fails the listener's TLS handshake (nats-server refuses it, measured on 2.12.6).
    """
    problems = []
    for release, conf in confs.items():
        for i, remote in enumerate((conf.get("leafnodes") or {}).get("remotes") or []):
            for url in remote.get("urls") or []:
                host, port = _host_port(url)
                service = host.removesuffix(f".{namespace}.svc.cluster.local").removesuffix(f".{namespace}.svc")
                target = confs.get(services.get(service.removesuffix(f".{namespace}"), ""))
                listener = (target or {}).get("leafnodes") or {}
                if listener.get("tls") and port == listener.get("port") and not remote.get("tls"):
                    problems.append(
                        f"{release}: leafnodes.remotes[{i}] dials {url}, a TLS leaf listener, without tls settings"
                    )
    return problems
