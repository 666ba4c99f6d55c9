"""A local federation's run state: its clusters, servers and keys as `local up` started them, and the files in the
run dir that record them (state.json, keys.json) for `local status`, `check`, `down` and the tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsxbus import nkeys
from dsxbus.config import CrossLayer
from dsxbus.local.plan import MQTT_ADMIN_USER, ClusterKeys
from dsxbus.local.servers import LocalError, Server
from dsxbus.nkeys import KeyKind, KeyPair

STATE = "state.json"
KEYS = "keys.json"


def default_run_dir(project_dir: Path) -> Path:
    """Under the project (git-ignored `.dsx-bus/`), so two checkouts never share a federation."""
    return project_dir.resolve() / ".dsx-bus" / "local"


@dataclass
class MtlsClient:
    """A client certificate `local up` issued for one mTLS identity, for clients of nats-mtls (the tests)."""

    identity: str
    account: str
    cert: str
    key: str


@dataclass
class LocalCluster:
    """One running cluster as `local status`, `local check` and the tests see it."""

    stack: str
    role: str
    id: str
    dir: Path
    main: Server
    mtls: Server | None = None
    lists: CrossLayer = field(default_factory=CrossLayer)
    """CPC: its effective cross-layer lists (a CSC has none of its own: empty)."""
    extra_accounts: list[str] = field(default_factory=list)
    noauth_account: str | None = None
    mtls_clients: dict[str, MtlsClient] = field(default_factory=dict)
    expected_leafs: dict[str, int] = field(default_factory=dict)
    """Server name -> leaf connections it has once the federation is up."""

    @property
    def servers(self) -> list[Server]:
        return [self.main] + ([self.mtls] if self.mtls else [])


@dataclass
class Federation:
    """A started local federation: its clusters by stack name, their keys, and the throw-away CA's certificate."""

    run_dir: Path
    project: Path
    clusters: dict[str, LocalCluster]
    keys: dict[str, ClusterKeys]
    ca: Path | None = None
    nats_version: str = ""
    """The nats-server version every server of this federation runs."""

    @property
    def csc(self) -> LocalCluster:
        return next(c for c in self.clusters.values() if c.role == "csc")

    @property
    def cpcs(self) -> list[LocalCluster]:
        return [c for c in self.clusters.values() if c.role == "cpc"]

    def cluster(self, cluster_id: str) -> LocalCluster:
        return next(c for c in self.clusters.values() if c.id == cluster_id)

    def servers(self) -> list[Server]:
        return [s for c in self.clusters.values() for s in c.servers]


# ---- the run dir -------------------------------------------------------------------------------------


def write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # seeds are inlined in configs and keys.json; only the owner may read them
    path.write_text(text)


def save(federation: Federation) -> None:
    state = {
        "project": str(federation.project),
        "ca": str(federation.ca) if federation.ca else None,
        "natsServerVersion": federation.nats_version,
        "clusters": {n: _cluster_json(c) for n, c in federation.clusters.items()},
    }
    write_private(federation.run_dir / STATE, json.dumps(state, indent=2) + "\n")
    keys = {n: _keys_json(k) for n, k in federation.keys.items()}
    write_private(federation.run_dir / KEYS, json.dumps(keys, indent=2) + "\n")


def load(run_dir: Path) -> Federation:
    """The federation `local up` recorded in `run_dir`."""
    try:
        state = json.loads((run_dir / STATE).read_text())
        keys = json.loads((run_dir / KEYS).read_text())
    except FileNotFoundError:
        raise LocalError(f"no local federation in {run_dir}: start one with `dsx-bus local up`") from None
    return Federation(
        run_dir,
        Path(state["project"]),
        {n: _cluster_from_json(n, c) for n, c in state["clusters"].items()},
        {n: _keys_from_json(k) for n, k in keys.items()},
        Path(state["ca"]) if state["ca"] else None,
        str(state.get("natsServerVersion", "")),
    )


def forget(run_dir: Path) -> None:
    """After `local down`: nothing is recorded as running; keys.json, configs and logs stay for a look."""
    (run_dir / STATE).unlink(missing_ok=True)


def is_run_dir(directory: Path) -> bool:
    """A directory an earlier `local up` made (keys.json outlives `local down`): one `local up` may clear."""
    return (directory / KEYS).exists() or (directory / STATE).exists()


# ---- JSON, one pair of functions per record --------------------------------------------------------------


def _server_json(server: Server) -> dict[str, Any]:
    return {
        "name": server.name,
        "conf": str(server.conf),
        "log": str(server.log),
        "pid": server.pid,
        "ports": server.ports,
    }


def _server_from_json(data: Mapping[str, Any]) -> Server:
    return Server(data["name"], Path(data["conf"]), Path(data["log"]), int(data["pid"]), dict(data["ports"]))


def _lists_json(lists: CrossLayer) -> dict[str, list[str]]:
    return {
        "cscExports": list(lists.csc_exports),
        "cscPrefixedExports": list(lists.csc_prefixed_exports),
        "cpcExports": list(lists.cpc_exports),
    }


def _cluster_json(cluster: LocalCluster) -> dict[str, Any]:
    return {
        "role": cluster.role,
        "id": cluster.id,
        "dir": str(cluster.dir),
        "main": _server_json(cluster.main),
        "mtls": _server_json(cluster.mtls) if cluster.mtls else None,
        "lists": _lists_json(cluster.lists) if cluster.role == "cpc" else {},  # a CSC's empty lists: `{}`
        "extraAccounts": cluster.extra_accounts,
        "noauthAccount": cluster.noauth_account,
        "mtlsClients": {n: vars(c) for n, c in cluster.mtls_clients.items()},
        "expectedLeafs": cluster.expected_leafs,
    }


def _cluster_from_json(stack: str, data: Mapping[str, Any]) -> LocalCluster:
    return LocalCluster(
        stack,
        data["role"],
        data["id"],
        Path(data["dir"]),
        _server_from_json(data["main"]),
        _server_from_json(data["mtls"]) if data["mtls"] else None,
        CrossLayer.model_validate(data["lists"]),  # the stack files' own keys: cscExports, ...
        data["extraAccounts"],
        data["noauthAccount"],
        {n: MtlsClient(**c) for n, c in data["mtlsClients"].items()},
        data["expectedLeafs"],
    )


def _keys_json(keys: ClusterKeys) -> dict[str, Any]:
    return {
        "leaf": {a: k.seed for a, k in keys.leaf.items()},
        "admin": {a: k.seed for a, k in keys.admin.items()},
        "mtlsLeaf": keys.mtls_leaf.seed,
        "mtlsSysLeaf": keys.mtls_sys_leaf.seed,
        "mqttUser": MQTT_ADMIN_USER,  # for a person reading keys.json; the loader needs only the password
        "mqttPassword": keys.mqtt_password,
        "noauthPassword": keys.noauth_password,
    }


def _keys_from_json(data: Mapping[str, Any]) -> ClusterKeys:
    def pair(seed: str) -> KeyPair:
        return KeyPair(KeyKind.USER, seed, nkeys.public_key_from_seed(seed))

    return ClusterKeys(
        leaf={a: pair(s) for a, s in data["leaf"].items()},
        admin={a: pair(s) for a, s in data["admin"].items()},
        mtls_leaf=pair(data["mtlsLeaf"]),
        mtls_sys_leaf=pair(data["mtlsSysLeaf"]),
        mqtt_password=data["mqttPassword"],
        noauth_password=data["noauthPassword"],
    )
