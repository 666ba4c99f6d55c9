"""Faults on a real local federation with file storage: a crashed (kill -9) CSC or CPC loses no acknowledged QoS 1
message either way, persistent sessions resume, and MQTT subscribers that were offline get what they missed."""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import yaml
from natstools import sources_flowing, stream_info

from dsxbus import cli, naming, topology
from dsxbus.local import check, clients, runner, servers, state
from dsxbus.local.state import Federation, LocalCluster


@pytest.fixture(scope="module")
def own_federation(
    tmp_path_factory: pytest.TempPathFactory, make_project: Callable[[Path], Path], nats_version: str
) -> Iterator[Federation]:
    """Its own federation (CSC and CPC a), on file storage: killing its servers must not disturb other modules."""
    root = tmp_path_factory.mktemp("faults")
    project = make_project(root / "project")
    for path in project.glob("Pulumi.*.yaml"):
        document = yaml.safe_load(path.read_text())
        bus = document["config"]["dsx-bus:eventBus"]
        bus["mqttStreams"] = {**bus.get("mqttStreams", {}), "storage": "file"}
        bus["nats"] = {**bus.get("nats", {}), "maxFileStore": "1Gi"}
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    with runner.running_federation(project, root / "run", ["csc", "cpc-a"], say=lambda _: None) as running:
        yield running


def _failures(results: list[clients.Result]) -> list[str]:
    return [f"{r.name}: {r.detail}" for r in results if not r.ok]


SOURCE_RECOVERY = 75.0
"""Measured here: 20-40 s until a CPC's stream source notices the CSC was restarted and re-creates its consumer
(benchmarks/restart_stall.py)."""
BATCH = 20


def _session(cluster: LocalCluster, federation: Federation, pattern: str) -> str:
    """A persistent QoS 1 session subscribed to `pattern`, left offline: its client id."""
    client_id = f"durable-{secrets.token_hex(4)}"
    subscriber = clients.mqtt_admin(cluster, federation, client_id=client_id, clean_session=False)
    try:
        assert subscriber.subscribe(pattern, 1) == 1
    finally:
        subscriber.close()
    return client_id


def _acknowledged(cluster: LocalCluster, federation: Federation, topic: str, numbers: range) -> set[bytes]:
    """QoS 1 publishes to `topic`; the payloads whose PUBACK came back (what the publisher may count as sent)."""
    publisher = clients.mqtt_admin(cluster, federation)
    acked = set()
    try:
        for number in numbers:
            payload = f"{topic}#{number}".encode()
            info = publisher.client.publish(topic, payload, qos=1)
            info.wait_for_publish(clients.TIMEOUT)
            if info.is_published():
                acked.add(payload)
    finally:
        publisher.close()
    return acked


def _received(cluster: LocalCluster, federation: Federation, client_id: str, want: set[bytes]) -> set[bytes]:
    """Resume the persistent session (no new SUBSCRIBE) and collect until `want` arrived or the wait is over."""
    returning = clients.mqtt_admin(cluster, federation, client_id=client_id, clean_session=False)
    got: set[bytes] = set()
    deadline = time.monotonic() + SOURCE_RECOVERY
    try:
        while not want <= got and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                got.add(returning.messages.get(timeout=0.5).payload)
    finally:
        returning.close()
    return got


def _storage(federation: Federation, cluster: LocalCluster, account: str, stream: str) -> str:
    return str(stream_info(federation, cluster, account, stream)["config"]["storage"])


def test_with_mqtt_streams_storage_file_every_stream_and_the_server_store_are_on_file(
    own_federation: Federation,
) -> None:
    csc, cpc = own_federation.csc, own_federation.cluster("a")
    assert _storage(own_federation, csc, "CSC", "$MQTT_msgs") == "file"
    assert _storage(own_federation, csc, naming.cpc_account("a"), topology.cpc_uplink_stream("msgs", "a")) == "file"
    assert _storage(own_federation, csc, "SOURCES", topology.cpc_source_stream("msgs", "a")) == "file"
    assert _storage(own_federation, cpc, "CPC", "$MQTT_sess") == "file"
    jsz = servers.monitor(csc.main, "jsz")
    assert jsz is not None and jsz["config"]["max_storage"] == 2**30  # nats.maxFileStore
    assert jsz["config"]["store_dir"].startswith(str(csc.dir))


