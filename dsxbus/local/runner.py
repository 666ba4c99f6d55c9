"""Start, describe and stop a local federation: one nats-server per cluster (and its nats-mtls) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dsxbus import certs, fleet, naming, permissions, streams, versions
from dsxbus.errors import ConfigError
from dsxbus.fleet import Resolved
from dsxbus.local import jetstream, plan, servers
from dsxbus.local.plan import ClusterKeys
from dsxbus.local.servers import LocalError, Server
from dsxbus.sveltos import manifests as sveltos_manifests

STATE = "state.json"
KEYS = "keys.json"
MAIN_PORTS = ("client", "http", "leaf", "mqtt")
MTLS_PORTS = ("client", "http", "leaf", "mqtt")

Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def default_run_dir(project_dir: Path) -> Path:
    """Under the project (git-ignored `.dsx-bus/`), so two checkouts never share a federation."""
    return project_dir.resolve() / ".dsx-bus" / "local"


@dataclass
class MtlsClient:
    identity: str
    account: str
    cert: str
    key: str


@dataclass
class Cluster:
    """One running cluster as `local status`, `local check` and the tests see it."""

    stack: str
    role: str
    id: str
    dir: Path
    main: Server
    mtls: Server | None = None
    lists: dict[str, list[str]] = field(default_factory=dict)
    """CPC: its effective cross-layer lists."""
    extra_accounts: list[str] = field(default_factory=list)
    noauth_account: str | None = None
    mtls_clients: dict[str, MtlsClient] = field(default_factory=dict)
    expected_leafs: dict[str, int] = field(default_factory=dict)
    """Server name -> leaf connections it has once the federation is up."""

    @property
    def servers(self) -> list[Server]:
        return [self.main] + ([self.mtls] if self.mtls else [])

    def urls(self) -> dict[str, str]:
        urls = {
            "role": self.role,
            "id": self.id,
            "nats": self.main.url("client"),
            "mqtt": self.main.url("mqtt"),
            "leaf": self.main.url("leaf"),
            "monitor": self.main.url("http"),
            "dir": str(self.dir),
        }
        if self.mtls is not None:
            urls["mqttMtls"] = f"ssl://127.0.0.1:{self.mtls.ports['mqtt']}"
        return urls

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "id": self.id,
            "dir": str(self.dir),
            "main": self.main.to_json(),
            "mtls": self.mtls.to_json() if self.mtls else None,
            "lists": self.lists,
            "extraAccounts": self.extra_accounts,
            "noauthAccount": self.noauth_account,
            "mtlsClients": {n: vars(c) for n, c in self.mtls_clients.items()},
            "expectedLeafs": self.expected_leafs,
        }

    @classmethod
    def from_json(cls, stack: str, data: Mapping[str, Any]) -> Cluster:
        return cls(
            stack,
            data["role"],
            data["id"],
            Path(data["dir"]),
            Server.from_json(data["main"]),
            Server.from_json(data["mtls"]) if data["mtls"] else None,
            data["lists"],
            data["extraAccounts"],
            data["noauthAccount"],
            {n: MtlsClient(**c) for n, c in data["mtlsClients"].items()},
            data["expectedLeafs"],
        )


@dataclass
class Federation:
    run_dir: Path
    project: Path
    clusters: dict[str, Cluster]
    keys: dict[str, ClusterKeys]
    ca: Path | None = None
    nats_version: str = ""
    """The nats-server version every server of this federation runs."""

    @property
    def csc(self) -> Cluster:
        return next(c for c in self.clusters.values() if c.role == "csc")

    @property
    def cpcs(self) -> list[Cluster]:
        return [c for c in self.clusters.values() if c.role == "cpc"]

    def cluster(self, cluster_id: str) -> Cluster:
        return next(c for c in self.clusters.values() if c.id == cluster_id)

    def servers(self) -> list[Server]:
        return [s for c in self.clusters.values() for s in c.servers]

    def save(self) -> None:
        state = {
            "project": str(self.project),
            "ca": str(self.ca) if self.ca else None,
            "natsServerVersion": self.nats_version,
            "clusters": {n: c.to_json() for n, c in self.clusters.items()},
        }
        _write_private(self.run_dir / STATE, json.dumps(state, indent=2) + "\n")
        keys = {n: k.to_json() for n, k in self.keys.items()}
        _write_private(self.run_dir / KEYS, json.dumps(keys, indent=2) + "\n")

    def describe(self) -> dict[str, Any]:
        """`local up --json`: every cluster's endpoints."""
        return {"natsServerVersion": self.nats_version, "clusters": {n: c.urls() for n, c in self.clusters.items()}}


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # seeds are inlined in configs and keys.json; only the owner may read them
    path.write_text(text)


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
        {n: Cluster.from_json(n, c) for n, c in state["clusters"].items()},
        {n: ClusterKeys.from_json(k) for n, k in keys.items()},
        Path(state["ca"]) if state["ca"] else None,
        str(state.get("natsServerVersion", "")),
    )


