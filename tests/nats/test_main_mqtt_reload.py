"""The main `nats` servers' MQTT (JetStream in the same server, as on the CSC) across a reload.

The chart's reloader reloads them on every ConfigMap change: on the CSC every added or removed CPC and every
cross-layer list change, which change the accounts, not the `mqtt` block. Before 2.15.1 a reload that applies the
`mqtt` options with `max_ack_pending` unset silences held QoS 1 subscriptions
(versions.MQTT_RELOAD_KEEPS_MAX_ACK_PENDING); the main servers' plain MQTT block is applied only when it changed.
"""

from __future__ import annotations

import dataclasses
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from natstools import reload

from dsxbus import naming, natsconf, versions
from dsxbus.local import clients, plan, servers
from dsxbus.topology import Account, Cluster, User

USER = "mqtt-user"
RELOADED = "Reloaded server configuration"
QOS1_WAIT = 2.0
"""Delivered within 0.1 s where it is delivered at all."""


def _tree(tmp_path: Path, *, extra_account: bool = False, memory_consumers: bool = True) -> dict[str, Any]:
    accounts: tuple[Account, ...] = (Account(naming.SYS), Account(naming.CSC, jetstream=True, users=(User(user=USER),)))
    if extra_account:  # what an added CPC or a cross-layer change does to nats.conf: the accounts change
        accounts += (Account("EXTRA", users=(User(user="extra-user"),)),)
    settings = dataclasses.replace(
        plan.settings("nats", str(tmp_path / "js"), mqtt_no_auth_user=USER),
        max_memory_store=2**26,
        max_file_store=2**26,  # MQTT's streams are file streams
        mqtt_consumer_memory_storage=memory_consumers,
    )
    return natsconf.main_tree(Cluster("csc", naming.CSC, accounts, auth=None), settings)


def _write(conf: Path, tree: dict[str, Any], *, rendered_max_ack_pending: bool) -> None:
    mqtt = tree["mqtt"]
    assert mqtt["max_ack_pending"] == natsconf.MQTT_MAX_ACK_PENDING
    if not rendered_max_ack_pending:
        del mqtt["max_ack_pending"]
    conf.write_text(natsconf.render(tree, {}))


@contextmanager
def _main_server(tmp_path: Path, *, rendered_max_ack_pending: bool) -> Iterator[tuple[servers.Server, Path]]:
    conf = tmp_path / "nats.conf"
    _write(conf, _tree(tmp_path), rendered_max_ack_pending=rendered_max_ack_pending)
    server = servers.wait_ready(servers.start("nats", conf, tmp_path / "nats.log"), ("mqtt",))
    try:
        yield server, conf
    finally:
        servers.stop(server)


def _qos1_after_reload(server: servers.Server, conf: Path, tree: dict[str, Any], *, rendered: bool) -> bool:
    """Whether a QoS 1 subscription held across a reload of `conf` rewritten from `tree` receives."""
    held = clients.Mqtt(server.ports["mqtt"])
    held.connect()
    try:
        assert held.subscribe("reload/#", 1) == 1
        _write(conf, tree, rendered_max_ack_pending=rendered)
        reload(server)
        servers.wait_for(lambda: True if RELOADED in server.log.read_text() else None, 2.0, "the reload")
        publisher = clients.Mqtt(server.ports["mqtt"])
        publisher.connect()
        try:
            publisher.publish("reload/x", b"after the reload", qos=1)
        finally:
            publisher.close()
        try:
            held.messages.get(timeout=QOS1_WAIT)
        except queue.Empty:
            return False
        assert held.client.is_connected()
        return True
    finally:
        held.close()


def test_the_main_server_keeps_a_held_qos1_subscription_across_a_reload_that_changes_its_accounts(
    tmp_path: Path,
) -> None:
    with _main_server(tmp_path, rendered_max_ack_pending=True) as (server, conf):
        assert _qos1_after_reload(server, conf, _tree(tmp_path, extra_account=True), rendered=True)


def test_the_main_server_keeps_a_held_qos1_subscription_across_a_reload_that_changes_its_mqtt_block(
    tmp_path: Path,
) -> None:
    with _main_server(tmp_path, rendered_max_ack_pending=True) as (server, conf):
        assert _qos1_after_reload(server, conf, _tree(tmp_path, memory_consumers=False), rendered=True)


def test_without_max_ack_pending_a_reload_that_changes_only_the_accounts_keeps_qos1_on_every_version(
    tmp_path: Path,
) -> None:
    with _main_server(tmp_path, rendered_max_ack_pending=False) as (server, conf):
        assert _qos1_after_reload(server, conf, _tree(tmp_path, extra_account=True), rendered=False)


def test_without_max_ack_pending_a_reload_that_changes_the_mqtt_block_silences_qos1_before_2_15_1(
    tmp_path: Path, nats_version: str
) -> None:
    with _main_server(tmp_path, rendered_max_ack_pending=False) as (server, conf):
        received = _qos1_after_reload(server, conf, _tree(tmp_path, memory_consumers=False), rendered=False)
        assert received is not versions.reload_zeroes_mqtt_max_ack_pending(nats_version)
