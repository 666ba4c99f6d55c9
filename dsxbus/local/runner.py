"""Start, describe and stop a local federation: one nats-server per cluster (and its nats-mtls) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dsxbus import certs, fleet, naming, nkeys, permissions, streams, versions
from dsxbus.config import CrossLayer
from dsxbus.errors import ConfigError
from dsxbus.fleet import Resolved
from dsxbus.local import jetstream, plan, servers, state
from dsxbus.local.plan import ClusterKeys
from dsxbus.local.servers import LocalError, Server
from dsxbus.local.state import Federation, LocalCluster, MtlsClient
from dsxbus.nkeys import KeyPair
from dsxbus.sveltos import manifests as sveltos_manifests

MAIN_PORTS = ("client", "http", "leaf", "mqtt")
MTLS_PORTS = ("client", "http", "leaf", "mqtt")

Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _refuse_if_running(run_dir: Path, say: Say) -> None:
    """`up` never starts a second federation on top of live servers of this run dir, recorded or not."""
    try:
        federation: Federation | None = state.load(run_dir)
    except state.CorruptStateError as exc:
        if servers.ours(run_dir):
            raise
        say(f"  warning: {exc.problem}; no server of it runs: starting afresh")
        federation = None
    except LocalError:  # nothing recorded
        federation = None
    alive = [s for s in federation.servers() if servers.is_running(s)] if federation else []
    if alive:
        names = ", ".join(f"{s.name} (PID {s.pid})" for s in alive)
        raise LocalError(f"a local federation is already running in {run_dir}: {names}; `dsx-bus local down` first")
    strays = servers.ours(run_dir)
    if strays:
        pids = ", ".join(f"{pid} ({conf})" for pid, conf in sorted(strays.items()))
        raise LocalError(
            f"nats-server PID(s) {pids} still run from configs in {run_dir}, though {state.STATE} does not record "
            f"them: stop them with `{state.FORCE_DOWN}`"
        )


def _clear(run_dir: Path) -> None:
    """Empty a run dir an earlier `local up` made, all but the lock this `up` holds."""
    for entry in run_dir.iterdir():
        if entry.name == state.LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    run_dir.chmod(0o700)


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
    # CSC first, then CPCs in the order given: docs/measured-facts.md §4, a CPC that dials a CSC not yet
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

    def __init__(self, say: Say) -> None:
        self.say = say
        self.started: list[Server] = []

    def launch(self, name: str, directory: Path, stem: str, text: str) -> Server:
        conf = directory / f"{stem}.conf"
        state.write_private(conf, text)
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
    run_dir = (run_dir or state.default_run_dir(project_dir)).resolve()
    resolved = _resolve(project_dir, stacks, say)
    # Only ever delete a directory a previous `local up` made: `--run-dir ~` must not wipe a home.
    if run_dir.exists() and any(run_dir.iterdir()) and not state.is_run_dir(run_dir):
        raise LocalError(f"{run_dir} is not empty and holds no local federation: choose another --run-dir")
    with state.locked(run_dir, "up", create=True):
        _refuse_if_running(run_dir, say)
        _clear(run_dir)
        return _up(project_dir, run_dir, resolved, say, leaf_timeout)


def _up(project_dir: Path, run_dir: Path, resolved: dict[str, Resolved], say: Say, leaf_timeout: float) -> Federation:
    for name, item in resolved.items():
        for note in plan.unsupported_locally(item.bus):
            say(f"  note: {name}: {note}")
    keys = {name: plan.generate_keys(item.bus) for name, item in resolved.items()}
    ca_path, ca = None, None
    if any(item.bus.mtls.enabled for item in resolved.values()):
        ca = certs.LocalCa("dsx-bus local CA (throw-away)")
        ca_path = run_dir / "ca.crt"
        state.write_atomic(ca_path, ca.pem.certificate, 0o644)
    setup = _Setup(run_dir, project_dir, resolved, keys, ca, ca_path)

    version = servers.nats_server_version()
    say(f"* nats-server {version} ({servers.nats_server_binary()})")
    if not versions.is_supported(version):
        say(f"  warning: nats-server {version} is not a version dsx-bus is tested on ({', '.join(versions.SUPPORTED)})")
    launcher = _Launcher(say)
    started = time.monotonic()
    try:
        federation = _start(setup, launcher, leaf_timeout)
    except BaseException:
        launcher.stop_all()
        raise
    say(f"* federation up in {time.monotonic() - started:.2f} s ({len(launcher.started)} servers)")
    return federation


@dataclass(frozen=True)
class _Setup:
    """What `up` decided before the first server starts: where, which clusters (CSC first), their keys, the CA."""

    run_dir: Path
    project_dir: Path
    resolved: dict[str, Resolved]
    keys: dict[str, ClusterKeys]
    ca: certs.LocalCa | None
    ca_path: Path | None

    @property
    def cpc_keys(self) -> dict[str, ClusterKeys]:
        """CPC id -> its keys: the CSC admits each CPC's leafs by them."""
        return {
            item.bus.cluster_id or "": self.keys[name]
            for name, item in self.resolved.items()
            if item.bus.cluster_type == "cpc"
        }

    def main_conf(
        self,
        name: str,
        csc_leaf_url: str | None,
        ports: Mapping[str, int] | None,
        next_leaf: Mapping[str, Mapping[str, KeyPair]] | None = None,
    ) -> str:
        return plan.main_conf(
            self.resolved[name],
            self.keys[name],
            self.cpc_keys,
            csc_leaf_url=csc_leaf_url,
            store_dir=str(self.run_dir / name / "jetstream"),
            ports=ports,
            next_leaf=next_leaf,
        )