def running(run_dir: Path) -> list[Server]:
    """Servers recorded in `run_dir` that are still alive."""
    try:
        federation = load(run_dir)
    except LocalError:
        return []
    return [s for s in federation.servers() if servers.is_running(s)]


# ---- up --------------------------------------------------------------------------------------------


def _resolve(project_dir: Path, names: Sequence[str] | None, say: Say) -> dict[str, Resolved]:
    # Validated and resolved as a fleet (what stack references would see), even when only some start:
    # a CSC that lists cpc-b is fine with `--stacks csc,cpc-a`.
    chosen = list(names) if names else None
    stacks = fleet.load(project_dir, chosen)
    if chosen:
        stacks = {**fleet.load(project_dir), **stacks}
    found = fleet.problems(stacks)
    problems = [p for p in found if not p.warning]
    if problems:
        raise ConfigError(problems, "the stack files")
    for warning in found:
        say(f"  warning: {warning}")
    starting = chosen or list(stacks)
    csc = [n for n in starting if stacks[n].bus.cluster_type == "csc"]
    if len(csc) != 1:
        raise LocalError(
            f"a local federation needs exactly one CSC stack among {', '.join(starting)}; found {len(csc)}"
            " (pass --stacks with the CSC and the CPCs)"
        )
    # Every server here is the one local binary: it decides the leaf permissions' shape, not the images.
    running = servers.nats_server_version()
    resolved = {name: _on_local_server(fleet.resolve(stacks, name), running) for name in starting}
    # CSC first, then CPCs in the order given: FINDINGS item 5, a CPC that dials a CSC not yet
    # listening waits 1-2 s for its leaf to retry.
    return dict(sorted(resolved.items(), key=lambda item: item[1].bus.cluster_type != "csc"))


def _on_local_server(item: Resolved, version: str) -> Resolved:
    return replace(item, cpc_versions=dict.fromkeys(item.cpc_lists, version))


def _identity_cn(identity: str) -> str:
    for part in identity.split(","):
        key, _, value = part.strip().partition("=")
        if key.upper() == "CN":
            return value
    return identity


class _Launcher:
    """Keeps every started server so a failure anywhere stops all of them (no orphans)."""

    def __init__(self, run_dir: Path, say: Say) -> None:
        self.run_dir = run_dir
        self.say = say
        self.started: list[Server] = []

    def launch(self, name: str, directory: Path, stem: str, text: str) -> Server:
        conf = directory / f"{stem}.conf"
        _write_private(conf, text)
        self.say(f"* starting {name} ({conf})")
        server = servers.start(name, conf, directory / f"{stem}.log")
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        for server in reversed(self.started):
            servers.stop(server)