@dataclass(frozen=True)
class Crash:
    """One kill -9 of the CSC with QoS 1 traffic both ways, done once per module (its wait is the sources')."""

    old_pid: int
    core_failures: list[str]
    """Core NATS routes failing right after the restart (the leafs are back)."""
    down: set[bytes]
    up: set[bytes]
    got_down: set[bytes]
    got_up: set[bytes]


@pytest.fixture(scope="module")
def csc_crash(own_federation: Federation) -> Crash:
    """Acknowledged before the kill, while the CSC is down (the CPC keeps them) and after its restart; then the
    persistent sessions on the other side resume without subscribing again."""
    csc, cpc = own_federation.csc, own_federation.cluster("a")
    old_pid = csc.main.pid
    tag = secrets.token_hex(3)
    down_session = _session(cpc, own_federation, f"command/crash{tag}/#")
    up_session = _session(csc, own_federation, f"cpc/a/sensor/crash{tag}/#")
    down = _acknowledged(csc, own_federation, f"cpc/a/command/crash{tag}/x", range(BATCH))
    up = _acknowledged(cpc, own_federation, f"sensor/crash{tag}/x", range(BATCH))

    servers.stop(csc.main, grace=0, sig=signal.SIGKILL)
    up |= _acknowledged(cpc, own_federation, f"sensor/crash{tag}/x", range(BATCH, 2 * BATCH))
    runner.restart(own_federation, "csc")  # start on the same ports, streams from its store, wait for leafs
    core = _failures(check.run(own_federation, mqtt=False))
    down |= _acknowledged(csc, own_federation, f"cpc/a/command/crash{tag}/x", range(BATCH, 2 * BATCH))

    got_up = _received(csc, own_federation, up_session, up)
    got_down = _received(cpc, own_federation, down_session, down)
    return Crash(old_pid, core, down, up, got_down, got_up)


def test_with_file_storage_a_killed_csc_loses_no_acknowledged_qos1_message_either_way(csc_crash: Crash) -> None:
    assert len(csc_crash.down) == len(csc_crash.up) == 2 * BATCH  # every publish was acknowledged
    assert not csc_crash.up - csc_crash.got_up, "lost CPC -> CSC"
    assert not csc_crash.down - csc_crash.got_down, "lost CSC -> CPC"


def test_with_file_storage_a_killed_cpc_loses_no_acknowledged_qos1_message_either_way(
    own_federation: Federation,
) -> None:
    csc, cpc = own_federation.csc, own_federation.cluster("a")
    tag = secrets.token_hex(3)
    down_session = _session(cpc, own_federation, f"command/crash{tag}/#")
    up_session = _session(csc, own_federation, f"cpc/a/sensor/crash{tag}/#")
    up = _acknowledged(cpc, own_federation, f"sensor/crash{tag}/x", range(BATCH))

    servers.stop(cpc.main, grace=0, sig=signal.SIGKILL)
    down = _acknowledged(csc, own_federation, f"cpc/a/command/crash{tag}/x", range(BATCH))
    runner.restart(own_federation, cpc.stack)
    up |= _acknowledged(cpc, own_federation, f"sensor/crash{tag}/x", range(BATCH, 2 * BATCH))

    assert len(down) == BATCH and len(up) == 2 * BATCH
    lost_up = up - _received(csc, own_federation, up_session, up)
    lost_down = down - _received(cpc, own_federation, down_session, down)
    assert not lost_up, f"lost CPC -> CSC: {sorted(lost_up)}"
    assert not lost_down, f"lost CSC -> CPC: {sorted(lost_down)}"