def _start(setup: _Setup, launcher: _Launcher, leaf_timeout: float) -> Federation:
    clusters: dict[str, LocalCluster] = {}
    csc_leaf_url: str | None = None
    for wave in ("csc", "cpc"):
        batch = [(n, r) for n, r in setup.resolved.items() if r.bus.cluster_type == wave]
        launched = []
        for name, item in batch:
            directory = setup.run_dir / name
            directory.mkdir(mode=0o700)
            text = setup.main_conf(name, csc_leaf_url, None)
            launched.append((name, item, launcher.launch(item.bus.cluster_name, directory, "nats", text)))
        for name, item, server in launched:
            servers.wait_ready(server, MAIN_PORTS)
            # Written again with the ports it chose, so a restart comes back on the same ones.
            state.write_private(server.conf, setup.main_conf(name, csc_leaf_url, server.ports))
            cluster = _describe(name, item, server)
            if wave == "csc":
                csc_leaf_url = server.url("leaf")
                # Before any MQTT client (nats-mtls included): streams MQTT creates itself lack the sources.
                _create_streams(cluster, item, setup.keys[name], launcher.say, without_uplinks=True)
            if item.bus.mtls.enabled and setup.ca is not None:
                cluster.mtls, cluster.mtls_clients = _start_mtls(item, setup.keys[name], server, setup.ca, launcher)
            clusters[name] = cluster
    federation = Federation(
        setup.run_dir, setup.project_dir, clusters, setup.keys, setup.ca_path, servers.nats_server_version()
    )
    _expect_leafs(federation)
    state.save(federation)  # before waiting, so `local down` can stop a federation whose leafs never came up
    wait_for_leafs(federation, leaf_timeout, launcher.say)
    for name, item in setup.resolved.items():
        if item.bus.cluster_type == "cpc":
            _create_streams(clusters[name], item, setup.keys[name], launcher.say)
    for name, item in setup.resolved.items():
        if item.bus.cluster_type == "csc":
            _create_uplinks(clusters[name], item, setup.keys[name], launcher.say)
    return federation