def up(
    project_dir: Path,
    stacks: Sequence[str] | None = None,
    run_dir: Path | None = None,
    *,
    say: Say = _stderr,
    leaf_timeout: float = 15.0,
) -> Federation:
    """Start every cluster, wait for every leaf, create the MQTT streams; leave the servers running."""
    project_dir = project_dir.resolve()
    run_dir = (run_dir or default_run_dir(project_dir)).resolve()
    resolved = _resolve(project_dir, stacks, say)
    alive = running(run_dir)
    if alive:
        names = ", ".join(f"{s.name} (PID {s.pid})" for s in alive)
        raise LocalError(f"a local federation is already running in {run_dir}: {names}; `dsx-bus local down` first")
    if run_dir.exists():
        # Only ever delete a directory a previous `local up` made: `--run-dir ~` must not wipe a home.
        if any(run_dir.iterdir()) and not ((run_dir / KEYS).exists() or (run_dir / STATE).exists()):
            raise LocalError(f"{run_dir} is not empty and holds no local federation: choose another --run-dir")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, mode=0o700)
    run_dir.chmod(0o700)

    for name, item in resolved.items():
        for note in plan.unsupported_locally(item.bus):
            say(f"  note: {name}: {note}")
    keys = {name: plan.generate_keys(item.bus) for name, item in resolved.items()}
    cpc_keys = {
        item.bus.cluster_id or "": keys[name] for name, item in resolved.items() if item.bus.cluster_type == "cpc"
    }
    ca_path, ca = None, None
    if any(item.bus.mtls.enabled for item in resolved.values()):
        ca = certs.LocalCa("dsx-bus local CA (throw-away)")
        ca_path = run_dir / "ca.crt"
        ca_path.write_bytes(ca.pem.certificate)

    version = servers.nats_server_version()
    say(f"* nats-server {version} ({servers.nats_server_binary()})")
    if not versions.is_supported(version):
        say(f"  warning: nats-server {version} is not a version dsx-bus is tested on ({', '.join(versions.SUPPORTED)})")
    launcher = _Launcher(run_dir, say)
    started = time.monotonic()
    try:
        federation = _start(run_dir, project_dir, resolved, keys, cpc_keys, ca, ca_path, launcher, leaf_timeout)
    except BaseException:
        launcher.stop_all()
        raise
    say(f"* federation up in {time.monotonic() - started:.2f} s ({len(launcher.started)} servers)")
    return federation


def _start(
    run_dir: Path,
    project_dir: Path,
    resolved: dict[str, Resolved],
    keys: dict[str, ClusterKeys],
    cpc_keys: dict[str, ClusterKeys],
    ca: certs.LocalCa | None,
    ca_path: Path | None,
    launcher: _Launcher,
    leaf_timeout: float,
) -> Federation:
    clusters: dict[str, Cluster] = {}
    csc_leaf_url: str | None = None
    for wave in ("csc", "cpc"):
        batch = [(n, r) for n, r in resolved.items() if r.bus.cluster_type == wave]
        launched = []
        for name, item in batch:
            directory = run_dir / name
            directory.mkdir(mode=0o700)
            text = _main_conf(item, keys[name], cpc_keys, csc_leaf_url, directory, None)
            launched.append((name, item, launcher.launch(item.bus.cluster_name, directory, "nats", text)))
        for name, item, server in launched:
            servers.wait_ready(server, MAIN_PORTS)
            # Written again with the ports it chose, so a restart comes back on the same ones.
            (server.conf).write_text(
                _main_conf(item, keys[name], cpc_keys, csc_leaf_url, server.conf.parent, server.ports)
            )
            cluster = _describe(name, item, server)
            if wave == "csc":
                csc_leaf_url = server.url("leaf")
                # Before any MQTT client (nats-mtls included): streams MQTT creates itself lack the sources.
                _create_streams(cluster, item, keys[name], launcher.say)
            if item.bus.mtls.enabled and ca is not None:
                cluster.mtls, cluster.mtls_clients = _start_mtls(item, keys[name], server, ca, launcher)
            clusters[name] = cluster
    federation = Federation(run_dir, project_dir, clusters, keys, ca_path, servers.nats_server_version())
    _expect_leafs(federation)
    federation.save()  # before waiting, so `local down` can stop a federation whose leafs never came up
    wait_for_leafs(federation, leaf_timeout, launcher.say)
    for name, item in resolved.items():
        if item.bus.cluster_type == "cpc":
            _create_streams(clusters[name], item, keys[name], launcher.say)
    return federation


def _main_conf(
    item: Resolved,
    keys: ClusterKeys,
    cpc_keys: Mapping[str, ClusterKeys],
    csc_leaf_url: str | None,
    directory: Path,
    ports: Mapping[str, int] | None,
) -> str:
    return plan.main_conf(
        item, keys, cpc_keys, csc_leaf_url=csc_leaf_url, store_dir=str(directory / "jetstream"), ports=ports
    )