def test_after_the_csc_is_killed_and_restarted_leafs_reconnect_and_every_route_passes_again(
    own_federation: Federation, csc_crash: Crash
) -> None:
    """Core NATS is back as soon as the leafs are. QoS 1 and retained messages come back when the stream sources
    have re-created their consumers: a CPC's source notices only when its stall detection fires (10 s interval, then
    backoff); the CSC's uplinks are retried when a leaf connects (2.12.6: ~2 s; 2.15.1 waits for its backoff).
    Until then those messages wait in the streams (benchmarks/restart_stall.py)."""
    assert own_federation.csc.main.pid != csc_crash.old_pid
    for cluster in own_federation.clusters.values():
        for server in cluster.servers:
            assert servers.leaf_count(server) == cluster.expected_leafs[server.name]
    assert not csc_crash.core_failures
    for cpc in own_federation.cpcs:
        flowing = partial(sources_flowing, own_federation, cpc, "CPC", "$MQTT_msgs")
        servers.wait_for(flowing, SOURCE_RECOVERY, f"{cpc.stack}'s source", 0.5)
        for kind in topology.SOURCED_KINDS:
            uplink = partial(
                sources_flowing,
                own_federation,
                own_federation.csc,
                naming.cpc_account(cpc.id),
                topology.cpc_uplink_stream(kind, cpc.id),
            )
            servers.wait_for(uplink, SOURCE_RECOVERY, f"the csc's {kind} uplink from {cpc.stack}", 0.5)
    assert not _failures(check.run(own_federation))


def test_qos1_messages_sent_while_a_persistent_subscriber_is_offline_arrive_when_it_returns(
    own_federation: Federation,
) -> None:
    csc = own_federation.csc
    client_id = f"persistent-{secrets.token_hex(4)}"
    subscriber = clients.mqtt_admin(csc, own_federation, client_id=client_id, clean_session=False)
    assert subscriber.subscribe("test/persist", 1) == 1
    subscriber.close()
    publisher = clients.mqtt_admin(csc, own_federation)
    try:
        sent = [f"offline-{i}".encode() for i in range(3)]
        for payload in sent:
            publisher.publish("test/persist", payload, qos=1)
    finally:
        publisher.close()

    returning = clients.mqtt_admin(csc, own_federation, client_id=client_id, clean_session=False)  # no resubscribe
    try:
        got = [returning.messages.get(timeout=5).payload for _ in sent]
    finally:
        returning.close()

    assert got == sent


def _gone(server: servers.Server) -> bool | None:
    return None if servers.is_running(server) else True


def _local(federation: Federation, *command: str) -> int:
    return cli.main(["--dir", str(federation.project), "local", *command, "--run-dir", str(federation.run_dir)])


def test_a_crashed_cpc_restarted_with_local_restart_is_back_on_its_own_ports_and_keys_and_routes_again(
    own_federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: after a crash the only way back was `down && up`, which changed every port and key."""
    cpc = own_federation.clusters["cpc-a"]
    keys_before = (own_federation.run_dir / state.KEYS).read_bytes()
    ports_before = {s.name: dict(s.ports) for s in cpc.servers}
    for server in cpc.servers:  # its main server and its nats-mtls
        os.kill(server.pid, signal.SIGKILL)
        servers.wait_for(partial(_gone, server), 5, f"{server.name} to die")

    code = _local(own_federation, "restart", "cpc-a")
    restarted = state.load(own_federation.run_dir).clusters["cpc-a"]
    cpc.main, cpc.mtls = restarted.main, restarted.mtls  # so the fixture stops the new processes, not the dead ones

    assert code == 0, capsys.readouterr().err
    assert all(servers.is_running(s) for s in cpc.servers)
    assert {s.name: s.ports for s in restarted.servers} == ports_before
    assert (own_federation.run_dir / state.KEYS).read_bytes() == keys_before
    assert not _failures(check.run(own_federation, mqtt=False))


def test_restart_refuses_a_stack_whose_servers_all_run_naming_their_pids(
    own_federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    pids = {s.pid for s in own_federation.servers()}

    code = _local(own_federation, "restart", "csc")

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: restart csc: every server of it is running (") and "`kill <PID>`" in err
    assert f"(PID {own_federation.csc.main.pid})" in err
    assert {s.pid for s in own_federation.servers()} == pids


def test_restart_of_an_unknown_stack_names_the_stacks_there_are(
    own_federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _local(own_federation, "restart", "cpc-z")

    assert code == 1
    assert "stack 'cpc-z' is not in the federation" in capsys.readouterr().err