def _describe(name: str, item: Resolved, server: Server) -> LocalCluster:
    bus = item.bus
    noauth = bus.auth.permissions.noauth
    return LocalCluster(
        stack=name,
        role=bus.cluster_type,
        id=bus.cluster_id or "csc",
        dir=server.conf.parent,
        main=server,
        lists=bus.effective_cross_layer if bus.cluster_type == "cpc" else CrossLayer(),
        extra_accounts=list(bus.enabled_extra_accounts),
        noauth_account=noauth.account if noauth else None,
        uplinks=bus.cluster_type == "csc" and bus.mqtt_streams.uplinks_enabled,
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
        state.write_atomic(cert, pem.certificate, 0o644)
        state.write_private(key, pem.key.decode())
        clients[entry_name] = MtlsClient(entry.identity, entry.account, str(cert), str(key))

    def conf(ports: Mapping[str, int] | None) -> str:
        return plan.mtls_conf(
            bus, keys, main_leaf_url=main.url("leaf"), cert_dir=str(cert_dir / "nats-mtls"), ports=ports
        )

    server = launcher.launch(f"{bus.cluster_name}-mtls", directory, "nats-mtls", conf(None))
    servers.wait_ready(server, MTLS_PORTS)
    state.write_private(server.conf, conf(server.ports))
    return server, clients


def _sources_uplinks(stream: streams.MqttStream) -> bool:
    """The CSC's `$MQTT_msgs` and `$MQTT_rmsgs`: their only sources within the server are the uplink streams."""
    return any(source.of_uplink for source in stream.sources)


def _create_streams(
    cluster: LocalCluster, item: Resolved, keys: ClusterKeys, say: Say, *, without_uplinks: bool = False
) -> None:
    bus = item.bus
    # Uplink streams before the CSC's MQTT streams that source them: a source of a missing stream backs off 10 s.
    mqtt = sorted(streams.mqtt_streams(bus, item.cpc_lists), key=lambda s: not s.uplink)
    if without_uplinks:
        mqtt = [replace(s, sources=()) if _sources_uplinks(s) else s for s in mqtt if not s.uplink]
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


def _create_uplinks(cluster: LocalCluster, item: Resolved, keys: ClusterKeys, say: Say) -> None:
    """The CSC's uplink streams once every CPC's streams exist, then its MQTT streams gain their sources.

    A stream source whose origin does not exist yet retries only after a 10-40 s backoff (nats-server), and a
    CPC's streams exist only once its leaf is up: so the CSC sources them last, as a later `pulumi up -s csc`
    does on Kubernetes.
    """
    bus = item.bus
    mqtt = streams.mqtt_streams(bus, item.cpc_lists)
    sourcing = [streams.jetstream_config(s, bus.mqtt_streams, replicas=1) for s in mqtt if _sources_uplinks(s)]
    if not sourcing:
        return
    uplinks = [s for s in mqtt if s.uplink]
    say(f"* {cluster.stack}: creating {len(uplinks)} uplink streams in the CPCs' accounts, then sourcing them")
    url = cluster.main.url("client")
    # As NACK does: signed in to SOURCES, each through its CPC account's JetStream API (MqttStream.api_domain).
    for stream in uplinks:
        config = streams.jetstream_config(stream, bus.mqtt_streams, replicas=1)
        api = f"$JS.{stream.api_domain}.API"
        jetstream.create_streams(url, keys.admin[naming.SOURCES].seed, [config], cluster.stack, api=api)
    jetstream.update_streams(url, keys.admin[bus.domain_account].seed, sourcing, cluster.stack)


def _leaf_remotes(cpc: LocalCluster, csc_extras: set[str]) -> int:
    """One leaf per account the CPC federates: its CSC window and every extra account the CSC also has."""
    return 1 + len([a for a in cpc.extra_accounts if a in csc_extras])


def _expect_leafs(federation: Federation) -> None:
    csc = federation.csc
    csc_extras = set(csc.extra_accounts)
    mtls_leafs = 2  # the clients' account and SYS; no AUTHX leaf without an auth-callout
    csc_count = mtls_leafs if csc.mtls else 0
    for cpc in federation.cpcs:
        remotes = _leaf_remotes(cpc, csc_extras)
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
                    raise LocalError(f"{server.name}: nats-server exited: {servers.problem_line(server)}")
                count = servers.leaf_count(server)
                return count if count is not None and count >= want else None

            try:
                servers.wait_for(probe, max(deadline - time.monotonic(), 0.0), f"{server.name}'s leafs")
            except servers.WaitTimeoutError:
                have = servers.leaf_count(server)
                raise LocalError(
                    f"{server.name}: {have} of {want} leaf connections after {timeout:g} s "
                    f"(leaf port {server.ports.get('leaf')}); last problem in its log: {servers.problem_line(server)}"
                ) from None


# ---- after up ----------------------------------------------------------------------------------------


def down(run_dir: Path, say: Say = _stderr, *, force: bool = False) -> list[Server]:
    """Stop the servers `local up` recorded (terminate, kill after 5 s), then any other nats-server running from a
    config in this run dir; nothing else. `force`: without trusting state.json (damaged, or from another version)."""
    command = "down --force" if force else "down"
    with state.locked(run_dir, command):
        try:
            federation: Federation | None = state.load(run_dir)
        except state.CorruptStateError:
            if not force:
                raise
            federation = None
        except LocalError:  # nothing recorded: still stop what is provably ours (state.json deleted by hand)
            if not (force or servers.ours(run_dir)):
                raise
            federation = None
        stopped = []
        for server in reversed(federation.servers() if federation else []):
            if servers.is_running(server):
                say(f"* stopping {server.name} (PID {server.pid})")
                servers.stop(server)
                stopped.append(server)
        for pid, conf in servers.stop_ours(run_dir).items():
            say(f"* stopped nats-server PID {pid} ({conf})")
            stopped.append(Server(f"{conf.parent.name}/{conf.stem}", conf, conf.with_suffix(".log"), pid, {}))
        state.forget(run_dir)
        return stopped


def status(run_dir: Path) -> list[dict[str, Any]]:
    """One row per server: running or not, and its leaf connections against what it should have."""
    federation = state.load(run_dir)
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


def restart(
    federation: Federation,
    stack: str,
    *,
    sig: signal.Signals = signal.SIGKILL,
    timeout: float = 15.0,
    grace: float = 0.0,
) -> None:
    """Stop one cluster's main server (killed by default: a crash; `sig` then SIGKILL after `grace` s) and start it
    again on the same ports with the same config and keys."""
    with state.locked(federation.run_dir, f"restart {stack}"):
        cluster = federation.clusters[stack]
        servers.stop(cluster.main, grace=grace, sig=sig)
        _revive(federation, stack, timeout, lambda _: None)


def restart_stopped(run_dir: Path, stack: str, *, say: Say = _stderr, timeout: float = 15.0) -> list[Server]:
    """`local restart STACK`: start again whichever of the stack's servers (main, nats-mtls) are not running, from
    the recorded configs, so each comes back on its own ports with its own keys. Refused if none is stopped: a
    running server is the user's to stop (its PID is in the message), never ours to kill unasked."""
    with state.locked(run_dir, f"restart {stack}"):
        federation = state.load(run_dir)
        if stack not in federation.clusters:
            raise LocalError(
                f"restart: stack {stack!r} is not in the federation in {run_dir}: "
                f"choose one of {', '.join(federation.clusters)}"
            )
        cluster = federation.clusters[stack]
        stopped = [s for s in cluster.servers if not servers.is_running(s)]
        if not stopped:
            names = ", ".join(f"{s.name} (PID {s.pid})" for s in cluster.servers)
            raise LocalError(
                f"restart {stack}: every server of it is running ({names}): nothing to restart; "
                "to restart one anyway, stop it first (`kill <PID>`)"
            )
        _revive(federation, stack, timeout, say)
        return [s for s in cluster.servers if s.name in {old.name for old in stopped}]


def _revive(federation: Federation, stack: str, timeout: float, say: Say) -> None:
    """Start the stack's servers that are not running, on the configs (and so the ports) they ran with."""
    cluster = federation.clusters[stack]
    if not servers.is_running(cluster.main):
        say(f"* starting {cluster.main.name} ({cluster.main.conf})")
        cluster.main = _start_again(cluster.main, MAIN_PORTS)
        state.save(federation)
        stacks = fleet.load(federation.project)  # the whole fleet, as `up` resolved it (a CPC not started included)
        item = fleet.resolve(stacks, stack)
        # Memory streams died with the process: recreate them before MQTT clients (nats-mtls included) come back.
        _create_streams(cluster, item, federation.keys[stack], say)
        if item.bus.cluster_type == "csc":
            _create_uplinks(cluster, item, federation.keys[stack], say)
    if cluster.mtls is not None and not servers.is_running(cluster.mtls):
        say(f"* starting {cluster.mtls.name} ({cluster.mtls.conf})")
        cluster.mtls = _start_again(cluster.mtls, MTLS_PORTS)
        state.save(federation)
    wait_for_leafs(federation, timeout, say)


def _start_again(old: Server, ports: tuple[str, ...]) -> Server:
    new = servers.wait_ready(servers.start(old.name, old.conf, old.log), ports)
    moved = {k: (old.ports.get(k), v) for k, v in new.ports.items() if old.ports.get(k) != v}
    if moved:  # the config pins every port, so this would be a dsx-bus bug, not a user's mistake
        servers.stop(new)
        raise RuntimeError(f"{old.name} came back on other ports (recorded, now): {moved}")
    return new


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


# ---- rotate ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeafRotation:
    """What `local rotate STACK --leaf` did: the CPC's leaf public keys before and after, per account."""

    stack: str
    retired: dict[str, str]
    current: dict[str, str]
    switched_by: str
    """`reload` where the version reloads leaf remotes (versions.leaf_remotes_reload), else `restart`."""


def _setup_of(federation: Federation) -> _Setup:
    """The `_Setup` that renders this federation's configs, refused if rendering no longer gives the configs its
    servers run (stack files edited since `local up`): a rotation must change the keys and nothing else."""
    resolved = _resolve(federation.project, list(federation.clusters), lambda _: None)
    setup = _Setup(federation.run_dir, federation.project, resolved, federation.keys, None, None)
    csc_leaf_url = federation.csc.main.url("leaf")
    for name, cluster in federation.clusters.items():
        url = None if cluster.role == "csc" else csc_leaf_url
        if setup.main_conf(name, url, cluster.main.ports) != cluster.main.conf.read_text():
            raise LocalError(
                f"{cluster.main.conf} is not what the stack files render now (Pulumi.{name}.yaml or another stack "
                "file changed since `dsx-bus local up`): a rotation changes keys only, so restart the federation "
                "on the new stack files first (`dsx-bus local down`, `dsx-bus local up`)"
            )
    return setup


def _rotatable(federation: Federation, stack: str) -> LocalCluster:
    if stack not in federation.clusters:
        raise LocalError(
            f"rotate: stack {stack!r} is not in the federation in {federation.run_dir}: "
            f"choose one of {', '.join(c.stack for c in federation.cpcs) or '(no CPC runs)'}"
        )
    cluster = federation.clusters[stack]
    if cluster.role != "cpc":
        raise LocalError(
            f"rotate {stack} --leaf: {stack} is the CSC, which holds no leaf key (each CPC rotates its own): "
            f"choose a CPC: {', '.join(c.stack for c in federation.cpcs) or '(no CPC runs)'}"
        )
    for owner in (federation.csc, cluster):
        if not servers.is_running(owner.main):
            raise LocalError(
                f"rotate {stack} --leaf: {owner.main.name} (PID {owner.main.pid}) is not running: start it again "
                f"with `dsx-bus local restart {owner.stack}`, then rotate"
            )
    return cluster


def rotate_leaf(
    run_dir: Path, stack: str, *, say: Say = _stderr, timeout: float = 15.0, admit_first: bool = True
) -> LeafRotation:
    """`local rotate STACK --leaf`: the leaf-key window of docs/operations.md on the running federation. The CSC
    admits the CPC's next keys beside its current ones (config rewrite + reload: the local permissions.json);
    the CPC switches to them (reload, or a restart on its own ports where the version cannot reload leaf
    remotes) and keys.json records them; once its leafs are back, the CSC stops admitting the old keys (reload).
    `admit_first=False` skips the admission: only to show what the window prevents (a test's control)."""
    with state.locked(run_dir, f"rotate {stack} --leaf"):
        federation = state.load(run_dir)
        cpc = _rotatable(federation, stack)
        csc = federation.csc
        setup = _setup_of(federation)
        old = federation.keys[stack]
        upcoming = {account: nkeys.generate(nkeys.KeyKind.USER) for account in old.leaf}
        if admit_first:
            say(f"* {csc.stack}: admitting {stack}'s next leaf key(s) beside the current one(s)")
            _apply(csc.main, lambda ports: setup.main_conf(csc.stack, None, ports, {cpc.id: upcoming}))
        federation.keys[stack] = replace(old, leaf=upcoming)  # setup.keys is this dict: renders use the new keys
        state.save(federation)  # keys.json first: a `local restart` from here on brings the CPC up on the new keys
        switched_by = "reload" if versions.leaf_remotes_reload(federation.nats_version) else "restart"
        say(f"* {stack}: switching its leafs to the new key(s) by {switched_by}")
        before = _leaf_connections(csc, cpc)

        def cpc_conf(ports: Mapping[str, int]) -> str:
            return setup.main_conf(stack, csc.main.url("leaf"), ports)

        if switched_by == "reload":
            _apply(cpc.main, cpc_conf)
        else:
            state.write_private(cpc.main.conf, cpc_conf(cpc.main.ports))
            servers.stop(cpc.main)
            _revive(federation, stack, timeout, say)
        _wait_for_new_leafs(federation, csc, cpc, before, timeout)
        say(f"* {csc.stack}: retiring {stack}'s old leaf key(s)")
        _apply(csc.main, lambda ports: setup.main_conf(csc.stack, None, ports))
        return LeafRotation(
            stack,
            {a: k.public_key for a, k in old.leaf.items()},
            {a: k.public_key for a, k in upcoming.items()},
            switched_by,
        )


def _apply(server: Server, render: Callable[[Mapping[str, int]], str]) -> None:
    """Write a running server's new config (rendered on its ports) and reload it. nats-server refuses a reload
    that pins the HTTP port of a server started with `http: -1` (`config reload not supported for HTTPPort:
    old=-1`, measured on 2.12.6; the other ports it records as chosen), which every server `local up` started
    is: such a server reloads a config that leaves its HTTP port at -1, then the file gets the pinned port back
    (for a restart on its own ports; the lock keeps other commands out in between)."""
    state.write_private(server.conf, render(server.ports))
    try:
        servers.reload(server)
    except servers.ReloadRefusedError as exc:
        if "HTTPPort: old=-1" not in str(exc):
            raise
        state.write_private(server.conf, render({k: v for k, v in server.ports.items() if k != "http"}))
        servers.reload(server)
        state.write_private(server.conf, render(server.ports))


def _leaf_connections(csc: LocalCluster, cpc: LocalCluster) -> set[int]:
    """The CSC's leaf connection ids of the CPC's main server: a leaf that signed in again has a new one."""
    leafz = servers.monitor(csc.main, "leafz") or {}
    return {leaf["id"] for leaf in leafz.get("leafs") or [] if leaf.get("name") == cpc.main.name}


def _wait_for_new_leafs(
    federation: Federation, csc: LocalCluster, cpc: LocalCluster, before: set[int], timeout: float
) -> None:
    """Until every leaf of the CPC is a connection made after the switch (so signed in with the new key), and
    every server has its leafs again."""
    want = _leaf_remotes(cpc, set(csc.extra_accounts))

    def probe() -> bool | None:
        now = _leaf_connections(csc, cpc)
        return True if len(now) >= want and not now & before else None

    try:
        servers.wait_for(probe, timeout, f"{cpc.stack}'s leafs on the new key")
    except servers.WaitTimeoutError:
        raise LocalError(
            f"rotate {cpc.stack} --leaf: {csc.main.name} shows {len(_leaf_connections(csc, cpc) - before)} of {want} "
            f"leaf connection(s) of {cpc.main.name} on the new key after {timeout:g} s; last problem in "
            f"{cpc.main.name}'s log: {servers.problem_line(cpc.main)}. keys.json holds the new keys and the CSC admits "
            "old and new ones: fix the cause, then `dsx-bus local restart` what stopped, or start afresh with "
            "`dsx-bus local down` and `dsx-bus local up`"
        ) from None
    wait_for_leafs(federation, timeout, lambda _: None)