def _describe(name: str, item: Resolved, server: Server) -> Cluster:
    bus = item.bus
    noauth = bus.auth.permissions.noauth
    return Cluster(
        stack=name,
        role=bus.cluster_type,
        id=bus.cluster_id or "csc",
        dir=server.conf.parent,
        main=server,
        lists=plan.lists_json(bus.effective_cross_layer) if bus.cluster_type == "cpc" else {},
        extra_accounts=list(bus.enabled_extra_accounts),
        noauth_account=noauth.account if noauth else None,
    )


def _start_mtls(
    item: Resolved, keys: ClusterKeys, main: Server, ca: certs.LocalCa, launcher: _Launcher
) -> tuple[Server, dict[str, MtlsClient]]:
    bus = plan.local_bus(item.bus)
    directory = main.conf.parent
    cert_dir = directory / "certs"
    # The SANs a local client can check: the configured hostnames and the loopback it really dials.
    sans = (*bus.mtls.hostnames, "127.0.0.1", "localhost")
    certs.write_tls_dir(cert_dir / "nats-mtls", ca, ca.server(sans[0], sans))
    clients = {}
    for entry_name, entry in permissions.mtls_entries(bus).items():
        pem = ca.client(_identity_cn(entry.identity))
        cert, key = cert_dir / "clients" / f"{entry_name}.crt", cert_dir / "clients" / f"{entry_name}.key"
        cert.parent.mkdir(parents=True, exist_ok=True)
        cert.write_bytes(pem.certificate)
        _write_private(key, pem.key.decode())
        clients[entry_name] = MtlsClient(entry.identity, entry.account, str(cert), str(key))

    def conf(ports: Mapping[str, int] | None) -> str:
        return plan.mtls_conf(
            bus, keys, main_leaf_url=main.url("leaf"), cert_dir=str(cert_dir / "nats-mtls"), ports=ports
        )

    server = launcher.launch(f"{bus.cluster_name}-mtls", directory, "nats-mtls", conf(None))
    servers.wait_ready(server, MTLS_PORTS)
    server.conf.write_text(conf(server.ports))
    return server, clients


def _create_streams(cluster: Cluster, item: Resolved, keys: ClusterKeys, say: Say) -> None:
    bus = item.bus
    mqtt = streams.mqtt_streams(bus, item.cpc_lists)
    configs = [streams.jetstream_config(s, bus.mqtt_streams, replicas=1) for s in mqtt if s.account is None]
    say(f"* {cluster.stack}: creating {len(configs)} MQTT streams in account {bus.domain_account}")
    per_cpc = [streams.jetstream_config(s, bus.mqtt_streams, replicas=1) for s in mqtt if s.account == naming.SOURCES]
    consumers = []
    if bus.sveltos.enabled and bus.sveltos.jetstream is not None:
        sveltos_streams = [{**c, "num_replicas": 1} for c in sveltos_manifests.jetstream_streams(bus.sveltos)]
        say(f"* {cluster.stack}: creating {len(sveltos_streams)} Sveltos stream(s) and their consumers")
        configs += sveltos_streams
        consumers = sveltos_manifests.jetstream_consumers(bus.sveltos)
    jetstream.create_streams(
        cluster.main.url("client"), keys.admin[bus.domain_account].seed, configs, cluster.stack, consumers
    )
    if per_cpc:
        say(f"* {cluster.stack}: creating {len(per_cpc)} per-CPC source streams in account {naming.SOURCES}")
        jetstream.create_streams(cluster.main.url("client"), keys.admin[naming.SOURCES].seed, per_cpc, cluster.stack)


def _expect_leafs(federation: Federation) -> None:
    csc = federation.csc
    csc_extras = set(csc.extra_accounts)
    mtls_leafs = 2  # the clients' account and SYS; no AUTHX leaf without an auth-callout
    csc_count = mtls_leafs if csc.mtls else 0
    for cpc in federation.cpcs:
        # One leaf per account the CPC federates: its CSC window and every extra account the CSC also has.
        remotes = 1 + len([a for a in cpc.extra_accounts if a in csc_extras])
        csc_count += remotes
        cpc.expected_leafs = {cpc.main.name: remotes + (mtls_leafs if cpc.mtls else 0)}
        if cpc.mtls:
            cpc.expected_leafs[cpc.mtls.name] = mtls_leafs
    csc.expected_leafs = {csc.main.name: csc_count}
    if csc.mtls:
        csc.expected_leafs[csc.mtls.name] = mtls_leafs


def wait_for_leafs(federation: Federation, timeout: float, say: Say = _stderr) -> None:
    """Until every server shows the leaf connections it should have (its `/leafz`)."""
    say("* waiting for leaf connections")
    deadline = time.monotonic() + timeout
    # CPCs first: when a leaf is refused, the CPC whose leaf it is gets named, not the CSC's total.
    for cluster in sorted(federation.clusters.values(), key=lambda c: c.role == "csc"):
        for server in cluster.servers:
            want = cluster.expected_leafs.get(server.name, 0)

            def probe(server: Server = server, want: int = want) -> int | None:
                if not servers.is_running(server):
                    raise LocalError(f"{server.name}: nats-server exited: {servers._problem_line(server)}")
                count = servers.leaf_count(server)
                return count if count is not None and count >= want else None

            try:
                servers.wait_for(probe, max(deadline - time.monotonic(), 0.0), f"{server.name}'s leafs")
            except servers.WaitTimeoutError:
                have = servers.leaf_count(server)
                raise LocalError(
                    f"{server.name}: {have} of {want} leaf connections after {timeout:g} s "
                    f"(leaf port {server.ports.get('leaf')}); last problem in its log: {servers._problem_line(server)}"
                ) from None


# ---- after up ----------------------------------------------------------------------------------------


def down(run_dir: Path, say: Say = _stderr) -> list[Server]:
    """Stop the servers `local up` recorded (terminate, kill after 5 s); nothing else."""
    federation = load(run_dir)
    stopped = []
    for server in reversed(federation.servers()):
        if servers.is_running(server):
            say(f"* stopping {server.name} (PID {server.pid})")
            servers.stop(server)
            stopped.append(server)
    (run_dir / STATE).unlink(missing_ok=True)
    return stopped


def status(run_dir: Path) -> list[dict[str, Any]]:
    """One row per server: running or not, and its leaf connections against what it should have."""
    federation = load(run_dir)
    rows = []
    for cluster in federation.clusters.values():
        for server in cluster.servers:
            alive = servers.is_running(server)
            rows.append(
                {
                    "stack": cluster.stack,
                    "server": server.name,
                    "pid": server.pid,
                    "running": alive,
                    "leafs": servers.leaf_count(server) if alive else None,
                    "expectedLeafs": cluster.expected_leafs.get(server.name, 0),
                }
            )
    return rows


def restart(federation: Federation, stack: str, *, sig: signal.Signals = signal.SIGKILL, timeout: float = 15.0) -> None:
    """Stop one cluster's main server (killed by default: a crash) and start it again on the same ports."""
    cluster = federation.clusters[stack]
    old = cluster.main
    servers.stop(old, grace=0, sig=sig)
    new = servers.start(old.name, old.conf, old.log)
    servers.wait_ready(new, MAIN_PORTS)
    cluster.main = new
    federation.save()
    stacks = fleet.load(federation.project, list(federation.clusters))
    item = fleet.resolve(stacks, stack)
    # Memory streams died with the process: recreate them before MQTT clients come back.
    _create_streams(cluster, item, federation.keys[stack], lambda _: None)
    wait_for_leafs(federation, timeout, lambda _: None)


@contextlib.contextmanager
def running_federation(
    project_dir: Path, run_dir: Path, stacks: Sequence[str] | None = None, say: Say = _stderr
) -> Iterator[Federation]:
    """For tests and benchmarks: a federation that is stopped however the block ends."""
    federation = up(project_dir, stacks, run_dir, say=say)
    try:
        yield federation
    finally:
        for server in reversed(federation.servers()):
            servers.stop(server)
